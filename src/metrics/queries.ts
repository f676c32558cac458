import { sql } from "kysely";
import type { Ctx } from "../context.ts";
import { METRICS_LIMITS } from "./limits.ts";

export interface Backlog {
  processing: number;
  due: number;
  alerts: number;
  oldest_age_s: number;
}

export interface Backlogs {
  payment: Backlog;
  refund: Backlog;
  outbox: { pending: number; due: number; oldest_due_s: number; failed_events: number };
  /** Amounts the ledger applier has not folded into the accounts' balances yet. */
  ledger_unapplied: number;
}

interface BacklogRow {
  processing: bigint;
  due: bigint;
  alerts: bigint;
  oldest: Date | null;
}

const seconds = (now: Date, then: Date | null) => (then ? Math.max(0, (now.getTime() - new Date(then).getTime()) / 1000) : 0);

/**
 * What the sweeper and the notifier still have to do, read at scrape time. Each count stops at
 * METRICS_LIMITS.backlog_count_max rows (a LIMIT inside the count), so a scrape during an outage
 * costs the same as any other; the oldest ages use the partial indexes on processing rows and
 * pending deliveries.
 */
export async function readBacklogs(ctx: Ctx): Promise<Backlogs> {
  const now = ctx.clock.now();
  const [payment, refund, outbox, ledger_unapplied] = await Promise.all([transactionBacklog(ctx, "payments", now), transactionBacklog(ctx, "refunds", now), outboxBacklog(ctx, now), unappliedBacklog(ctx)]);
  return { payment, refund, outbox, ledger_unapplied };
}

async function transactionBacklog(ctx: Ctx, table: "payments" | "refunds", now: Date): Promise<Backlog> {
  const cap = METRICS_LIMITS.backlog_count_max;
  const t = sql.table(table);
  const { rows } = await sql<BacklogRow>`
    SELECT
      (SELECT count(*) FROM (SELECT 1 FROM ${t} WHERE status = 'processing' LIMIT ${cap}) x) AS processing,
      (SELECT count(*) FROM (SELECT 1 FROM ${t} WHERE status = 'processing' AND next_query_at <= ${now} LIMIT ${cap}) x) AS due,
      (SELECT count(*) FROM (SELECT 1 FROM ${t} WHERE status = 'processing' AND alert LIMIT ${cap}) x) AS alerts,
      (SELECT min(created_at) FROM ${t} WHERE status = 'processing') AS oldest`.execute(ctx.db);
  const row = rows[0]!;
  return { processing: Number(row.processing), due: Number(row.due), alerts: Number(row.alerts), oldest_age_s: seconds(now, row.oldest) };
}

async function outboxBacklog(ctx: Ctx, now: Date): Promise<Backlogs["outbox"]> {
  const cap = METRICS_LIMITS.backlog_count_max;
  const { rows } = await sql<{ pending: bigint; due: bigint; oldest_due: Date | null; failed: bigint }>`
    SELECT
      (SELECT count(*) FROM (SELECT 1 FROM notify_deliveries WHERE status = 'pending' LIMIT ${cap}) x) AS pending,
      (SELECT count(*) FROM (SELECT 1 FROM notify_deliveries WHERE status = 'pending' AND next_attempt_at <= ${now} LIMIT ${cap}) x) AS due,
      (SELECT min(next_attempt_at) FROM notify_deliveries WHERE status = 'pending') AS oldest_due,
      (SELECT count(*) FROM (SELECT 1 FROM notify_events WHERE status = 'failed' LIMIT ${cap}) x) AS failed`.execute(ctx.db);
  const row = rows[0]!;
  return { pending: Number(row.pending), due: Number(row.due), oldest_due_s: seconds(now, row.oldest_due), failed_events: Number(row.failed) };
}

/**
 * Rows of ledger_unapplied (capped). The applier folds them every 200 ms, so a count that stays
 * high means it is failing (docs/metrics.md): the balances read through the view stay exact, but
 * each read sums a growing table.
 */
async function unappliedBacklog(ctx: Ctx): Promise<number> {
  const { rows } = await sql<{ n: bigint }>`SELECT count(*) AS n FROM (SELECT 1 FROM ledger_unapplied LIMIT ${METRICS_LIMITS.backlog_count_max}) x`.execute(ctx.db);
  return Number(rows[0]!.n);
}
