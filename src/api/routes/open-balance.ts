import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { fenToWire } from "../../kernel/money.ts";
import { merchantBalance } from "../../ledger/index.ts";
import { merchantRoute, type RouteDef } from "../route.ts";
import { booksOwner } from "./open-settlement.ts";

export const BalanceOut = z.object({
  pending: z.number().int().describe("Fen not yet settled (negative when refunds exceed income and are carried forward)"),
  available: z.number().int().min(0).describe("Fen settled and not yet paid out (held or awaiting payout)"),
  currency: z.literal("CNY"),
});

/** The calling merchant ID's balances, from its own ledger accounts (separate books). */
export function openBalanceRoutes(ctx: Ctx): RouteDef[] {
  return [
    merchantRoute({
      method: "GET",
      url: "/v1/balance",
      summary: "Pending and available balance of the calling merchant ID, or of one of its sub-merchants (fen)",
      tags: ["Balances and settlement"],
      query: z.strictObject({ sub_merchant_id: z.string().min(1).max(64).optional().describe("A parent reads its sub-merchant's balance") }),
      response: BalanceOut,
      handler: async (i) => {
        const balance = await merchantBalance(ctx.db, await booksOwner(ctx, i.merchant.merchant_id, i.query.sub_merchant_id));
        return { body: { pending: fenToWire(balance.pending), available: fenToWire(balance.available), currency: "CNY" } };
      },
    }),
  ];
}
