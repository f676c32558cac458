import { toPage } from "../../db/paging.ts";
import { z } from "zod";
import type { PaymentDeps } from "../../payments/deps.ts";
import * as W from "../../payments/wire.ts";
import { notFound } from "../../kernel/errors.ts";
import { adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";
import { loadMerchant } from "../../merchants/index.ts";
import { recordAudit } from "../../operators/index.ts";
import { createRefund } from "../../payments/refunds.ts";

const AdminPaymentOut = W.PaymentOut.extend({
  merchant_id: z.string(),
  txn_id: z.string(),
  network_txn_id: z.string().nullable(),
  query_attempts: z.number(),
  next_query_at: z.string().nullable(),
  alert: z.boolean(),
});

/** Operators' view of payments: every merchant's, with the network state and the sweeper's alerts. */
export function adminPaymentRoutes(deps: PaymentDeps): RouteDef[] {
  const db = deps.ctx.db;
  const wire = (p: Parameters<typeof W.paymentToWire>[0]) => ({
    ...W.paymentToWire(p),
    merchant_id: p.merchant_id,
    txn_id: p.txn_id,
    network_txn_id: p.network_txn_id,
    query_attempts: p.query_attempts,
    next_query_at: p.next_query_at?.toISOString() ?? null,
    alert: p.alert,
  });
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/payments",
      summary: "Payments of every merchant ID; alert=true lists those whose outcome the network has not told after the whole query schedule",
      tags: ["Admin: payments"],
      query: z.strictObject({
        ...PageQuery,
        merchant_id: z.string().max(64).optional(),
        out_trade_no: z.string().min(1).max(64).optional(),
        status: z.enum(["processing", "succeeded", "failed"]).optional(),
        alert: z.enum(["true", "false"]).optional(),
      }),
      response: listOf(AdminPaymentOut),
      handler: async (i) => {
        let q = db.selectFrom("payments").selectAll().orderBy("payment_id", "desc").limit(i.query.limit + 1);
        if (i.query.merchant_id) q = q.where("merchant_id", "=", i.query.merchant_id);
        if (i.query.out_trade_no) q = q.where("out_trade_no", "=", i.query.out_trade_no);
        if (i.query.status) q = q.where("status", "=", i.query.status);
        if (i.query.alert) q = q.where("alert", "=", i.query.alert === "true");
        if (i.query.cursor) q = q.where("payment_id", "<", i.query.cursor);
        const page = toPage(await q.execute(), i.query.limit, (r) => r.payment_id);
        return { body: { data: page.data.map(wire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/payments/:payment_id",
      summary: "One payment with its network state and refunds",
      tags: ["Admin: payments"],
      params: z.strictObject({ payment_id: z.string().min(1).max(64) }),
      response: AdminPaymentOut.extend({ refunds: z.array(W.RefundOut) }),
      handler: async (i) => {
        const p = await db.selectFrom("payments").selectAll().where("payment_id", "=", i.params.payment_id).executeTakeFirst();
        if (!p) throw notFound("payment");
        const refunds = await db.selectFrom("refunds").selectAll().where("payment_id", "=", p.payment_id).orderBy("refund_id").execute();
        return { body: { ...wire(p), refunds: refunds.map(W.refundToWire) } };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/payments/:payment_id/refunds",
      summary: "Refund part or all of a payment on the merchant's behalf (the console's refund button); same rules and idempotency on out_refund_no as the merchant's own refund",
      tags: ["Admin: payments"],
      params: z.strictObject({ payment_id: z.string().min(1).max(64) }),
      body: W.RefundCreate,
      response: W.RefundOut,
      success_status: 201,
      handler: async (i) => {
        const p = await db.selectFrom("payments").select(["merchant_id"]).where("payment_id", "=", i.params.payment_id).executeTakeFirst();
        if (!p) throw notFound("payment");
        const { row: merchant } = await loadMerchant(db, p.merchant_id);
        const r = await createRefund(deps, merchant, i.params.payment_id, i.body);
        if (r.status === 201) {
          const audit = { operator_id: i.operator.operator_id, action: "payment.refund", target_type: "payment", target_id: i.params.payment_id, before: null, after: W.refundToWire(r.refund), request_id: i.request_id };
          await recordAudit(db, audit, deps.ctx.clock.now());
        }
        return { status: r.status, body: W.refundToWire(r.refund) };
      },
    }),
  ];
}
