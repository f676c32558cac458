import { createChannelAdapters, listChannels, NetworkKeys, railStatementFetcher, type AgreementChannelId, type Channel, type ChannelAdapter, type FetchLike } from "../channels/index.ts";
import type { Ctx } from "../context.ts";
import { cachedConfig } from "../db/index.ts";
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
    // Cached configuration: an operator's change reaches every process (src/db/config-cache.ts).
    const channels = await cachedConfig(ctx.db, "channels", () => listChannels(ctx.db));
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

  // The rails' front end is the sandbox's in development and tests (as for HttpRailGateway).
  const railStatement = options.sandbox_url ? railStatementFetcher(options.sandbox_url, new NetworkKeys(options.data_dir)) : undefined;
  return {
    health,
    ...(railStatement ? { railStatement } : {}),
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
