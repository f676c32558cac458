import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database, NotifyEventType } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { InvariantError, notFound } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { LIMITS } from "../kernel/limits.ts";
import { cachedMerchant } from "../merchants/index.ts";
import { NOTIFY_LIMITS } from "./limits.ts";

export type EventType = NotifyEventType;

/** docs/notifications.md: the only event types there are. */
export const EVENT_TYPES = [
  "payment.succeeded",
  "payment.failed",
  "refund.succeeded",
  "refund.failed",
  "agreement.signed",
  "agreement.unbound",
  "payout.succeeded",
  "payout.failed",
  "payout.returned",
  "deposit.credited",
] as const satisfies readonly EventType[];

export interface EventInput {
  merchant_id: string;
  type: EventType;
  /** The object the event is about, as the Open API answers it (amounts in fen; bigint is fine). */
  data: Record<string, unknown>;
  /** Where to POST it (a payment's notify_url); absent or null = the merchant ID's default URL. */
  notify_url?: string | null;
  /** When the state change happened: the event's `created_at` and its first delivery time. */
  at: Date;
  /**
   * One business event, one notification: a second call with the same key for the same merchant
   * ID returns the first event (e.g. `payment.succeeded:pay_…`).
   */
  dedupe_key?: string;
}

/**
 * The transactional outbox. Call it with the transaction that commits the state change: the
 * event (and its first delivery) exists if and only if that change committed. Nothing is sent
 * here; the notifier picks the delivery up after the commit.
 */
export async function enqueueEvent(trx: Kysely<Database>, input: EventInput): Promise<{ event_id: string; created: boolean }> {
  assert(trx.isTransaction, "enqueueEvent must run inside the transaction of the state change it announces");
  const data_json = checkInput(input);
  // The merchant ID's default URL from cached configuration; a repeat is found by the insert's
  // conflict on the dedupe key below (one statement on the common path).
  const merchant = await cachedMerchant(trx, input.merchant_id);
  if (!merchant) throw notFound("merchant");
  const url = input.notify_url ?? merchant.notify_url;
  const event_id = newId("evt", input.at.getTime());
  const inserted = await trx
    .insertInto("notify_events")
    .values({
      event_id,
      merchant_id: input.merchant_id,
      type: input.type,
      data: data_json,
      notify_url: input.notify_url ?? null,
      dedupe_key: input.dedupe_key ?? null,
      status: url ? "pending" : "no_url",
      created_at: input.at,
      delivered_at: null,
      updated_at: input.at,
    })
    .onConflict((oc) => oc.columns(["merchant_id", "dedupe_key"]).doNothing())
    .returning("event_id")
    .executeTakeFirst();
  if (!inserted) {
    // This key was enqueued before (a repeat), or by another transaction just now.
    const existing = await findByDedupeKey(trx, input.merchant_id, input.dedupe_key!, input.type);
    assert(existing, "a dedupe conflict must leave the other event visible");
    return { event_id: existing, created: false };
  }
  if (url) await insertDelivery(trx, { event_id, merchant_id: input.merchant_id, url, origin: "initial", at: input.at });
  return { event_id, created: true };
}

/** What eventWithin answers: the arguments of eventWithinCtes and whether a first delivery is written. */
export interface EventWithin {
  with_delivery: boolean;
  args: unknown[];
}

/** How many arguments eventWithinCtes takes. */
export function eventArity(with_delivery: boolean): number {
  return with_delivery ? 9 : 7;
}

/**
 * enqueueEvent's writes for the caller's own statement on `db` (eventWithinCtes), so a state
 * change and its event commit in one statement.
 */
export async function eventWithin(db: Kysely<Database>, input: EventInput): Promise<EventWithin> {
  const data_json = checkInput(input);
  const merchant = await cachedMerchant(db, input.merchant_id);
  if (!merchant) throw notFound("merchant");
  const url = input.notify_url ?? merchant.notify_url;
  const event_id = newId("evt", input.at.getTime());
  const args: unknown[] = [event_id, input.merchant_id, input.type, data_json, input.notify_url ?? null, input.dedupe_key ?? null, input.at];
  if (url) args.push(newId("dlv", input.at.getTime()), url);
  return { with_delivery: Boolean(url), args };
}

/**
 * enqueueEvent as parts of the caller's own statement (common table expressions `ev` and `ev_dl`):
 * the event and its first delivery are written only if `only_if` holds when that statement runs.
 * A repeat of the dedupe key writes nothing (the first event stands). The text depends only on
 * `with_delivery`; every argument (eventWithin's `args`) is a parameter, so a caller can build and
 * compile it once (src/db/template.ts).
 */
