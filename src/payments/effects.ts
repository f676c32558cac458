import type { Kysely } from "kysely";
import type { AgreementRow, Database, PaymentRow, RefundRow } from "../db/index.ts";
import { postPaymentSucceeded, postRefundSucceeded } from "../ledger/index.ts";
import { enqueueEvent } from "../notify/index.ts";
import { agreementToWire, paymentToWire, refundToWire } from "./wire.ts";

/**
 * What a state change brings with it, in the same database transaction: the ledger entry and the
 * merchant's notification (the outbox). One business event, one entry, one event: both sides are
 * idempotent on the event's key.
 */
export async function emitPaymentSucceeded(trx: Kysely<Database>, p: PaymentRow, at: Date): Promise<void> {
  await postPaymentSucceeded(trx, {
    payment_id: p.payment_id,
    merchant_id: p.sub_merchant_id ?? p.merchant_id,
    amount: p.amount,
    fee: p.fee ?? 0n,
    channel_id: p.channel_id!,
    network_cost: p.network_cost ?? 0n,
    at,
  });
  await enqueueEvent(trx, { merchant_id: p.merchant_id, type: "payment.succeeded", data: paymentToWire(p), notify_url: p.notify_url, at, dedupe_key: `payment.succeeded:${p.payment_id}` });
}

export async function emitPaymentFailed(trx: Kysely<Database>, p: PaymentRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: p.merchant_id, type: "payment.failed", data: paymentToWire(p), notify_url: p.notify_url, at, dedupe_key: `payment.failed:${p.payment_id}` });
}

/** Posts the refund and answers the fee given back under the merchant's refund fee policy. */
export async function emitRefundSucceeded(trx: Kysely<Database>, r: RefundRow, p: PaymentRow, at: Date): Promise<bigint> {
  const posted = await postRefundSucceeded(trx, { refund_id: r.refund_id, payment_id: r.payment_id, merchant_id: p.sub_merchant_id ?? p.merchant_id, amount: r.amount, channel_id: r.channel_id, at });
  await enqueueEvent(trx, { merchant_id: r.merchant_id, type: "refund.succeeded", data: refundToWire({ ...r, status: "succeeded", succeeded_at: at }), notify_url: p.notify_url, at, dedupe_key: `refund.succeeded:${r.refund_id}` });
  return posted.fee_returned;
}

export async function emitRefundFailed(trx: Kysely<Database>, r: RefundRow, p: PaymentRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: r.merchant_id, type: "refund.failed", data: refundToWire(r), notify_url: p.notify_url, at, dedupe_key: `refund.failed:${r.refund_id}` });
}

async function cardOf(trx: Kysely<Database>, card_id: string) {
  return trx.selectFrom("cards").select(["bank_code", "bank_name", "card_type", "last4"]).where("card_id", "=", card_id).executeTakeFirstOrThrow();
}

export async function emitAgreementSigned(trx: Kysely<Database>, a: AgreementRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: a.merchant_id, type: "agreement.signed", data: agreementToWire(a, await cardOf(trx, a.card_id)), at, dedupe_key: `agreement.signed:${a.agreement_id}` });
}

export async function emitAgreementUnbound(trx: Kysely<Database>, a: AgreementRow, at: Date): Promise<void> {
  await enqueueEvent(trx, { merchant_id: a.merchant_id, type: "agreement.unbound", data: agreementToWire(a, await cardOf(trx, a.card_id)), at, dedupe_key: `agreement.unbound:${a.agreement_id}` });
}
