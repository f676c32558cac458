import type { SmsGateway } from "../agreements/sms.ts";
import type { ChannelAdapter, Outcome } from "../channels/types.ts";
import type { RailStatementFetcher } from "../channels/rail-statement.ts";
import type { Ctx } from "../context.ts";
import type { ChannelView } from "../routing/index.ts";
import type { ChannelHealth } from "./channel-health.ts";
import type { PayoutDeps } from "../payouts/deps.ts";

/** The networks paycore can use: their adapters, their configuration and health for routing. */
export interface ChannelRegistry {
  adapter(channel_id: string): Promise<ChannelAdapter>;
  views(): Promise<ChannelView[]>;
  readonly health: ChannelHealth;
  /** The CNAPS rails' daily statement files (reconciliation of payouts); absent without a rails front end. */
  readonly railStatement?: RailStatementFetcher;
}

export interface PaymentDeps {
  ctx: Ctx;
  channels: ChannelRegistry;
  sms: SmsGateway;
  /** The sandbox playing the networks and the bank (settlement transfers), when there is one. */
  sandbox_url: string | null;
  /** Business payouts over the CNAPS rails (absent: payouts are recorded but nothing is sent). */
  payouts?: PayoutDeps;
}

/**
 * Every network call goes through here: it runs outside any database transaction (callers hold
 * none) and its outcome feeds the network's health.
 */
export async function callChannel<T extends Outcome<object> | { status: "not_found" }>(
  deps: PaymentDeps,
  channel_id: string,
  call: (adapter: ChannelAdapter) => Promise<T>,
): Promise<T> {
  const result = await call(await deps.channels.adapter(channel_id));
  const transport_trouble = result.status === "pending" && "cause" in result && result.cause !== "processing" && result.cause !== "unclassified";
  deps.channels.health.record(channel_id, transport_trouble ? "error" : "ok");
  return result;
}
