import type { Clock } from "../../kernel/clock.ts";
import type { Transport } from "../http.ts";
import type { ChannelCapabilities } from "../types.ts";
import { UnionPayAdapter, type UnionPayConfig, type UnionPayProduct } from "../unionpay/adapter.ts";

/** UnionPay new no-card (新无卡): agreement payments in the unified registries, with sign sync. */
export const UNIONPAY_NOCARD_CAPABILITIES: ChannelCapabilities = {
  sign: true, sign_sync: true, unified_registry: true, legacy: false, credit_cards: true, refund: true,
  refund_window_days: 180, unbind: true, unbind_notice: true, statement: true,
};

export const UNIONPAY_NOCARD: UnionPayProduct = { channel_id: "unionpay_nocard", biz_type: "000301", capabilities: UNIONPAY_NOCARD_CAPABILITIES };

export function createUnionPayNoCardAdapter(config: UnionPayConfig, transport: Transport, clock: Clock): UnionPayAdapter {
  return new UnionPayAdapter(UNIONPAY_NOCARD, config, transport, clock);
}
