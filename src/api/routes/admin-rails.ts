import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../../db/index.ts";
import { RAILS, type Rail } from "../../kernel/cnaps/hours.ts";
import { notFound } from "../../kernel/errors.ts";
import { fenToWire } from "../../kernel/money.ts";
import { recordAudit } from "../../operators/index.ts";
import { getPayoutBatch, payoutImportKind, proposePayoutImport, listPayoutBatches, listPayouts, PAYOUT_LIMITS, PayoutWire as W, railViews, updateRail, type PayoutDeps, type RailPatch, type RailView } from "../../payouts/index.ts";
import type { ProposalKind, Proposals } from "../../proposals/index.ts";
import { ADMIN_ONLY, adminRoute, type RouteDef } from "../route.ts";
import { ProposalOut } from "./admin-proposals.ts";
import { listOf } from "./common.ts";

const RailOut = z.object({
  rail: z.enum(RAILS),
  state: z.enum(["open", "closed"]).describe("Now, by the calendar and `enabled`"),
  next_open_at: z.string().nullable(),
  per_item_max: z.number().int().nullable().describe("Fen; null = no cap"),
  cost_per_item: z.number().int().describe("Fen per credit; the router prefers the cheapest open rail"),
  enabled: z.boolean(),
  healthy: z.boolean(),
});
const railToWire = (v: RailView) => ({ ...v, next_open_at: v.next_open_at?.toISOString() ?? null, per_item_max: v.per_item_max === null ? null : fenToWire(v.per_item_max), cost_per_item: fenToWire(v.cost_per_item) });
const fenField = z.number().int().min(1).max(Number(PAYOUT_LIMITS.amount_fen_max));
const Patch = z.strictObject({ enabled: z.boolean().optional(), per_item_max: fenField.nullable().optional(), cost_per_item: z.number().int().min(0).max(10_000_000).optional() });
type PatchInput = z.infer<typeof Patch>;
type CostChange = { rail: Rail; cost_per_item: number };
export const RAIL_COST_KIND = "rail.cost";

const toPatch = (p: PatchInput): RailPatch => ({
  ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
  ...(p.per_item_max !== undefined ? { per_item_max: p.per_item_max === null ? null : BigInt(p.per_item_max) } : {}),
  ...(p.cost_per_item !== undefined ? { cost_per_item: BigInt(p.cost_per_item) } : {}),
});

async function applyRailPatch(pd: PayoutDeps, trx: Kysely<Database>, rail: Rail, patch: RailPatch, actor: { operator_id: string; request_id: string }) {
  const { before, after } = await updateRail(trx, rail, patch, pd.ctx.clock.now());
  const wire = (r: typeof before) => ({ enabled: r.enabled, per_item_max: r.per_item_max === null ? null : fenToWire(r.per_item_max), cost_per_item: fenToWire(r.cost_per_item) });
  await recordAudit(trx, { ...actor, action: "rail.update", target_type: "rail", target_id: rail, before: wire(before), after: wire(after) }, pd.ctx.clock.now());
}

/** A rail's cost decides where money goes: changing it is four-eyes, approved by an admin (as a channel's cost). */
function railCostKind(pd: PayoutDeps): ProposalKind<CostChange> {
  return {
    kind: RAIL_COST_KIND,
    approver_roles: ADMIN_ONLY,
    payload: z.strictObject({ rail: z.enum(RAILS), cost_per_item: z.number().int().min(0).max(10_000_000) }) as z.ZodType<CostChange>,
    target: (p) => ({ target_type: "rail", target_id: p.rail }),
    describe: (p) => p,
    apply: async (trx, p, actor) => {
      await applyRailPatch(pd, trx, p.rail, { cost_per_item: BigInt(p.cost_per_item) }, actor);
      return p;
    },
  };
}

