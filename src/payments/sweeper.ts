import { sql } from "kysely";
import type { PaymentRow, RefundRow } from "../db/index.ts";
import { callChannel, type PaymentDeps } from "./deps.ts";
import { applyPaymentOutcome, applyRefundOutcome } from "./outcomes.ts";
import { sendPayment } from "./payments.ts";
import { sendRefund } from "./refunds.ts";
import { retryDueInvitationSms } from "../campaigns/invitation-sms.ts";
import { sweepPayouts } from "../payouts/sweeper.ts";

/**
 * Brings every `processing` payment and refund to a final state by asking the network, on the
 * back-off schedule (1, 2, 4, 8, 16, 32 s, then every minute, then an alert). A transaction the
 * network has no record of was never received (the process died before or during the call): it
 * is sent again with the same transaction id, which the network deduplicates, so there is
 * exactly one debit. Claims are leased, so several paycore processes can sweep together.
 */
export const SWEEP_LIMITS = { batch_max: 50, lease_ms: 30_000, interval_ms: 500, sign_requests_batch_max: 500 } as const;

export interface Sweeper {
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

export function startSweeper(deps: PaymentDeps, options: { interval_ms?: number; autostart?: boolean } = {}): Sweeper {
  let running: Promise<number> | null = null;
  let stopped = false;
  const runOnce = async () => {
    while (running) await running;
    running = sweepOnce(deps).finally(() => (running = null));
    return running;
  };
  const timer =
    options.autostart === false
      ? null
      : setInterval(() => {
          if (!running && !stopped) runOnce().catch((err: Error) => deps.ctx.log.error({ err: err.message }, "sweep failed"));
        }, options.interval_ms ?? SWEEP_LIMITS.interval_ms);
  timer?.unref();
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearInterval(timer);
      while (running) await running;
    },
  };
}

async function sweepOnce(deps: PaymentDeps): Promise<number> {
  const payments = await claimDue(deps, "payments");
  for (const p of payments) await sweepPayment(deps, p as PaymentRow).catch((err: Error) => deps.ctx.log.warn({ payment_id: p.payment_id, err: err.message }, "payment sweep failed"));
  const refunds = await claimDue(deps, "refunds");
  for (const r of refunds) await sweepRefund(deps, r as RefundRow).catch((err: Error) => deps.ctx.log.warn({ refund_id: r.refund_id, err: err.message }, "refund sweep failed"));
  await expireSignRequests(deps);
  if (deps.payouts) await sweepPayouts(deps.payouts).catch((err: Error) => deps.ctx.log.warn({ err: err.message }, "payout sweep failed"));
  await retryDueInvitationSms(deps).catch((err: Error) => deps.ctx.log.warn({ err: err.message }, "campaign SMS retry failed"));
  return payments.length + refunds.length;
}

async function claimDue(deps: PaymentDeps, table: "payments" | "refunds") {
  const now = deps.ctx.clock.now();
  const lease_until = new Date(now.getTime() + SWEEP_LIMITS.lease_ms);
  const key = table === "payments" ? "payment_id" : "refund_id";
  const rows = await sql<PaymentRow | RefundRow>`
    UPDATE ${sql.table(table)} SET next_query_at = ${lease_until}
    WHERE ${sql.ref(key)} IN (
      SELECT ${sql.ref(key)} FROM ${sql.table(table)}
      WHERE status = 'processing' AND next_query_at <= ${now}
      ORDER BY next_query_at LIMIT ${SWEEP_LIMITS.batch_max}
      FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(deps.ctx.db);
  return rows.rows as (PaymentRow & RefundRow)[];
}

async function sweepPayment(deps: PaymentDeps, p: PaymentRow): Promise<void> {
  const q = await callChannel(deps, p.channel_id!, (a) => a.query({ txn_id: p.txn_id }));
  if (q.status === "not_found") {
    await sendPayment(deps, p, "query");
    return;
  }
  await applyPaymentOutcome(deps, p, q, "query");
}

async function sweepRefund(deps: PaymentDeps, r: RefundRow): Promise<void> {
  const q = await callChannel(deps, r.channel_id, (a) => a.query({ txn_id: r.txn_id }));
  if (q.status === "not_found") {
    await sendRefund(deps, r, "query");
    return;
  }
  await applyRefundOutcome(deps, r.refund_id, q, "query");
}

/** Sign requests whose time is up stop taking codes. */
async function expireSignRequests(deps: PaymentDeps): Promise<void> {
  const now = deps.ctx.clock.now();
  await sql`UPDATE sign_requests SET status = 'expired', updated_at = ${now}
    WHERE sign_request_id IN (
      SELECT sign_request_id FROM sign_requests
      WHERE status IN ('otp_sent', 'applying') AND expires_at < ${now}
      LIMIT ${SWEEP_LIMITS.sign_requests_batch_max})`.execute(deps.ctx.db);
}
