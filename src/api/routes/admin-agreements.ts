import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { toPage } from "../../db/paging.ts";
import { adminRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const AgreementOut = z.object({
  agreement_id: z.string(),
  merchant_id: z.string(),
  user_ref: z.string(),
  status: z.enum(["active", "unbound"]),
  created_at: z.string(),
  unbound_at: z.string().nullable(),
  unbound_reason: z.string().nullable(),
  card: z.object({ last4: z.string(), bank_code: z.string(), bank_name: z.string(), card_type: z.enum(["debit", "credit"]) }),
  networks: z.array(z.object({ channel_id: z.string(), origin: z.enum(["signed", "synced"]), status: z.enum(["active", "unbound"]) })),
});

/**
 * Operators' agreement search: by user_ref, the card's last four digits, bank, merchant ID, status,
 * newest first, paged by cursor. There is no way to search by, or see, a full card number: the
 * answer carries only last4, bank and card type; `last4` accepts exactly four digits.
 */
export function adminAgreementRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/agreements",
      summary: "Search agreements by user_ref, card last 4 digits, bank (code or name), merchant ID or status; never by a full card number",
      tags: ["Admin: agreements"],
      query: z.strictObject({
        ...PageQuery,
        user_ref: z.string().min(1).max(64).optional(),
        last4: z.string().regex(/^\d{4}$/, "exactly the last 4 digits of the card (a full card number is never accepted)").optional(),
        bank: z.string().trim().min(1).max(32).optional(),
        merchant_id: z.string().min(1).max(64).optional(),
        status: z.enum(["active", "unbound"]).optional(),
      }),
      response: listOf(AgreementOut),
      handler: async (i) => {
        let q = ctx.db
          .selectFrom("agreements as a")
          .innerJoin("cards as c", "c.card_id", "a.card_id")
          .select(["a.agreement_id", "a.merchant_id", "a.user_ref", "a.status", "a.created_at", "a.unbound_at", "a.unbound_reason", "a.card_id", "c.last4", "c.bank_code", "c.bank_name", "c.card_type"])
          .orderBy("a.agreement_id", "desc")
          .limit(i.query.limit + 1);
        if (i.query.user_ref) q = q.where("a.user_ref", "=", i.query.user_ref);
        if (i.query.last4) q = q.where("c.last4", "=", i.query.last4);
        if (i.query.bank) {
          const bank = i.query.bank;
          q = q.where((eb) => eb.or([eb("c.bank_code", "=", bank.toUpperCase()), eb("c.bank_name", "=", bank)]));
        }
        if (i.query.merchant_id) q = q.where("a.merchant_id", "=", i.query.merchant_id);
        if (i.query.status) q = q.where("a.status", "=", i.query.status);
        if (i.query.cursor) q = q.where("a.agreement_id", "<", i.query.cursor);
        const page = toPage(await q.execute(), i.query.limit, (r) => r.agreement_id);
        const cards = [...new Set(page.data.map((r) => r.card_id))];
        const networks = cards.length
          ? await ctx.db.selectFrom("card_agreements").select(["card_id", "channel_id", "origin", "status"]).where("card_id", "in", cards).orderBy("channel_id").execute()
          : [];
        return {
          body: {
            data: page.data.map((r) => ({
              agreement_id: r.agreement_id,
              merchant_id: r.merchant_id,
              user_ref: r.user_ref,
              status: r.status,
              created_at: r.created_at.toISOString(),
              unbound_at: r.unbound_at?.toISOString() ?? null,
              unbound_reason: r.unbound_reason,
              card: { last4: r.last4, bank_code: r.bank_code, bank_name: r.bank_name, card_type: r.card_type },
              networks: networks.filter((n) => n.card_id === r.card_id).map((n) => ({ channel_id: n.channel_id, origin: n.origin, status: n.status })),
            })),
            next_cursor: page.next_cursor,
          },
        };
      },
    }),
  ];
}
