import { sql, type Kysely, type RawBuilder } from "kysely";
import { isRail } from "../channels/index.ts";
import type { Database, ExceptionKind, ReconciliationResult } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { newId } from "../kernel/ids.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";

/**
 * Matching, set-based: one join pairs each line with paycore's payment or refund by paycore's
 * order id (echoed by the network), and the network transaction id must agree where paycore
 * knows it. The result of a line is the first that holds:
 *
 *   an exception already recorded for this line and day → its kind (re-runs give the same result)
 *   a refund paycore sent for an exception (`refund` action) → matched (booked by the action)
 *   no paycore record, or a different network txn id     → network_only  (长款)
 *   paycore's record is not succeeded                     → status_mismatch
 *   amounts differ                                        → amount_mismatch
 *   the network's fee differs from the cost paycore booked → fee_mismatch
 *   otherwise                                             → matched
 *
 * Each line is classified once, as its batch is loaded (src/reconciliation/lines.ts: the join
 * runs over the batch on its way into `reconciliation_lines`, which keeps the line's result and
 * paycore's amount). After that, nothing reads a million lines against the payments again: the
 * exceptions come from the few lines not matched (a partial index holds them), and the counts
 * from one scan of the run's lines, where an exception recorded since takes precedence.
 * Nothing is locked; exceptions are unique per channel, day and line.
 */

/** Where the lines come from, as `l`: the run's stored lines, or a batch on its way in (JSON). */
export interface LineSource {
  from: RawBuilder<unknown>;
  where: RawBuilder<unknown>;
}

export function storedLines(reconciliation_id: string, only_unmatched: boolean): LineSource {
  return {
    from: sql`reconciliation_lines l`,
    where: only_unmatched ? sql`l.reconciliation_id = ${reconciliation_id} AND l.result <> 'matched'` : sql`l.reconciliation_id = ${reconciliation_id}`,
  };
}

/**
 * A batch on its way in: UTF-8 bytes of a JSON array of objects with one-letter keys (n line_no,
 * k kind, x network txn id, t txn id, o order id, a amount, f fee, s settlement amount), sent as
 * one binary parameter (bytea on both engines) and unpacked by `json_to_recordset`.
 */
export function batchLines(batch_json: Uint8Array): LineSource {
  return {
    from: sql`(SELECT b.n AS line_no, b.k AS kind, b.x AS network_txn_id, b.t AS txn_id, b.o AS order_id, b.a AS amount, b.f AS fee, b.s AS settle_amount
      FROM json_to_recordset(convert_from(${batch_json}::bytea, 'UTF8')::json)
        AS b(n integer, k text, x text, t text, o text, a int8, f int8, s int8)) l`,
    where: sql`true`,
  };
}

const NETWORK_CLASSIFIED = (lines: LineSource, channel_id: string, date: string) => sql`
  SELECT l.line_no, l.kind, l.network_txn_id, l.txn_id, l.order_id, l.amount, l.fee, l.settle_amount,
    CASE WHEN l.kind = 'pay' THEN l.amount ELSE -l.amount END AS network_signed,
    p.payment_id, f.refund_id, NULL::text AS payout_id,
    coalesce(p.status, f.status) AS platform_status,
    coalesce(p.amount, f.amount, a.network_amount) AS platform_amount,
    CASE WHEN l.kind = 'pay' THEN p.network_cost ELSE 0::int8 END AS platform_fee,
    CASE
      WHEN e.kind IS NOT NULL THEN e.kind
      WHEN a.exception_id IS NOT NULL THEN 'matched'
      WHEN (p.payment_id IS NULL AND f.refund_id IS NULL)
        OR coalesce(p.network_txn_id, f.network_txn_id, l.network_txn_id) <> l.network_txn_id THEN 'network_only'
      WHEN coalesce(p.status, f.status) <> 'succeeded' THEN 'status_mismatch'
      WHEN coalesce(p.amount, f.amount) <> l.amount THEN 'amount_mismatch'
      WHEN l.kind = 'pay' AND p.network_cost IS DISTINCT FROM l.fee THEN 'fee_mismatch'
      ELSE 'matched'
    END AS result
  FROM ${lines.from}
  LEFT JOIN payments p ON l.kind = 'pay' AND p.payment_id = l.order_id AND p.channel_id = ${channel_id}
  LEFT JOIN refunds f ON l.kind = 'refund' AND f.refund_id = l.order_id AND f.channel_id = ${channel_id}
  LEFT JOIN reconciliation_exceptions e
    ON e.channel_id = ${channel_id} AND e.settlement_date = ${date} AND e.match_key = l.network_txn_id
  LEFT JOIN reconciliation_exceptions a
    ON l.kind = 'refund' AND a.exception_id = l.order_id AND a.action_txn_id = l.txn_id AND a.channel_id = ${channel_id}
  WHERE ${lines.where}`;