export function eventWithinCtes(with_delivery: boolean, only_if: RawBuilder<unknown>, args: readonly unknown[]): RawBuilder<unknown> {
  assert(args.length === eventArity(with_delivery), `eventWithinCtes takes ${eventArity(with_delivery)} arguments: ${args.length}`);
  const [event_id, merchant_id, type, data_json, notify_url, dedupe_key, at, delivery_id, url] = args;
  const event = sql`ev AS (
    INSERT INTO notify_events (event_id, merchant_id, type, data, notify_url, dedupe_key, status, created_at, delivered_at, updated_at)
    SELECT ${event_id}::text, ${merchant_id}::text, ${type}::text, ${data_json}::jsonb, ${notify_url}::text, ${dedupe_key}::text,
           ${sql.lit(with_delivery ? "pending" : "no_url")}, ${at}::timestamptz, NULL, ${at}::timestamptz
     WHERE ${only_if}
    ON CONFLICT (merchant_id, dedupe_key) DO NOTHING RETURNING event_id, merchant_id, created_at)`;
  if (!with_delivery) return event;
  const delivery = sql`ev_dl AS (
    INSERT INTO notify_deliveries (delivery_id, event_id, merchant_id, url, origin, status, attempt_count, next_attempt_at, lease_until, created_at, finished_at, updated_at)
    SELECT ${delivery_id}::text, ev.event_id, ev.merchant_id, ${url}::text, 'initial', 'pending', 0, ev.created_at, NULL, ev.created_at, NULL, ev.created_at
      FROM ev)`;
  return sql.join([event, delivery]);
}

export async function insertDelivery(
  trx: Kysely<Database>,
  d: { event_id: string; merchant_id: string; url: string; origin: "initial" | "redeliver"; at: Date },
): Promise<string> {
  const delivery_id = newId("dlv", d.at.getTime());
  await trx
    .insertInto("notify_deliveries")
    .values({
      delivery_id,
      event_id: d.event_id,
      merchant_id: d.merchant_id,
      url: d.url,
      origin: d.origin,
      status: "pending",
      attempt_count: 0,
      next_attempt_at: d.at,
      lease_until: null,
      created_at: d.at,
      finished_at: null,
      updated_at: d.at,
    })
    .execute();
  return delivery_id;
}

async function findByDedupeKey(trx: Kysely<Database>, merchant_id: string, dedupe_key: string, type: EventType): Promise<string | null> {
  const row = await trx
    .selectFrom("notify_events")
    .select(["event_id", "type"])
    .where("merchant_id", "=", merchant_id)
    .where("dedupe_key", "=", dedupe_key)
    .executeTakeFirst();
  if (!row) return null;
  if (row.type !== type) throw new InvariantError(`dedupe key ${dedupe_key} was used for ${row.type}, now for ${type}`);
  return row.event_id;
}

/** A producer's mistake is a bug in paycore, not bad input: it fails loudly. Answers the data as JSON. */
function checkInput(input: EventInput): string {
  assert((EVENT_TYPES as readonly string[]).includes(input.type), `unknown event type ${String(input.type)}`);
  assert(input.at instanceof Date && !Number.isNaN(input.at.getTime()), "event time must be a valid Date");
  if (input.dedupe_key !== undefined) {
    assert(input.dedupe_key.length >= 1 && input.dedupe_key.length <= NOTIFY_LIMITS.dedupe_key_chars_max, `dedupe_key must be 1..${NOTIFY_LIMITS.dedupe_key_chars_max} characters`);
  }
  if (input.notify_url) {
    assert(input.notify_url.length <= LIMITS.url_chars_max && /^https?:\/\//.test(input.notify_url), "notify_url must be an http(s) URL");
  }
  const json = eventDataJson(input.data);
  assert(Buffer.byteLength(json, "utf8") <= NOTIFY_LIMITS.event_data_bytes_max, `event data is larger than ${NOTIFY_LIMITS.event_data_bytes_max} bytes`);
  return json;
}

/** JSON of the event data: bigint amounts become JSON numbers (exact, or it throws), Dates RFC 3339. */
export function eventDataJson(data: Record<string, unknown>): string {
  assert(data !== null && typeof data === "object" && !Array.isArray(data), "event data must be an object");
  return JSON.stringify(data, (_key, v: unknown) => {
    if (typeof v !== "bigint") return v;
    assert(v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER), `bigint ${v} does not fit a JSON number exactly`);
    return Number(v);
  });
}
