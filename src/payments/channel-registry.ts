import { createChannelAdapters, listChannels, type AgreementChannelId, type Channel, type ChannelAdapter, type FetchLike } from "../channels/index.ts";
import type { Ctx } from "../context.ts";
import { PaycoreError } from "../kernel/errors.ts";
import type { ChannelView } from "../routing/index.ts";
import { ChannelHealth } from "./channel-health.ts";
import type { ChannelRegistry } from "./deps.ts";

export interface RegistryOptions {
  data_dir: string;
  sandbox_url: string | null;
  timeout_ms?: number;
  fetch?: FetchLike;
}

/**
 * The agreement networks from their configuration in the database, with adapters rebuilt when an
 * operator changes a channel (its version moves), and health from recent calls.
 */
export function createChannelRegistry(ctx: Ctx, options: RegistryOptions): ChannelRegistry {
  const health = new ChannelHealth(() => ctx.clock.now().getTime());
  let adapters = new Map<AgreementChannelId, ChannelAdapter>();
  let versions = "";

  const refresh = async (): Promise<Channel[]> => {
    const channels = await listChannels(ctx.db);
    const now_versions = channels.map((c) => `${c.channel_id}@${c.version}`).join(",");
    if (now_versions !== versions) {
      adapters = createChannelAdapters(channels, {
        clock: ctx.clock,
        data_dir: options.data_dir,
        sandbox_url: options.sandbox_url,
        ...(options.timeout_ms ? { timeout_ms: options.timeout_ms } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
      versions = now_versions;
    }
    return channels;
  };

  return {
    health,
    async adapter(channel_id: string): Promise<ChannelAdapter> {
      if (adapters.size === 0) await refresh();
      const adapter = adapters.get(channel_id as AgreementChannelId);
      if (!adapter) throw new PaycoreError("channel_unavailable", `no adapter for channel ${channel_id} (no endpoint configured)`);
      return adapter;
    },
    async views(): Promise<ChannelView[]> {
      const channels = await refresh();
      return channels
        .filter((c) => c.kind === "agreement" && adapters.has(c.channel_id as AgreementChannelId))
        .map((c) => ({
          channel_id: c.channel_id,
          enabled: c.enabled,
          healthy: health.usable(c.channel_id),
          unified_network: c.unified_network,
          legacy: c.legacy,
          cost_bps: c.cost_bps,
          cost_fixed_fen: c.cost_fixed_fen,
          priority: c.priority,
          banks: c.banks,
        }));
    },
  };
}
