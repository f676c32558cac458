import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../../db/index.ts";
import { channelToWire, getChannel, listChannels, updateChannel } from "../../channels/index.ts";
import { recordAudit } from "../../operators/index.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
import type { ProposalKind, Proposals } from "../../proposals/index.ts";
import { ADMIN_ONLY, adminRoute, type RouteDef } from "../route.ts";

const ChannelOut = z.object({
  channel_id: z.string(),
  kind: z.enum(["agreement", "payout"]),
  display_name: z.string(),
  enabled: z.boolean(),
  priority: z.number(),
  cost_bps: z.number(),
  cost_fixed_fen: z.number(),
  unified_network: z.boolean(),
  legacy: z.boolean(),
  banks: z.array(z.string()).nullable(),
  endpoint_url: z.string().nullable(),
  timeout_ms: z.number(),
  health: z.object({ calls: z.number(), errors: z.number(), healthy: z.boolean() }),
});

const Patch = z.strictObject({
  enabled: z.boolean().optional(),
  priority: z.number().int().min(0).max(1000).optional(),
  cost_bps: z.number().int().min(0).max(10_000).optional(),
  cost_fixed_fen: z.number().int().min(0).max(100_000_000).optional(),
  timeout_ms: z.number().int().min(100).max(120_000).optional(),
  endpoint_url: z.url({ protocol: /^https?$/ }).max(2048).nullable().optional(),
  banks: z.array(z.string().regex(/^[A-Z]{2,10}$/)).max(64).nullable().optional(),
});

type PatchInput = z.infer<typeof Patch>;
const ChangePayload = z.strictObject({ channel_id: z.string().min(1).max(32), patch: Patch });
type ChangePayload = { channel_id: string; patch: PatchInput };
export const CHANNEL_CHANGE_KIND = "channel.cost_or_endpoint";

/**
 * Costs decide margins and routing, the endpoint decides where card data and money instructions go:
 * a patch touching either is four-eyes (approved by another admin).
 */
function needsFourEyes(patch: PatchInput): boolean {
  return patch.cost_bps !== undefined || patch.cost_fixed_fen !== undefined || patch.endpoint_url !== undefined;
}

async function applyChannelPatch(deps: PaymentDeps, trx: Kysely<Database>, channel_id: string, patch: PatchInput, actor: { operator_id: string; request_id: string }) {
  const before = await getChannel(trx, channel_id);
  const changed = await updateChannel(trx, channel_id, patch);
  const audit = { ...actor, action: "channel.update", target_type: "channel", target_id: channel_id };
  await recordAudit(trx, { ...audit, before: channelToWire(before), after: channelToWire(changed) }, deps.ctx.clock.now());
  return changed;
}

function channelChangeKind(deps: PaymentDeps): ProposalKind<ChangePayload> {
  return {
    kind: CHANNEL_CHANGE_KIND,
    payload: ChangePayload as z.ZodType<ChangePayload>,
    approver_roles: ADMIN_ONLY,
    target: (p) => ({ target_type: "channel", target_id: p.channel_id }),
    check: async (db, p) => void (await getChannel(db, p.channel_id)),
    describe: (p) => p,
    apply: async (trx, p, actor) => channelToWire(await applyChannelPatch(deps, trx, p.channel_id, p.patch, actor)),
  };
}

export function adminChannelRoutes(deps: PaymentDeps, proposals: Proposals): RouteDef[] {
  const { ctx } = deps;
  proposals.register(channelChangeKind(deps));
  const wire = (c: Awaited<ReturnType<typeof getChannel>>) => ({ ...channelToWire(c), health: deps.channels.health.stats(c.channel_id) });
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/channels",
      summary: "Networks and payout rails: configuration, cost, and health from recent calls",
      tags: ["Admin: channels"],
      response: z.object({ data: z.array(ChannelOut) }),
      handler: async () => ({ body: { data: (await listChannels(ctx.db)).map(wire) } }),
    }),
    adminRoute({
      method: "PATCH",
      url: "/admin/v1/channels/:channel_id",
      summary: "Enable or disable a channel, change its costs, priority, endpoint or banks",
      description: "A change of costs or endpoint is four-eyes: it answers 202 with a proposal that another admin approves.",
      tags: ["Admin: channels"],
      roles: ADMIN_ONLY,
      params: z.strictObject({ channel_id: z.string().min(1).max(32) }),
      body: Patch,
      response: ChannelOut,
      handler: async (i) => {
        if (needsFourEyes(i.body)) {
          const proposal = await proposals.propose({ operator: i.operator, request_id: i.request_id }, CHANNEL_CHANGE_KIND, { channel_id: i.params.channel_id, patch: i.body });
          return { status: 202, body: proposal };
        }
        const actor = { operator_id: i.operator.operator_id, request_id: i.request_id };
        const after = await ctx.db.transaction().execute((trx) => applyChannelPatch(deps, trx, i.params.channel_id, i.body, actor));
        if (i.body.enabled === true) deps.channels.health.reset(after.channel_id);
        return { body: wire(after) };
      },
    }),
  ];
}
