import type { Kysely } from "kysely";
import type { MoneyResult, QueryResult } from "../channels/types.ts";
import type { Database, PaymentRow, RefundRow } from "../db/index.ts";
import { computePaymentFee } from "../ledger/index.ts";
import { channelCostFen, type ChannelView } from "../routing/index.ts";
import { publishOutcome } from "../kernel/observe.ts";
import type { PaymentDeps } from "./deps.ts";
import { emitPaymentFailed, emitPaymentSucceeded, emitRefundFailed, emitRefundSucceeded } from "./effects.ts";
import { assertTransition, nextQueryDelayMs, PAYMENT_TRANSITIONS, REFUND_TRANSITIONS } from "./states.ts";

/** How long a recorded intent waits before the sweeper asks the network about it. */
export const INTENT_GRACE_MS = 10_000;
/** After the query schedule is spent: keep asking, slowly, while operators look (alert). */
export const ALERT_QUERY_INTERVAL_MS = 10 * 60_000;

type Answer = MoneyResult | Exclude<QueryResult, { status: "not_found" }>;

/**
 * A message the network refused as a message (signature, format, replay) was not processed as a
 * transaction; but a resend of a transaction it already took can be refused as a replay. Either
 * way the refusal says nothing about the money: the query decides.
 */
function money(result: Answer): Answer {
  if (result.status === "failed" && result.reason === "message_rejected") {
    return { status: "pending", cause: "bad_response", network_code: result.network_code, message: result.message };
  }
  return result;
}

function networkTxnId(result: Answer): string | null {
  return result.status === "succeeded" ? result.network_txn_id : null;
}

/**
 * Records what the network said about a payment. Final outcomes happen once: the row is locked
 * and only a `processing` payment changes; a second report of the same outcome changes nothing.
 */
export async function applyPaymentOutcome(deps: PaymentDeps, payment_id: string, answer: Answer, source: "pay" | "query" | "notify"): Promise<PaymentRow> {
  const now = deps.ctx.clock.now();
  const result = money(answer);
  // Read before the transaction: inside it, only `trx` may touch the database.
  const views = result.status === "succeeded" ? await deps.channels.views() : [];
  let made_final = false;
  const row = await deps.ctx.db.transaction().execute(async (trx) => {
    const p = await trx.selectFrom("payments").selectAll().where("payment_id", "=", payment_id).forUpdate().executeTakeFirstOrThrow();
    if (p.status !== "processing") {
      if ((result.status === "succeeded" && p.status === "failed") || (result.status === "failed" && p.status === "succeeded")) {
        deps.ctx.log.error({ payment_id, recorded: p.status, network: result.status, source }, "network outcome contradicts the recorded final state: reconciliation must look");
      }
      return p;
    }
    switch (result.status) {
      case "succeeded":
        made_final = true;
        return succeedPayment(trx, p, result, views, now);
      case "failed": {
        assertTransition(PAYMENT_TRANSITIONS, "payment", p.status, "failed");
        made_final = true;
        const failed = { status: "failed" as const, network_state: "final" as const, failure_code: result.reason, failure_message: result.message.slice(0, 200), failed_at: now, next_query_at: null, updated_at: now };
        const row = await trx.updateTable("payments").set(failed).where("payment_id", "=", payment_id).returningAll().executeTakeFirstOrThrow();
        await emitPaymentFailed(trx, row, now);
        return row;
      }
      case "pending":
        return trx.updateTable("payments").set(pendingSchedule(p, source, now)).where("payment_id", "=", payment_id).returningAll().executeTakeFirstOrThrow();
    }
  });
  if (made_final) announceFinal("payment", row, now);
  return row;
}

/** Announced after the commit, by the one call that made the row final (metrics count it once). */
function announceFinal(kind: "payment" | "refund", row: PaymentRow | RefundRow, now: Date): void {
  if (row.status === "processing") return;
  publishOutcome({ kind, channel_id: row.channel_id, status: row.status, created_at: row.created_at, final_at: now });
}