/**
 * A CNAPS rail's file against paycore's payouts: a line is a credit the rail settled, paired with
 * the payout by the end-to-end id paycore sent (its payout id) on that rail, and the rail's message
 * id must be the payout's. A payout the rail returned later still settled that day. The rails
 * charge no per-item fee paycore books: a line with a fee is a fee mismatch.
 */
const RAIL_CLASSIFIED = (lines: LineSource, channel_id: string, date: string) => sql`
  SELECT l.line_no, l.kind, l.network_txn_id, l.txn_id, l.order_id, l.amount, l.fee, l.settle_amount,
    l.amount AS network_signed,
    NULL::text AS payment_id, NULL::text AS refund_id, o.payout_id,
    o.status AS platform_status,
    o.amount AS platform_amount,
    0::int8 AS platform_fee,
    CASE
      WHEN e.kind IS NOT NULL THEN e.kind
      WHEN o.payout_id IS NULL OR o.msg_id IS DISTINCT FROM l.network_txn_id THEN 'network_only'
      WHEN o.status NOT IN ('succeeded', 'returned') THEN 'status_mismatch'
      WHEN o.amount <> l.amount THEN 'amount_mismatch'
      WHEN l.fee <> 0 THEN 'fee_mismatch'
      ELSE 'matched'
    END AS result
  FROM ${lines.from}
  LEFT JOIN payouts o ON o.payout_id = l.order_id AND o.rail = ${channel_id}
  LEFT JOIN reconciliation_exceptions e
    ON e.channel_id = ${channel_id} AND e.settlement_date = ${date} AND e.match_key = l.network_txn_id
  WHERE ${lines.where}`;

export function classified(lines: LineSource, channel_id: string, date: string): RawBuilder<unknown> {
  return isRail(channel_id) ? RAIL_CLASSIFIED(lines, channel_id, date) : NETWORK_CLASSIFIED(lines, channel_id, date);
}

export interface ResultTotals {
  result: ReconciliationResult | "buffered";
  item_count: bigint;
  network_amount: bigint;
  platform_amount: bigint;
}

interface Unmatched {
  line_no: number;
  kind: "pay" | "refund";
  network_txn_id: string;
  txn_id: string;
  order_id: string;
  amount: bigint;
  fee: bigint;
  settle_amount: bigint;
  network_signed: bigint;
  payment_id: string | null;
  refund_id: string | null;
  payout_id: string | null;
  platform_status: string | null;
  platform_amount: bigint | null;
  platform_fee: bigint | null;
  result: ExceptionKind;
}

/**
 * Per result: how many lines and their signed amounts (refunds negative), from the results kept
 * with the lines; an exception recorded for a line since (this run's, or an earlier run's) gives
 * the line its kind, as in the classification.
 */