/** Operator API for payout rails and payouts (docs/payouts.md "API"). */
export function adminRailRoutes(pd: PayoutDeps, proposals: Proposals): RouteDef[] {
  proposals.register(railCostKind(pd));
  proposals.register(payoutImportKind(pd));
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/rails",
      summary: "Payout rails: open or closed now, next opening, cap, cost, enabled, health",
      tags: ["Admin: payouts"],
      response: z.object({ data: z.array(RailOut) }),
      handler: async () => ({ body: { data: (await railViews(pd)).map(railToWire) } }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/rails/:rail",
      summary: "Change a rail's cap or enabled now; a cost change answers 202 with a proposal another operator must approve",
      tags: ["Admin: payouts"],
      params: z.strictObject({ rail: z.enum(RAILS) }),
      body: Patch,
      handler: async (i) => {
        const actor = { operator_id: i.operator.operator_id, request_id: i.request_id };
        const { cost_per_item, ...direct } = i.body;
        if (Object.keys(direct).length > 0) await pd.ctx.db.transaction().execute((trx) => applyRailPatch(pd, trx, i.params.rail, toPatch(direct), actor));
        if (cost_per_item !== undefined) {
          return { status: 202, body: await proposals.propose({ operator: i.operator, request_id: i.request_id }, RAIL_COST_KIND, { rail: i.params.rail, cost_per_item }) };
        }
        return { body: railToWire((await railViews(pd)).find((v) => v.rail === i.params.rail)!) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/payouts",
      summary: "Search payouts (every merchant ID), newest first; a queued payout's route_reason says what it waits for; alert=true lists those not final after the whole query schedule",
      tags: ["Admin: payouts"],
      query: W.AdminPayoutQuery,
      response: listOf(W.PayoutOut.extend({ merchant_id: z.string(), attempt_count: z.number().int().describe("Status queries of the current message"), alert: z.boolean().describe("Not final after the whole query schedule: look") })),
      handler: async (i) => {
        const page = await listPayouts(pd.ctx.db, i.query);
        return { body: { data: page.data.map((p) => ({ ...W.payoutToWire(p), merchant_id: p.merchant_id, attempt_count: p.attempt_count, alert: p.alert })), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/merchants/:merchant_id/payout-batches",
      summary:
        "Propose a payout batch for a merchant ID (paycore payouts import; four eyes): answers 202 with a proposal another admin approves, after which the batch runs as the merchant's own POST /v1/payout-batches would. A repeat answers the open proposal, or the batch (200) once it exists",
      tags: ["Admin: payouts"],
      roles: ADMIN_ONLY,
      params: z.strictObject({ merchant_id: z.string().min(1).max(64) }),
      body: W.AdminBatchCreate,
      response: z.union([ProposalOut, W.PayoutBatchOut]),
      body_limit_bytes: PAYOUT_LIMITS.batch_body_bytes_max,
      errors: ["duplicate_out_trade_no"],
      handler: async (i) => {
        const merchant = await pd.ctx.db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", i.params.merchant_id).executeTakeFirst();
        if (!merchant) throw notFound("merchant");
        const r = await proposePayoutImport(pd, proposals, { operator: i.operator, request_id: i.request_id }, i.params.merchant_id, i.body);
        return r.status === 202 ? { status: 202, body: r.proposal } : { status: 200, body: W.batchToWire(r.batch) };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/payout-batches",
      summary: "Payout batches of every merchant ID (or one), newest first",
      tags: ["Admin: payouts"],
      query: W.AdminBatchQuery,
      response: listOf(W.PayoutBatchSummaryOut),
      handler: async (i) => {
        const page = await listPayoutBatches(pd.ctx.db, i.query);
        return { body: { data: page.data.map(W.batchSummaryToWire), next_cursor: page.next_cursor } };
      },
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/payout-batches/:batch_id",
      summary: "A payout batch of any merchant ID: counts per status, each line's payout (with its route_reason) or error",
      tags: ["Admin: payouts"],
      params: z.strictObject({ batch_id: z.string().min(1).max(64) }),
      response: W.PayoutBatchOut.extend({ merchant_id: z.string() }),
      handler: async (i) => {
        const view = await getPayoutBatch(pd.ctx.db, null, i.params.batch_id);
        return { body: { ...W.batchToWire(view), merchant_id: view.batch.merchant_id } };
      },
    }),
  ];
}
