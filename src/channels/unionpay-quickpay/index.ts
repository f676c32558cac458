import type { Clock } from "../../kernel/clock.ts";
import type { Transport } from "../http.ts";
import type { ChannelCapabilities } from "../types.ts";
import { UnionPayAdapter, type UnionPayConfig, type UnionPayProduct } from "../unionpay/adapter.ts";

/**
 * UnionPay full-channel quick pay (全渠道快捷), legacy: its agreements live in their own registry,
 * take no part in the unified registries, and are never honoured by new no-card.
 */
export const UNIONPAY_QUICKPAY_CAPABILITIES: ChannelCapabilities = {
  sign: true, sign_sync: false, unified_registry: false, legacy: true, credit_cards: true, refund: true,
  refund_window_days: 180, unbind: true, unbind_notice: true, statement: true,
};

export const UNIONPAY_QUICKPAY: UnionPayProduct = { channel_id: "unionpay_quickpay", biz_type: "000902", capabilities: UNIONPAY_QUICKPAY_CAPABILITIES };

export function createUnionPayQuickPayAdapter(config: UnionPayConfig, transport: Transport, clock: Clock): UnionPayAdapter {
  return new UnionPayAdapter(UNIONPAY_QUICKPAY, config, transport, clock);
}
