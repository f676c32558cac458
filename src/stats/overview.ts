import { sql, type Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { paymentsCreatedIn } from "../db/payments-created.ts";
import { fen, type Fen } from "../kernel/money.ts";
import { assert } from "../kernel/assert.ts";
import { BUCKET_SECONDS, STATS_LIMITS, type Bucket } from "./limits.ts";

/**
 * The console's overview, summed by the database: one GROUP BY per table over the period's rows
 * (a range on created_at: migration 1500; for payments, on its UTC expression: migration 2250), bucketed with date_bin from the period's start, so a
 * bucket starts at `from` plus a whole number of hours or days whatever the time zone. Reads only.
 */
export interface OverviewPeriod {
  from: Date;
  to: Date;
  bucket: Bucket;
}

export interface PaymentCell {
  bucket_start: Date;
  network: string | null;
  count: number;
  succeeded_count: number;
  failed_count: number;
  alert_count: number;
  succeeded_amount: Fen;
  fee_amount: Fen;
  network_cost_amount: Fen;
}

export interface RefundCell {
  bucket_start: Date;
  network: string;
  count: number;
  succeeded_count: number;
  succeeded_amount: Fen;
}

export interface PayoutCell {
  bucket_start: Date;
  rail: string | null;
  status: string;
  count: number;
  amount: Fen;
  fee_amount: Fen;
}

export interface AlertCell {
  bucket_start: Date;
  count: number;
}

export interface OverviewStats {
  bucket_starts: Date[];
  payments: PaymentCell[];
  refunds: RefundCell[];
  payouts: PayoutCell[];
  risk_alerts: AlertCell[];
  open: { risk_alerts: number; reconciliation_exceptions: number; payment_alerts: number; payout_alerts: number };
}

type Db = Kysely<Database>;
type Int = bigint | number | string;
const int = (v: Int): number => Number(v);
const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

export function bucketStarts(period: OverviewPeriod): Date[] {
  const step_ms = BUCKET_SECONDS[period.bucket] * 1000;
  const count = Math.ceil((period.to.getTime() - period.from.getTime()) / step_ms);
  assert(count >= 1 && count <= STATS_LIMITS.buckets_max, `bucket count ${count} out of bounds`);
  return Array.from({ length: count }, (_, i) => new Date(period.from.getTime() + i * step_ms));
}

export async function overviewStats(db: Db, period: OverviewPeriod): Promise<OverviewStats> {
  const bucket_starts = bucketStarts(period);
  const [payments, refunds, payouts, risk_alerts, open] = await Promise.all([
    paymentCells(db, period),
    refundCells(db, period),
    payoutCells(db, period),
    alertCells(db, period),
    openCounts(db),
  ]);
  return { bucket_starts, payments, refunds, payouts, risk_alerts, open };
}

const bin = (p: OverviewPeriod) => sql`date_bin(make_interval(secs => ${BUCKET_SECONDS[p.bucket]}), created_at, ${p.from}::timestamptz)`;
const inPeriod = (p: OverviewPeriod) => sql`created_at >= ${p.from}::timestamptz AND created_at < ${p.to}::timestamptz`;

async function paymentCells(db: Db, p: OverviewPeriod): Promise<PaymentCell[]> {
  const { rows } = await sql<{ b: Date | string; network: string | null; n: Int; ok: Int; failed: Int; alert: Int; amount: Int; fee: Int; cost: Int }>`
    SELECT ${bin(p)} AS b, channel_id AS network,
           count(*)::int8 AS n,
           count(*) FILTER (WHERE status = 'succeeded')::int8 AS ok,
           count(*) FILTER (WHERE status = 'failed')::int8 AS failed,
           count(*) FILTER (WHERE alert)::int8 AS alert,
           coalesce(sum(amount) FILTER (WHERE status = 'succeeded'), 0)::int8 AS amount,
           coalesce(sum(fee) FILTER (WHERE status = 'succeeded'), 0)::int8 AS fee,
           coalesce(sum(network_cost) FILTER (WHERE status = 'succeeded'), 0)::int8 AS cost
      FROM payments WHERE ${paymentsCreatedIn(p.from, p.to)}
     GROUP BY 1, 2 ORDER BY 1, 2`.execute(db);
  return rows.map((r) => ({
    bucket_start: date(r.b),
    network: r.network,
    count: int(r.n),
    succeeded_count: int(r.ok),
    failed_count: int(r.failed),
    alert_count: int(r.alert),
    succeeded_amount: fen(r.amount),
    fee_amount: fen(r.fee),
    network_cost_amount: fen(r.cost),
  }));
}

async function refundCells(db: Db, p: OverviewPeriod): Promise<RefundCell[]> {
  const { rows } = await sql<{ b: Date | string; network: string; n: Int; ok: Int; amount: Int }>`
    SELECT ${bin(p)} AS b, channel_id AS network,
           count(*)::int8 AS n,
           count(*) FILTER (WHERE status = 'succeeded')::int8 AS ok,
           coalesce(sum(amount) FILTER (WHERE status = 'succeeded'), 0)::int8 AS amount
      FROM refunds WHERE ${inPeriod(p)}
     GROUP BY 1, 2 ORDER BY 1, 2`.execute(db);
  return rows.map((r) => ({ bucket_start: date(r.b), network: r.network, count: int(r.n), succeeded_count: int(r.ok), succeeded_amount: fen(r.amount) }));
}

async function payoutCells(db: Db, p: OverviewPeriod): Promise<PayoutCell[]> {
  const { rows } = await sql<{ b: Date | string; rail: string | null; status: string; n: Int; amount: Int; fee: Int }>`
    SELECT ${bin(p)} AS b, rail, status,
           count(*)::int8 AS n,
           coalesce(sum(amount), 0)::int8 AS amount,
           coalesce(sum(fee), 0)::int8 AS fee
      FROM payouts WHERE ${inPeriod(p)}
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`.execute(db);
  return rows.map((r) => ({ bucket_start: date(r.b), rail: r.rail, status: r.status, count: int(r.n), amount: fen(r.amount), fee_amount: fen(r.fee) }));
}

async function alertCells(db: Db, p: OverviewPeriod): Promise<AlertCell[]> {
  const { rows } = await sql<{ b: Date | string; n: Int }>`
    SELECT ${bin(p)} AS b, count(*)::int8 AS n FROM risk_alerts WHERE ${inPeriod(p)} GROUP BY 1 ORDER BY 1`.execute(db);
  return rows.map((r) => ({ bucket_start: date(r.b), count: int(r.n) }));
}

/** What is open now, whenever it was raised; each count stops at open_count_max (a LIMIT inside the count, on the status indexes). */
async function openCounts(db: Db): Promise<OverviewStats["open"]> {
  const cap = STATS_LIMITS.open_count_max;
  const { rows } = await sql<{ risk: Int; exceptions: Int; payments: Int; payouts: Int }>`
    SELECT
      (SELECT count(*) FROM (SELECT 1 FROM risk_alerts WHERE status = 'open' LIMIT ${cap}) x)::int8 AS risk,
      (SELECT count(*) FROM (SELECT 1 FROM reconciliation_exceptions WHERE status = 'open' LIMIT ${cap}) x)::int8 AS exceptions,
      (SELECT count(*) FROM (SELECT 1 FROM payments WHERE status = 'processing' AND alert LIMIT ${cap}) x)::int8 AS payments,
      (SELECT count(*) FROM (SELECT 1 FROM payouts WHERE status = 'processing' AND alert LIMIT ${cap}) x)::int8 AS payouts`.execute(db);
  const row = rows[0]!;
  return { risk_alerts: int(row.risk), reconciliation_exceptions: int(row.exceptions), payment_alerts: int(row.payments), payout_alerts: int(row.payouts) };
}
