import { sql, type Kysely } from "kysely";
import { isRail } from "../channels/index.ts";
import type { Database } from "../db/index.ts";
import { paymentsCreatedIn } from "../db/payments-created.ts";
import { assert } from "../kernel/assert.ts";
import { newId } from "../kernel/ids.ts";
import { addDays, businessDayClosesAt, loadCalendar, maturityDate } from "../ledger/index.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";
import type { RunKey } from "./match.ts";
import type { ReconciliationSettings } from "./settings.ts";

/**
 * Platform-only records (短款): paycore's payments and refunds (on a rail: payouts) that succeeded on the channel during
 * the network's day D (between the cut-offs of D-1 and D, by paycore's creation time) and appear
 * in no file of the channel. Those of the last `near_cutoff_minutes` before D's cut-off are
 * buffered until `buffer_business_days` working days after D: the network may have booked them on
 * D+1 and the next file often has them. Any run of the channel releases due buffered records:
 * seen in a later file → resolved (`matched_late`); still missing → an open exception.
 */
export function networkDayWindow(date: string, cutoff_minutes: number): { from: Date; to: Date } {
  return { from: businessDayClosesAt(addDays(date, -1), cutoff_minutes), to: businessDayClosesAt(date, cutoff_minutes) };
}

interface Missing {
  kind: "pay" | "refund" | "payout";
  reference_id: string;
  amount: bigint;
  network_cost: bigint | null;
  network_txn_id: string | null;
  txn_id: string;
  status: string;
  created_at: Date;
}

/**
 * A rail's: payouts it settled for paycore during the day (by the time paycore learnt it) that no
 * file of the rail lists. Returned ones count: they settled first.
 */
async function missingPayouts(db: Kysely<Database>, run: RunKey, window: { from: Date; to: Date }): Promise<Missing[]> {
  const rows = await sql<Missing>`
    SELECT 'payout' AS kind, o.payout_id AS reference_id, o.amount, 0::int8 AS network_cost, o.msg_id AS network_txn_id,
      o.msg_id AS txn_id, o.status, o.succeeded_at AS created_at
    FROM payouts o
    WHERE o.rail = ${run.channel_id} AND o.status IN ('succeeded', 'returned') AND o.succeeded_at >= ${window.from} AND o.succeeded_at < ${window.to}
      AND NOT EXISTS (SELECT 1 FROM reconciliation_lines l WHERE l.order_id = o.payout_id)
    LIMIT ${RECONCILIATION_LIMITS.exceptions_per_run_max + 1}`.execute(db);
  assert(rows.rows.length <= RECONCILIATION_LIMITS.exceptions_per_run_max, "too many platform-only payouts in one day");
  return rows.rows;
}

async function missingRecords(db: Kysely<Database>, run: RunKey, window: { from: Date; to: Date }): Promise<Missing[]> {
  if (isRail(run.channel_id)) return missingPayouts(db, run, window);
  const rows = await sql<Missing>`
    SELECT 'pay' AS kind, p.payment_id AS reference_id, p.amount, p.network_cost, p.network_txn_id, p.txn_id, p.status, p.created_at
    FROM payments p
    WHERE p.channel_id = ${run.channel_id} AND p.status = 'succeeded' AND ${paymentsCreatedIn(window.from, window.to, "p")}
      AND NOT EXISTS (SELECT 1 FROM reconciliation_lines l WHERE l.order_id = p.payment_id)
    UNION ALL
    SELECT 'refund', r.refund_id, r.amount, 0::int8, r.network_txn_id, r.txn_id, r.status, r.created_at
    FROM refunds r
    WHERE r.channel_id = ${run.channel_id} AND r.status = 'succeeded' AND r.created_at >= ${window.from} AND r.created_at < ${window.to}
      AND NOT EXISTS (SELECT 1 FROM reconciliation_lines l WHERE l.order_id = r.refund_id)
    LIMIT ${RECONCILIATION_LIMITS.exceptions_per_run_max + 1}`.execute(db);
  assert(rows.rows.length <= RECONCILIATION_LIMITS.exceptions_per_run_max, "too many platform-only records in one day");
  return rows.rows;
}

/** Records platform-only exceptions of the run's day (buffered near the cut-off). Answers how many were new. */
export async function recordPlatformOnly(db: Kysely<Database>, run: RunKey, settings: ReconciliationSettings, at: Date): Promise<number> {
  const window = networkDayWindow(run.settlement_date, settings.cutoff_minutes);
  const near_from_ms = window.to.getTime() - settings.near_cutoff_minutes * 60_000;
  const calendar = await loadCalendar(db);
  const due_date = maturityDate(calendar, run.settlement_date, settings.buffer_business_days);
  const missing = await missingRecords(db, run, window);
  let created = 0;
  for (let i = 0; i < missing.length; i += 500) {
    const values = missing.slice(i, i + 500).map((m) => {
      const buffered = settings.buffer_business_days > 0 && m.created_at.getTime() >= near_from_ms;
      return {
        exception_id: newId("rex", at.getTime()),
        reconciliation_id: run.reconciliation_id,
        channel_id: run.channel_id,
        settlement_date: run.settlement_date,
        kind: "platform_only" as const,
        match_key: m.reference_id,
        status: buffered ? ("buffered" as const) : ("open" as const),
        payment_id: m.kind === "pay" ? m.reference_id : null,
        refund_id: m.kind === "refund" ? m.reference_id : null,
        payout_id: m.kind === "payout" ? m.reference_id : null,
        network_txn_id: m.network_txn_id,
        txn_id: m.txn_id,
        record_kind: m.kind === "refund" ? ("refund" as const) : ("pay" as const),
        platform_amount: m.amount,
        platform_fee: m.network_cost,
        platform_status: m.status,
        due_date: buffered ? due_date : null,
        created_at: at,
        updated_at: at,
      };
    });
    const inserted = await db
      .insertInto("reconciliation_exceptions")
      .values(values)
      .onConflict((oc) => oc.columns(["channel_id", "settlement_date", "match_key"]).doNothing())
      .returning("exception_id")
      .execute();
    created += inserted.length;
  }
  return created;
}

/**
 * Buffered records of the channel: those a later file has are resolved as matched late; those
 * due by `through_date` and still missing become open exceptions. Answers both counts.
 */
export async function releaseBuffer(db: Kysely<Database>, channel_id: string, through_date: string, at: Date): Promise<{ matched_late: number; opened: number }> {
  const matched = await sql<{ exception_id: string }>`
    UPDATE reconciliation_exceptions x
    SET status = 'resolved', resolution = 'matched_late', resolved_by = 'system', resolved_at = ${at}, updated_at = ${at},
      resolution_note = 'the next statement file has it'
    WHERE x.channel_id = ${channel_id} AND x.status = 'buffered'
      AND EXISTS (SELECT 1 FROM reconciliation_lines l WHERE l.order_id = x.match_key)
    RETURNING x.exception_id`.execute(db);
  const opened = await sql<{ exception_id: string }>`
    UPDATE reconciliation_exceptions
    SET status = 'open', updated_at = ${at}
    WHERE exception_id IN (
      SELECT exception_id FROM reconciliation_exceptions
      WHERE channel_id = ${channel_id} AND status = 'buffered' AND due_date <= ${through_date}
      LIMIT ${RECONCILIATION_LIMITS.buffer_release_max})
    RETURNING exception_id`.execute(db);
  return { matched_late: matched.rows.length, opened: opened.rows.length };
}
