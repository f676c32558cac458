import { z } from "zod";
import { channelToWire, getChannel, listChannels, updateChannel } from "../../channels/index.ts";
import { recordAudit } from "../../operators/index.ts";
import type { PaymentDeps } from "../../payments/deps.ts";
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

export function adminChannelRoutes(deps: PaymentDeps): RouteDef[] {
  const { ctx } = deps;
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
      tags: ["Admin: channels"],
      roles: ADMIN_ONLY,
      params: z.strictObject({ channel_id: z.string().min(1).max(32) }),
      body: Patch,
      response: ChannelOut,
      handler: async (i) => {
        const before = await getChannel(ctx.db, i.params.channel_id);
        const after = await ctx.db.transaction().execute(async (trx) => {
          const changed = await updateChannel(trx, i.params.channel_id, i.body);
          const audit = { operator_id: i.operator.operator_id, request_id: i.request_id, action: "channel.update", target_type: "channel", target_id: i.params.channel_id };
          await recordAudit(trx, { ...audit, before: channelToWire(before), after: channelToWire(changed) }, ctx.clock.now());
          return changed;
        });
        if (i.body.enabled === true) deps.channels.health.reset(after.channel_id);
        return { body: wire(after) };
      },
    }),
  ];
}