async function succeedPayment(trx: Kysely<Database>, p: PaymentRow, result: Extract<Answer, { status: "succeeded" }>, views: ChannelView[], now: Date): Promise<PaymentRow> {
  assertTransition(PAYMENT_TRANSITIONS, "payment", p.status, "succeeded");
  const fee = await computePaymentFee(trx, p.sub_merchant_id ?? p.merchant_id, p.amount);
  const stated_cost = "fee_fen" in result ? result.fee_fen : null;
  const view = views.find((c) => c.channel_id === p.channel_id);
  const estimated = view ? channelCostFen(view, p.amount) : 0n;
  const network_cost = stated_cost ?? (estimated > p.amount ? p.amount : estimated);
  const row = await trx
    .updateTable("payments")
    .set({ status: "succeeded", network_state: "final", fee: fee.fee, network_cost, network_txn_id: networkTxnId(result), succeeded_at: now, next_query_at: null, updated_at: now })
    .where("payment_id", "=", p.payment_id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await emitPaymentSucceeded(trx, row, now);
  return row;
}

function pendingSchedule(p: Pick<PaymentRow, "query_attempts">, source: "pay" | "query" | "notify", now: Date) {
  const attempts = source === "query" ? p.query_attempts + 1 : p.query_attempts;
  const delay = nextQueryDelayMs(attempts);
  return {
    network_state: "sent" as const,
    query_attempts: attempts,
    next_query_at: new Date(now.getTime() + (delay ?? ALERT_QUERY_INTERVAL_MS)),
    alert: delay === null,
    updated_at: now,
  };
}

/** The same for a refund; a failed refund gives its amount back to what can be refunded. */
export async function applyRefundOutcome(deps: PaymentDeps, refund_id: string, answer: Answer, source: "refund" | "query" | "notify"): Promise<RefundRow> {
  const now = deps.ctx.clock.now();
  const result = money(answer);
  let made_final = false;
  const row = await deps.ctx.db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom("refunds").selectAll().where("refund_id", "=", refund_id).forUpdate().executeTakeFirstOrThrow();
    if (r.status !== "processing") return r;
    const p = await trx.selectFrom("payments").selectAll().where("payment_id", "=", r.payment_id).forUpdate().executeTakeFirstOrThrow();
    switch (result.status) {
      case "succeeded": {
        assertTransition(REFUND_TRANSITIONS, "refund", r.status, "succeeded");
        made_final = true;
        const fee_returned = await emitRefundSucceeded(trx, r, p, now);
        await trx.updateTable("payments").set({ refunded_amount: p.refunded_amount + r.amount, updated_at: now }).where("payment_id", "=", p.payment_id).execute();
        return trx
          .updateTable("refunds")
          .set({ status: "succeeded", network_state: "final", fee_returned, network_txn_id: networkTxnId(result), succeeded_at: now, next_query_at: null, updated_at: now })
          .where("refund_id", "=", refund_id)
          .returningAll()
          .executeTakeFirstOrThrow();
      }
      case "failed": {
        assertTransition(REFUND_TRANSITIONS, "refund", r.status, "failed");
        made_final = true;
        const row = await trx
          .updateTable("refunds")
          .set({ status: "failed", network_state: "final", failure_code: result.reason, failure_message: result.message.slice(0, 200), next_query_at: null, updated_at: now })
          .where("refund_id", "=", refund_id)
          .returningAll()
          .executeTakeFirstOrThrow();
        await emitRefundFailed(trx, row, p, now);
        return row;
      }
      case "pending":
        return trx.updateTable("refunds").set(pendingSchedule(r, source === "refund" ? "pay" : source, now)).where("refund_id", "=", refund_id).returningAll().executeTakeFirstOrThrow();
    }
  });
  if (made_final) announceFinal("refund", row, now);
  return row;
}
