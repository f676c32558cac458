import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { merchantRoute, type RouteDef } from "../route.ts";

export const BalanceOut = z.object({ pending: z.number(), available: z.number(), currency: z.literal("CNY") });

/** Until the ledger lands, every merchant ID's balance is zero. */
export function openBalanceRoutes(_ctx: Ctx): RouteDef[] {
  return [
    merchantRoute({
      method: "GET",
      url: "/v1/balance",
      summary: "Pending and available balance of the calling merchant ID (fen)",
      tags: ["Balances and settlement"],
      response: BalanceOut,
      handler: async () => ({ body: { pending: 0, available: 0, currency: "CNY" } }),
    }),
  ];
}
