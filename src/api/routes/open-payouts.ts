import { z } from "zod";
import { createPayout, createPayoutBatch, getPayout, getPayoutBatch, handleRailPush, listDeposits, listPayouts, PAYOUT_LIMITS, PayoutWire as W, type PayoutDeps } from "../../payouts/index.ts";
import { merchantRoute, publicRoute, type RouteDef } from "../route.ts";
import { listOf } from "./common.ts";

/** Business payouts and deposits of the calling merchant ID (docs/payouts.md). */
export function openPayoutRoutes(pd: PayoutDeps): RouteDef[] {
  const db = pd.ctx.db;
  return [
    merchantRoute({
      method: "POST",
      url: "/v1/payouts",
      summary: "Pay a business account over HVPS/BEPS/IBPS/bank-direct; amount + fee are reserved from available. queued = waiting for a rail to open (route_reason says which and when)",
      tags: ["Payouts"],
      body: W.PayoutCreate,
      response: W.PayoutOut,
      success_status: 201,
      handler: async (i) => {
        const r = await createPayout(pd, i.merchant.merchant_id, i.body);
        return { status: r.status, body: W.payoutToWire(r.payout) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/payouts/:payout_id",
      summary: "Get a payout",
      tags: ["Payouts"],
      params: z.strictObject({ payout_id: z.string().min(1).max(64) }),
      response: W.PayoutOut,
      handler: async (i) => ({ body: W.payoutToWire(await getPayout(db, i.merchant.merchant_id, i.params.payout_id)) }),
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/payouts",
      summary: "List payouts, newest first",
      tags: ["Payouts"],
      query: W.PayoutListQuery,
      response: listOf(W.PayoutOut),
      handler: async (i) => {
        const page = await listPayouts(db, { ...i.query, merchant_id: i.merchant.merchant_id });
        return { body: { data: page.data.map(W.payoutToWire), next_cursor: page.next_cursor } };
      },
    }),
    merchantRoute({
      method: "POST",
      url: "/v1/payout-batches",
      summary: `Up to ${PAYOUT_LIMITS.batch_lines_max} payouts in one request: each line is validated and reserved on its own; a bad line is rejected alone`,
      description:
        "Each line has the fields of POST /v1/payouts and becomes a payout of its own (its own reservation of amount + fee, its own route). " +
        "A line that is bad input or that the balance does not cover is answered in `lines[i].error` (naming the field as payouts.<i>.<field>) and moves nothing; the other lines go. " +
        `The body may be up to ${PAYOUT_LIMITS.batch_body_bytes_max} bytes. A repeat with the same out_batch_no and body answers the batch (200); another body answers duplicate_out_trade_no.`,
      tags: ["Payouts"],
      body: W.PayoutBatchCreate,
      response: W.PayoutBatchOut,
      success_status: 201,
      body_limit_bytes: PAYOUT_LIMITS.batch_body_bytes_max,
      errors: ["duplicate_out_trade_no"],
      handler: async (i) => {
        const r = await createPayoutBatch(pd, i.merchant.merchant_id, i.body);
        return { status: r.status, body: W.batchToWire(r.view) };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/payout-batches/:batch_id",
      summary: "A payout batch: counts per status and each line's payout as it is now, or why the line was rejected",
      tags: ["Payouts"],
      params: z.strictObject({ batch_id: z.string().min(1).max(64) }),
      response: W.PayoutBatchOut,
      handler: async (i) => ({ body: W.batchToWire(await getPayoutBatch(db, i.merchant.merchant_id, i.params.batch_id)) }),
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/deposits",
      summary: "Deposits into the reserve account for this merchant ID: credited when the payer is the entity itself (票款一致), otherwise returned",
      tags: ["Payouts"],
      query: W.DepositListQuery,
      response: listOf(W.DepositOut),
      handler: async (i) => {
        const page = await listDeposits(db, { ...i.query, merchant_id: i.merchant.merchant_id });
        return { body: { data: page.data.map(W.depositToWire), next_cursor: page.next_cursor } };
      },
    }),
  ];
}

/** What the CNAPS rails push: batch results, returns, incoming credits (signed; not for merchants). */
export function railCallbackRoutes(pd: PayoutDeps): RouteDef[] {
  return [
    publicRoute({
      method: "POST",
      url: "/callbacks/channels/cnaps",
      summary: "CNAPS rail messages: pacs.002 results, pacs.004 returns, camt.054 incoming credits (signed by the rails)",
      tags: ["Network callbacks"],
      produces: "text/plain",
      handler: async (i) => {
        const answer = await handleRailPush(pd, i.request.raw_body ?? "");
        return { status: answer.status, body: answer.body, content_type: "text/plain; charset=utf-8" };
      },
    }),
  ];
}
