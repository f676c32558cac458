import { z } from "zod";
import { checkNotifyUrl } from "../../notify/index.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import { createPayment, listPayments, readPayment } from "../../payments/payments.ts";
import { booksOwner } from "./open-settlement.ts";
import { createRefund, getRefund } from "../../payments/refunds.ts";
import * as W from "../../payments/wire.ts";
import { merchantRoute, type RouteDef } from "../route.ts";
import { listOf } from "./common.ts";

const PaymentId = z.strictObject({ payment_id: z.string().min(1).max(64) });

export function openPaymentRoutes(deps: PaymentDeps): RouteDef[] {
  const db = deps.ctx.db;
  return [
    merchantRoute({
      method: "POST",
      url: "/v1/payments",
      summary: "Pay with an agreement. processing = outcome not known yet; it becomes final by itself and a notification follows",
      tags: ["Payments"],
      body: W.PaymentCreate,
      response: W.PaymentOut,
      success_status: 201,
      // The intent's statement claims the nonce: one commit fewer per payment (docs/performance.md).
      defer_nonce: true,
      handler: async (i) => {
        checkNotifyUrl(deps.ctx.settings, i.body.notify_url, "notify_url");
        const r = await createPayment(deps, i.merchant.merchant, i.body, i.merchant.nonce ?? null, i.merchant.recheck);
        return { status: r.status, body: W.paymentToWire(r.payment) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/payments/:payment_id",
      summary: "Get a payment",
      tags: ["Payments"],
      params: PaymentId,
      response: W.PaymentOut,
      handler: async (i) => ({ body: W.paymentToWire(await readPayment(db, i.merchant.merchant_id, i.params.payment_id)) }),
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/payments",
      summary: "List payments, newest first",
      tags: ["Payments"],
      query: W.PaymentListQuery,
      response: listOf(W.PaymentOut),
      handler: async (i) => {
        const sub = i.query.sub_merchant_id ? await booksOwner(deps.ctx, i.merchant.merchant_id, i.query.sub_merchant_id) : undefined;
        const page = await listPayments(db, i.merchant.merchant_id, { ...i.query, sub_merchant_id: sub === i.merchant.merchant_id ? undefined : sub });
        return { body: { data: page.data.map(W.paymentToWire), next_cursor: page.next_cursor } };
      },
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/payments/:payment_id/refunds",
      summary: "Refund part or all of a payment; refunds never add up to more than the payment",
      tags: ["Payments"],
      params: PaymentId,
      body: W.RefundCreate,
      response: W.RefundOut,
      success_status: 201,
      handler: async (i) => {
        const r = await createRefund(deps, i.merchant.merchant, i.params.payment_id, i.body);
        return { status: r.status, body: W.refundToWire(r.refund) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/refunds/:refund_id",
      summary: "Get a refund",
      tags: ["Payments"],
      params: z.strictObject({ refund_id: z.string().min(1).max(64) }),
      response: W.RefundOut,
      handler: async (i) => ({ body: W.refundToWire(await getRefund(db, i.merchant.merchant_id, i.params.refund_id)) }),
    }),
  ];
}
