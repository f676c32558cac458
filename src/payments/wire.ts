import { z } from "zod";
import { CardWire } from "../agreements/card-input.ts";
import type { AgreementRow, CardRow, PaymentRow, RefundRow } from "../db/index.ts";
import { LIMITS } from "../kernel/limits.ts";
import { fenToWire } from "../kernel/money.ts";
import { fenWire } from "../kernel/money-wire.ts";

/** Wire schemas of the agreement-payment Open API (docs/merchant-api.md, docs/api-conventions.md): validation and OpenAPI from one source. */

const outNo = z.string().regex(/^[A-Za-z0-9_\-.:]{1,64}$/, "1..64 of letters, digits, _ - . :");
const userRef = z.string().min(1).max(LIMITS.user_ref_chars_max);
const amount = fenWire(1);
const httpUrl = z.url({ protocol: /^https?$/ }).max(LIMITS.url_chars_max);
const metadata = z
  .record(z.string().max(40), z.union([z.string().max(500), z.number(), z.boolean(), z.null()]))
  .refine((m) => Object.keys(m).length <= 20 && JSON.stringify(m).length <= LIMITS.metadata_bytes_max, "at most 20 keys and 4 KiB");

export const SignStart = z.strictObject({ out_request_no: outNo, user_ref: userRef, card: CardWire });
export const SignConfirm = z.strictObject({ sign_request_id: z.string().min(1).max(64), otp: z.string().regex(/^\d{4,8}$/, "4 to 8 digits") });
export const SignResend = z.strictObject({ sign_request_id: z.string().min(1).max(64) });

export const PaymentFields = {
  out_trade_no: outNo,
  amount,
  currency: z.literal("CNY"),
  description: z.string().trim().min(1).max(LIMITS.description_chars_max),
  notify_url: httpUrl.optional(),
  sub_merchant_id: z.string().min(1).max(64).optional(),
  metadata: metadata.optional(),
};
export const PaymentCreate = z.strictObject({ ...PaymentFields, agreement_id: z.string().min(1).max(64) });
export const SignAndPay = z.strictObject({ ...PaymentFields, user_ref: userRef, card: CardWire, out_request_no: outNo.optional() });
export const RefundCreate = z.strictObject({ out_refund_no: outNo, amount, reason: z.string().trim().max(128).optional() });

export const PaymentListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(LIMITS.page_size_max).default(LIMITS.page_size_default),
  cursor: z.string().min(1).max(64).optional(),
  out_trade_no: outNo.optional(),
  status: z.enum(["processing", "succeeded", "failed"]).optional(),
  created_from: z.iso.datetime({ offset: true }).optional(),
  created_to: z.iso.datetime({ offset: true }).optional(),
  sub_merchant_id: z.string().min(1).max(64).optional().describe("Only the payments made for this sub-merchant"),
});
export const AgreementListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(LIMITS.page_size_max).default(LIMITS.page_size_default),
  cursor: z.string().min(1).max(64).optional(),
  user_ref: userRef.optional(),
  status: z.enum(["active", "unbound"]).optional(),
});

export type SignStartInput = z.infer<typeof SignStart>;
export type PaymentCreateInput = z.infer<typeof PaymentCreate>;
export type SignAndPayInput = z.infer<typeof SignAndPay>;
export type RefundCreateInput = z.infer<typeof RefundCreate>;

// ---- answers ----

export const AgreementOut = z.object({
  agreement_id: z.string(),
  status: z.enum(["active", "unbound"]),
  user_ref: z.string(),
  card: z.object({ bank_code: z.string(), bank_name: z.string(), card_type: z.enum(["debit", "credit"]), last4: z.string() }),
  created_at: z.string(),
  unbound_at: z.string().nullable(),
});

export const SignStartOut = z.object({
  sign_request_id: z.string(),
  status: z.enum(["otp_sent", "already_signed"]),
  agreement_id: z.string().nullable(),
  otp_sent_to: z.string().nullable(),
  warnings: z.array(z.string()),
});

export const PaymentOut = z.object({
  payment_id: z.string(),
  out_trade_no: z.string(),
  agreement_id: z.string(),
  amount: z.number(),
  currency: z.literal("CNY"),
  fee: z.number().nullable(),
  status: z.enum(["processing", "succeeded", "failed"]),
  failure_code: z.string().nullable(),
  failure_message: z.string().nullable(),
  channel: z.string().nullable(),
  route_reason: z.string().nullable(),
  sub_merchant_id: z.string().nullable(),
  description: z.string(),
  metadata: z.unknown(),
  created_at: z.string(),
  succeeded_at: z.string().nullable(),
  refunded_amount: z.number(),
});

export const RefundOut = z.object({
  refund_id: z.string(),
  payment_id: z.string(),
  out_refund_no: z.string(),
  amount: z.number(),
  status: z.enum(["processing", "succeeded", "failed"]),
  failure_code: z.string().nullable(),
  reason: z.string().nullable(),
  created_at: z.string(),
  succeeded_at: z.string().nullable(),
});

export function agreementToWire(a: AgreementRow, card: Pick<CardRow, "bank_code" | "bank_name" | "card_type" | "last4">) {
  return {
    agreement_id: a.agreement_id,
    status: a.status,
    user_ref: a.user_ref,
    card: { bank_code: card.bank_code, bank_name: card.bank_name, card_type: card.card_type, last4: card.last4 },
    created_at: a.created_at.toISOString(),
    unbound_at: a.unbound_at?.toISOString() ?? null,
  };
}

export function paymentToWire(p: PaymentRow) {
  return {
    payment_id: p.payment_id,
    out_trade_no: p.out_trade_no,
    agreement_id: p.agreement_id,
    amount: fenToWire(p.amount),
    currency: p.currency,
    fee: p.fee === null ? null : fenToWire(p.fee),
    status: p.status,
    failure_code: p.failure_code,
    failure_message: p.failure_message,
    channel: p.channel_id,
    route_reason: p.route_reason,
    sub_merchant_id: p.sub_merchant_id,
    description: p.description,
    metadata: p.metadata ?? null,
    created_at: p.created_at.toISOString(),
    succeeded_at: p.succeeded_at?.toISOString() ?? null,
    refunded_amount: fenToWire(p.refunded_amount),
  };
}

export function refundToWire(r: RefundRow) {
  return {
    refund_id: r.refund_id,
    payment_id: r.payment_id,
    out_refund_no: r.out_refund_no,
    amount: fenToWire(r.amount),
    status: r.status,
    failure_code: r.failure_code,
    reason: r.reason,
    created_at: r.created_at.toISOString(),
    succeeded_at: r.succeeded_at?.toISOString() ?? null,
  };
}
