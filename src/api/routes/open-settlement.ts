import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { PaycoreError, notFound } from "../../kernel/errors.ts";
import { fenToWire } from "../../kernel/money.ts";
import { isIsoDate } from "../../ledger/index.ts";
import { listSettlements, statementCsv, type SettlementView } from "../../settlement/index.ts";
import { merchantRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const IsoDate = z.string().refine(isIsoDate, "must be a date YYYY-MM-DD");

export const SettlementOut = z.object({
  settlement_id: z.string(),
  merchant_id: z.string(),
  settlement_date: z.string(),
  payee_merchant_id: z.string().describe("Whose settlement account is paid: this merchant ID, or its parent in group settlement"),
  covers_through: z.string().describe("Last business day whose payments and refunds this settlement took"),
  item_count: z.number().int(),
  gross: z.number().int().describe("Payments (fen)"),
  fees: z.number().int().describe("Fees charged less fees returned on refunds (fen)"),
  refunds: z.number().int().describe("Refunds (fen)"),
  carried_in: z.number().int().describe("A negative net carried from the previous settlement (fen, ≤ 0)"),
  net: z.number().int().describe("gross − fees − refunds + carried_in (fen)"),
  currency: z.literal("CNY"),
  status: z.enum(["carried_forward", "nothing_to_pay", "held", "awaiting_payout", "in_transit", "paid", "payout_failed"]),
  payout_instruction_id: z.string().nullable(),
  settlement_account: z.object({ account_name: z.string(), account_number_last4: z.string(), bank_code: z.string() }).nullable(),
  created_at: z.string(),
});

export function settlementToWire(s: SettlementView): z.infer<typeof SettlementOut> {
  return { ...s, gross: fenToWire(s.gross), fees: fenToWire(s.fees), refunds: fenToWire(s.refunds), carried_in: fenToWire(s.carried_in), net: fenToWire(s.net) };
}

/** A merchant ID sees its own books; a group's merchant ID may also read its sub-merchants'. */
/** Whose books a request reads: the caller's, or (for a parent) one of its sub-merchants'; else not found. */
export async function booksOwner(ctx: Ctx, caller: string, sub_merchant_id: string | undefined): Promise<string> {
  if (!sub_merchant_id || sub_merchant_id === caller) return caller;
  const sub = await ctx.db.selectFrom("merchants").select("parent_merchant_id").where("merchant_id", "=", sub_merchant_id).executeTakeFirst();
  if (!sub || sub.parent_merchant_id !== caller) throw notFound("sub-merchant");
  return sub_merchant_id;
}

const BEIJING_OFFSET_MS = 8 * 3_600_000;
/** Today's calendar date in Beijing (UTC+8, no daylight saving). */
export const beijingToday = (now: Date): string => new Date(now.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 10);

export function openSettlementRoutes(ctx: Ctx): RouteDef[] {
  return [
    merchantRoute({
      method: "GET",
      url: "/v1/settlements",
      summary: "Settlement records of the calling merchant ID (one per settlement date)",
      tags: ["Balances and settlement"],
      query: z.strictObject({ ...PageQuery, date: IsoDate.optional(), sub_merchant_id: z.string().min(1).max(64).optional() }),
      response: listOf(SettlementOut),
      handler: async (i) => {
        const merchant_id = await booksOwner(ctx, i.merchant.merchant_id, i.query.sub_merchant_id);
        const page = await listSettlements(ctx.db, { merchant_id, settlement_date: i.query.date, cursor: i.query.cursor, limit: i.query.limit });
        return { body: { data: page.data.map(settlementToWire), next_cursor: page.next_cursor } };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/statements",
      summary: "The day's statement as CSV: every payment, fee, refund, fee returned, settlement and payout line, with opening and closing balances",
      description:
        "Columns: line_type, occurred_at, business_date, account (pending | available), amount (signed fen: + owed to the merchant), reference_id, payment_id, entry_id, note. For each account, opening_balance plus the day's lines equals closing_balance. Rows of line_type `settlement` with an empty account repeat the day's settlement records (net) and move no balance.",
      tags: ["Balances and settlement"],
      query: z.strictObject({ date: IsoDate, sub_merchant_id: z.string().min(1).max(64).optional() }),
      produces: "text/csv",
      handler: async (i) => {
        const today = beijingToday(ctx.clock.now());
        if (i.query.date > today) throw new PaycoreError("date_in_future", `date: ${i.query.date} is after today (${today}, Beijing time): that day has no statement yet`);
        const merchant_id = await booksOwner(ctx, i.merchant.merchant_id, i.query.sub_merchant_id);
        return { body: await statementCsv(ctx.db, merchant_id, i.query.date), content_type: "text/csv; charset=utf-8" };
      },
    }),
  ];
}
