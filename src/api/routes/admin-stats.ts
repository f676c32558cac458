import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { PaycoreError } from "../../kernel/errors.ts";
import { fenToWire, type Fen } from "../../kernel/money.ts";
import { BUCKET_SECONDS, STATS_LIMITS, overviewStats, type OverviewPeriod, type OverviewStats } from "../../stats/index.ts";
import { adminRoute, type RouteDef } from "../route.ts";

const Amount = z.number().int().describe("Fen");
const PaymentSums = {
  count: z.number().int().describe("Payments created (every status)"),
  succeeded_count: z.number().int(),
  failed_count: z.number().int(),
  alert_count: z.number().int().describe("Whose outcome the network had not told after the whole query schedule"),
  succeeded_amount: Amount,
  fee_amount: Amount.describe("Fen: merchant fees of the succeeded payments"),
  network_cost_amount: Amount.describe("Fen: what the networks charged for the succeeded payments"),
};
const RefundSums = { count: z.number().int(), succeeded_count: z.number().int(), succeeded_amount: Amount };
const PayoutSums = {
  rail: z.string().nullable().describe("null while no rail can take it"),
  status: z.string(),
  count: z.number().int(),
  amount: Amount,
  fee_amount: Amount,
};
const Network = z.string().nullable().describe("The network (channel) that carried it; null for a payment no network took");

const OverviewOut = z.object({
  from: z.string(),
  to: z.string(),
  bucket: z.enum(["hour", "day"]),
  bucket_starts: z.array(z.string()).describe("Every bucket of the period, empty ones included: from, from + 1 bucket, …"),
  payments: z.array(z.object({ bucket_start: z.string(), network: Network, ...PaymentSums })).describe("Non-empty buckets per network"),
  refunds: z.array(z.object({ bucket_start: z.string(), network: z.string(), ...RefundSums })),
  payouts: z.array(z.object({ bucket_start: z.string(), ...PayoutSums })),
  risk_alerts: z.array(z.object({ bucket_start: z.string(), count: z.number().int() })).describe("Risk alerts raised per bucket"),
  totals: z.object({
    payments: z.object(PaymentSums),
    refunds: z.object(RefundSums),
    by_network: z.array(z.object({ network: Network, ...PaymentSums, refund_count: z.number().int(), refunded_amount: Amount })),
    payouts: z.array(z.object(PayoutSums)).describe("Per rail and status"),
    risk_alerts: z.number().int(),
  }),
  open: z
    .object({ risk_alerts: z.number().int(), reconciliation_exceptions: z.number().int(), payment_alerts: z.number().int(), payout_alerts: z.number().int() })
    .describe(`Open now, whenever raised (each counted up to ${STATS_LIMITS.open_count_max})`),
});

const Query = z.strictObject({
  from: z.iso.datetime({ offset: true }).describe("Start of the period (inclusive), RFC 3339"),
  to: z.iso.datetime({ offset: true }).describe("End of the period (exclusive), RFC 3339"),
  bucket: z.enum(["hour", "day"]).default("hour").describe("Buckets start at `from` and last an hour or 24 hours"),
});

const bad = (field: string, message: string) => new PaycoreError("invalid_request", `query.${field}: ${message}`, `query.${field}`);

function checkPeriod(q: z.infer<typeof Query>): OverviewPeriod {
  const from = new Date(q.from);
  const to = new Date(q.to);
  if (to.getTime() <= from.getTime()) throw bad("to", "must be after from");
  if (to.getTime() - from.getTime() > STATS_LIMITS.span_days_max * 86_400_000) throw bad("to", `the period may cover at most ${STATS_LIMITS.span_days_max} days`);
  const buckets = Math.ceil((to.getTime() - from.getTime()) / (BUCKET_SECONDS[q.bucket] * 1000));
  if (buckets > STATS_LIMITS.buckets_max) throw bad("bucket", `the period would have ${buckets} buckets, at most ${STATS_LIMITS.buckets_max}: use bucket=day`);
  return { from, to, bucket: q.bucket };
}

