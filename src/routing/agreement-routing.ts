import { networkFeeFen } from "../kernel/money.ts";

/**
 * Routing of agreement payments: pure functions, candidates in, a decision and its reason out.
 *
 * Above all, pay where the card is already signed. Among usable networks holding an agreement,
 * the cheapest for this amount wins (then priority). When no network holding the card's agreement
 * is usable: a bank in the unified registries (三库统一) lets paycore sync the agreement to another
 * unified network and pay there without a new OTP; otherwise the cardholder must re-sign.
 * Legacy full-channel quick-pay agreements never carry over.
 */
export interface ChannelView {
  channel_id: string;
  enabled: boolean;
  healthy: boolean;
  /** Takes part in the unified registries (NetsUnion, UnionPay new no-card; never legacy quick pay). */
  unified_network: boolean;
  /** Legacy products take no new signings. */
  legacy: boolean;
  cost_bps: number;
  cost_fixed_fen: bigint;
  priority: number;
  /** Bank codes it serves; null = all. */
  banks: readonly string[] | null;
}

export interface CardView {
  bank_code: string;
  bank_unified: boolean;
  /** The card's active card agreements, by network. */
  agreements: readonly { channel_id: string; card_agreement_id: string }[];
}

export type PaymentRoute =
  | { kind: "use"; channel_id: string; card_agreement_id: string; reason: string }
  | { kind: "sync"; from_channel_id: string; from_card_agreement_id: string; channel_id: string; reason: string }
  | { kind: "resign_required"; reason: string }
  | { kind: "unavailable"; reason: string };

export type SigningRoute = { kind: "sign"; channel_id: string; reason: string } | { kind: "unavailable"; reason: string };

/**
 * What a network costs for one payment of `amount_fen`, in fen, rounded exactly as the network
 * rounds (half up); its own stated fee, when it states one, is what gets booked.
 */
export function channelCostFen(c: Pick<ChannelView, "cost_bps" | "cost_fixed_fen">, amount_fen: bigint): bigint {
  return networkFeeFen(amount_fen, c.cost_bps, c.cost_fixed_fen);
}

function usable(c: ChannelView, bank_code: string): boolean {
  return c.enabled && c.healthy && (c.banks === null || c.banks.includes(bank_code));
}

function byCost(amount_fen: bigint) {
  return (a: ChannelView, b: ChannelView) => {
    const diff = channelCostFen(a, amount_fen) - channelCostFen(b, amount_fen);
    if (diff !== 0n) return diff < 0n ? -1 : 1;
    return a.priority - b.priority || a.channel_id.localeCompare(b.channel_id);
  };
}

function why(c: ChannelView, bank_code: string): string {
  if (!c.enabled) return `${c.channel_id} disabled`;
  if (!c.healthy) return `${c.channel_id} unhealthy`;
  if (c.banks !== null && !c.banks.includes(bank_code)) return `${c.channel_id} does not serve ${bank_code}`;
  return `${c.channel_id} usable`;
}

export function routePayment(channels: readonly ChannelView[], card: CardView, amount_fen: bigint): PaymentRoute {
  const byId = new Map(channels.map((c) => [c.channel_id, c]));
  const held = card.agreements.map((a) => ({ a, c: byId.get(a.channel_id) })).filter((x): x is { a: (typeof card.agreements)[number]; c: ChannelView } => x.c !== undefined);
  const direct = held.filter((x) => usable(x.c, card.bank_code)).sort((x, y) => byCost(amount_fen)(x.c, y.c));
  if (direct.length > 0) {
    const best = direct[0]!;
    const others = direct.length > 1 ? `; cheaper than ${direct.slice(1).map((x) => x.c.channel_id).join(", ")}` : "";
    return { kind: "use", channel_id: best.c.channel_id, card_agreement_id: best.a.card_agreement_id, reason: `card signed on ${best.c.channel_id}${others}` };
  }
  const down = held.map((x) => why(x.c, card.bank_code)).join(", ") || "no card agreement";
  const source = held.find((x) => x.c.unified_network);
  if (card.bank_unified && source) {
    const targets = channels.filter((c) => c.unified_network && !c.legacy && usable(c, card.bank_code) && c.channel_id !== source.c.channel_id).sort(byCost(amount_fen));
    const target = targets[0];
    if (target) {
      return {
        kind: "sync",
        from_channel_id: source.c.channel_id,
        from_card_agreement_id: source.a.card_agreement_id,
        channel_id: target.channel_id,
        reason: `${down}; ${card.bank_code} is in the unified registries: sync to ${target.channel_id} without a new OTP`,
      };
    }
    return { kind: "unavailable", reason: `${down}; no other unified network is usable` };
  }
  // A network that is only unhealthy (enabled, serving the bank) comes back: the card's agreement
  // there is still good, so the answer is "retry later", never "sign again".
  const resting = held.filter((x) => x.c.enabled && !x.c.healthy && (x.c.banks === null || x.c.banks.includes(card.bank_code)));
  if (resting.length > 0) return { kind: "unavailable", reason: `${down}; the card's agreement there stays valid: retry when ${resting.map((x) => x.c.channel_id).join(", ")} recovers` };
  const legacy_only = held.length > 0 && held.every((x) => x.c.legacy);
  const because = legacy_only ? "legacy quick-pay agreements do not carry over" : card.bank_unified ? "no unified agreement to sync from" : `${card.bank_code} is not in the unified registries`;
  return { kind: "resign_required", reason: `${down}; ${because}: the cardholder must sign again` };
}

/** Where to sign a new card agreement: usable, not legacy, cheapest for a typical payment. */
export function routeSigning(channels: readonly ChannelView[], bank_code: string, exclude: readonly string[] = [], typical_amount_fen = 10_000n): SigningRoute {
  const candidates = channels.filter((c) => !c.legacy && usable(c, bank_code) && !exclude.includes(c.channel_id)).sort(byCost(typical_amount_fen));
  const best = candidates[0];
  if (!best) return { kind: "unavailable", reason: `no usable network signs ${bank_code} cards (${channels.map((c) => why(c, bank_code)).join(", ")})` };
  return { kind: "sign", channel_id: best.channel_id, reason: `cheapest usable network for ${bank_code}` };
}
