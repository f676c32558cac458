import type { Clock } from "../kernel/clock.ts";
import type { Channel } from "./config.ts";
import { networkPost, type FetchLike, type Transport } from "./http.ts";
import { NetworkKeys, ensurePaycoreChannelKeys } from "./keys.ts";
import { createNetsUnionAdapter } from "./netsunion/index.ts";
import { CHANNEL_LIMITS } from "./support.ts";
import type { AgreementChannelId, ChannelAdapter } from "./types.ts";
import { createUnionPayNoCardAdapter } from "./unionpay-nocard/index.ts";
import { createUnionPayQuickPayAdapter } from "./unionpay-quickpay/index.ts";

export interface AdapterDependencies {
  clock: Clock;
  /** Key files live here (docs/sandbox.md "Keys"). */
  data_dir: string;
  /** Base URL of the sandbox, for channels whose `endpoint_url` is null. */
  sandbox_url: string | null;
  /** Defaults to the kernel's keep-alive client (http.ts, src/kernel/http-client.ts). */
  fetch?: FetchLike;
  /** Overrides every channel's configured timeout (tests use a short one for timeout faults). */
  timeout_ms?: number;
}

/** Where each network lives inside the sandbox. */
export function sandboxEndpoint(channel_id: AgreementChannelId, sandbox_url: string): string {
  const base = sandbox_url.replace(/\/+$/, "");
  switch (channel_id) {
    case "netsunion":
      return `${base}/netsunion/gateway`;
    case "unionpay_nocard":
    case "unionpay_quickpay":
      return `${base}/unionpay`;
  }
}

/**
 * One adapter per agreement channel with an endpoint, whether enabled or not (routing decides
 * what to use). paycore's channel keys are created at first use and published for the networks.
 */
export function createChannelAdapters(channels: readonly Channel[], deps: AdapterDependencies): Map<AgreementChannelId, ChannelAdapter> {
  const own = ensurePaycoreChannelKeys(deps.data_dir, deps.clock.now());
  const network_keys = new NetworkKeys(deps.data_dir);
  const adapters = new Map<AgreementChannelId, ChannelAdapter>();
  for (const channel of channels) {
    if (channel.kind !== "agreement") continue;
    const id = channel.channel_id as AgreementChannelId;
    const endpoint_url = channel.endpoint_url ?? (deps.sandbox_url ? sandboxEndpoint(id, deps.sandbox_url) : null);
    if (!endpoint_url) continue;
    const transport: Transport = { fetch: deps.fetch ?? networkPost, timeout_ms: Math.min(deps.timeout_ms ?? channel.timeout_ms, CHANNEL_LIMITS.timeout_ms_max) };
    const base = { endpoint_url, institution_id: channel.institution_id, network_keys };
    switch (id) {
      case "netsunion":
        adapters.set(id, createNetsUnionAdapter({ ...base, own_key: own.netsunion }, transport, deps.clock));
        break;
      case "unionpay_nocard":
        adapters.set(id, createUnionPayNoCardAdapter({ ...base, own_key: own.unionpay }, transport, deps.clock));
        break;
      case "unionpay_quickpay":
        adapters.set(id, createUnionPayQuickPayAdapter({ ...base, own_key: own.unionpay }, transport, deps.clock));
        break;
    }
  }
  return adapters;
}