const sum = <T>(rows: T[], f: (r: T) => Fen): Fen => rows.reduce((a, r) => a + f(r), 0n);
const count = <T>(rows: T[], f: (r: T) => number): number => rows.reduce((a, r) => a + f(r), 0);

type PaymentRows = OverviewStats["payments"];
function paymentSums(rows: PaymentRows) {
  return {
    count: count(rows, (r) => r.count),
    succeeded_count: count(rows, (r) => r.succeeded_count),
    failed_count: count(rows, (r) => r.failed_count),
    alert_count: count(rows, (r) => r.alert_count),
    succeeded_amount: fenToWire(sum(rows, (r) => r.succeeded_amount)),
    fee_amount: fenToWire(sum(rows, (r) => r.fee_amount)),
    network_cost_amount: fenToWire(sum(rows, (r) => r.network_cost_amount)),
  };
}

function totals(s: OverviewStats): z.infer<typeof OverviewOut>["totals"] {
  const networks = [...new Set([...s.payments.map((r) => r.network), ...s.refunds.map((r) => r.network)])].sort((a, b) => (a ?? "").localeCompare(b ?? ""));
  const by_network = networks.map((network) => {
    const refunds = s.refunds.filter((r) => r.network === network);
    return {
      network,
      ...paymentSums(s.payments.filter((r) => r.network === network)),
      refund_count: count(refunds, (r) => r.count),
      refunded_amount: fenToWire(sum(refunds, (r) => r.succeeded_amount)),
    };
  });
  const payout_keys = [...new Map(s.payouts.map((r) => [`${r.rail}/${r.status}`, { rail: r.rail, status: r.status }])).values()];
  const payouts = payout_keys.map(({ rail, status }) => {
    const rows = s.payouts.filter((r) => r.rail === rail && r.status === status);
    return { rail, status, count: count(rows, (r) => r.count), amount: fenToWire(sum(rows, (r) => r.amount)), fee_amount: fenToWire(sum(rows, (r) => r.fee_amount)) };
  });
  return {
    payments: paymentSums(s.payments),
    refunds: { count: count(s.refunds, (r) => r.count), succeeded_count: count(s.refunds, (r) => r.succeeded_count), succeeded_amount: fenToWire(sum(s.refunds, (r) => r.succeeded_amount)) },
    by_network,
    payouts,
    risk_alerts: count(s.risk_alerts, (r) => r.count),
  };
}

function toWire(period: OverviewPeriod, s: OverviewStats): z.infer<typeof OverviewOut> {
  const at = (d: Date) => d.toISOString();
  return {
    from: at(period.from),
    to: at(period.to),
    bucket: period.bucket,
    bucket_starts: s.bucket_starts.map(at),
    payments: s.payments.map((r) => ({
      ...r,
      bucket_start: at(r.bucket_start),
      succeeded_amount: fenToWire(r.succeeded_amount),
      fee_amount: fenToWire(r.fee_amount),
      network_cost_amount: fenToWire(r.network_cost_amount),
    })),
    refunds: s.refunds.map((r) => ({ ...r, bucket_start: at(r.bucket_start), succeeded_amount: fenToWire(r.succeeded_amount) })),
    payouts: s.payouts.map((r) => ({ ...r, bucket_start: at(r.bucket_start), amount: fenToWire(r.amount), fee_amount: fenToWire(r.fee_amount) })),
    risk_alerts: s.risk_alerts.map((r) => ({ bucket_start: at(r.bucket_start), count: r.count })),
    totals: totals(s),
    open: s.open,
  };
}

/** The console's overview: a period's payments, refunds, payouts and alerts, summed by the database. */
export function adminStatsRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/stats/overview",
      summary: `Payments (per network), refunds, payouts (per rail and status) and risk alerts of a period, per hour or day, summed by the database; at most ${STATS_LIMITS.span_days_max} days and ${STATS_LIMITS.buckets_max} buckets`,
      tags: ["Admin: stats"],
      query: Query,
      response: OverviewOut,
      handler: async (i) => {
        const period = checkPeriod(i.query);
        return { body: toWire(period, await overviewStats(ctx.db, period)) };
      },
    }),
  ];
}