export async function lineTotals(db: Kysely<Database>, run: RunKey): Promise<ResultTotals[]> {
  const rows = await sql<{ result: ReconciliationResult; item_count: bigint; network_amount: bigint; platform_amount: bigint }>`
    SELECT coalesce(e.kind, l.result) AS result, count(*)::int8 AS item_count,
      coalesce(sum(CASE WHEN l.kind = 'pay' THEN l.amount ELSE -l.amount END), 0)::int8 AS network_amount,
      coalesce(sum(CASE WHEN l.kind = 'pay' THEN l.platform_amount ELSE -l.platform_amount END), 0)::int8 AS platform_amount
    FROM reconciliation_lines l
    LEFT JOIN reconciliation_exceptions e
      ON e.channel_id = ${run.channel_id} AND e.settlement_date = ${run.settlement_date} AND e.match_key = l.network_txn_id
    WHERE l.reconciliation_id = ${run.reconciliation_id}
    GROUP BY 1`.execute(db);
  return rows.rows;
}

/**
 * Classifies the run's stored lines again (a re-run with the file already loaded: paycore's
 * records may have moved since). Writes only the lines whose result or amount changed.
 */
export async function reclassifyLines(db: Kysely<Database>, run: RunKey): Promise<void> {
  await sql`
    UPDATE reconciliation_lines t SET result = c.result, platform_amount = c.platform_amount
    FROM (${classified(storedLines(run.reconciliation_id, false), run.channel_id, run.settlement_date)}) c
    WHERE t.reconciliation_id = ${run.reconciliation_id} AND t.line_no = c.line_no
      AND (t.result, t.platform_amount) IS DISTINCT FROM (c.result, c.platform_amount)`.execute(db);
}

export interface RunKey {
  reconciliation_id: string;
  channel_id: string;
  settlement_date: string;
}

/** Records an exception for every line that is not matched and has none yet. Answers how many were new. */
export async function recordLineExceptions(db: Kysely<Database>, run: RunKey, at: Date): Promise<number> {
  const rows = await sql<Unmatched>`
    SELECT c.* FROM (${classified(storedLines(run.reconciliation_id, true), run.channel_id, run.settlement_date)}) c
    WHERE c.result <> 'matched'
      AND NOT EXISTS (SELECT 1 FROM reconciliation_exceptions x
        WHERE x.channel_id = ${run.channel_id} AND x.settlement_date = ${run.settlement_date} AND x.match_key = c.network_txn_id)
    ORDER BY c.line_no
    LIMIT ${RECONCILIATION_LIMITS.exceptions_per_run_max + 1}`.execute(db);
  assert(rows.rows.length <= RECONCILIATION_LIMITS.exceptions_per_run_max, `more than ${RECONCILIATION_LIMITS.exceptions_per_run_max} exceptions in one file`);
  let created = 0;
  for (let i = 0; i < rows.rows.length; i += RECONCILIATION_LIMITS.line_batch_max / 10) {
    const batch = rows.rows.slice(i, i + RECONCILIATION_LIMITS.line_batch_max / 10).map((u) => ({
      exception_id: newId("rex", at.getTime()),
      reconciliation_id: run.reconciliation_id,
      channel_id: run.channel_id,
      settlement_date: run.settlement_date,
      kind: u.result,
      match_key: u.network_txn_id,
      status: "open" as const,
      payment_id: u.result === "network_only" ? null : u.payment_id,
      refund_id: u.result === "network_only" ? null : u.refund_id,
      payout_id: u.result === "network_only" ? null : u.payout_id,
      network_txn_id: u.network_txn_id,
      txn_id: u.txn_id,
      record_kind: u.kind,
      network_settle: u.settle_amount,
      platform_amount: u.result === "network_only" ? null : u.platform_amount,
      network_amount: u.amount,
      platform_fee: u.result === "network_only" ? null : u.platform_fee,
      network_fee: u.fee,
      platform_status: u.result === "network_only" ? null : u.platform_status,
      created_at: at,
      updated_at: at,
    }));
    const inserted = await db
      .insertInto("reconciliation_exceptions")
      .values(batch)
      .onConflict((oc) => oc.columns(["channel_id", "settlement_date", "match_key"]).doNothing())
      .returning("exception_id")
      .execute();
    created += inserted.length;
  }
  return created;
}
