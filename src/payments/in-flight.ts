import type { Kysely } from "kysely";
import type { Database, PaymentRow } from "../db/index.ts";

/**
 * Payments whose network call is in flight in this process, by the network and `txn_id`.
 *
 * The network notifies the result of a debit at the moment it answers the call, so the
 * notification nearly always arrives while the caller is still recording the answer. A
 * notification that finds its payment here waits for that caller instead of racing it: the
 * outcome is then applied once, and the notification costs no statement. When the caller ends
 * without a final outcome (the answer was pending, or it failed), the notification applies its own
 * outcome as before. Another process's notification does not see this map: it takes the
 * database path (a read, and a conditional update that skips a locked row).
 *
 * One map per database handle (tests run several apps in one process). Bounded by the requests in
 * flight; past `in_flight_max` a call is simply not registered (its notification takes the
 * database path).
 */
const IN_FLIGHT_LIMITS = { in_flight_max: 10_000 } as const;

const by_db = new WeakMap<Kysely<Database>, Map<string, Promise<PaymentRow | null>>>();

function key(channel_id: string, txn_id: string): string {
  return `${channel_id}\n${txn_id}`;
}

function mapOf(db: Kysely<Database>): Map<string, Promise<PaymentRow | null>> {
  let map = by_db.get(db);
  if (!map) {
    map = new Map();
    by_db.set(db, map);
  }
  return map;
}

/** Runs `send` (the network call and the recording of its answer) registered as in flight. */
export async function whileInFlight(db: Kysely<Database>, channel_id: string, txn_id: string, send: () => Promise<PaymentRow>): Promise<PaymentRow> {
  const map = mapOf(db);
  const k = key(channel_id, txn_id);
  if (map.has(k) || map.size >= IN_FLIGHT_LIMITS.in_flight_max) return send();
  const running = send();
  map.set(
    k,
    running.catch(() => null),
  );
  try {
    return await running;
  } finally {
    map.delete(k);
  }
}

/**
 * The payment as the in-flight call in this process recorded it, once that call ends; null when
 * no call for this transaction is in flight here, or it ended with an error.
 */
export async function awaitInFlight(db: Kysely<Database>, channel_id: string, txn_id: string): Promise<PaymentRow | null> {
  const running = by_db.get(db)?.get(key(channel_id, txn_id));
  return running ? running : null;
}
