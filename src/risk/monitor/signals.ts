/**
 * Merchant monitoring signals: each turns one measured figure of a merchant ID's recent traffic
 * into a strength between 0 and 1 (0 below the normal line, 1 at the clearly abnormal line,
 * linear between), times its weight in points. The score is the sum, capped at 100. The lines
 * are where normal merchants of every category in the simulation stay below (docs/risk.md).
 */
export interface MerchantFeatures {
  payments: number;
  night: number;
  weekend: number;
  round: number;
  /** Payments whose amount is one of the merchant's three most frequent amounts. */
  top_amounts: number;
  failed: number;
  refunded: number;
  distinct_cards: number;
  distinct_holders: number;
  /** ID holders paying here whose card phone is also another ID holder's card phone. */
  holders_sharing_phone: number;
  avg_ticket_fen: number;
  /** Payments per week over the previous weeks (null: no history to compare with). */
  previous_weekly: number | null;
  recent_weekly: number;
  settlement_cycle_days: number;
  /** The typical ticket of the merchant's declared category (null: unknown category, no peers). */
  category_ticket_fen: number | null;
  business_category: string;
}

export interface Signal {
  name: string;
  /** The measured figure (a share 0–1, a ratio, a count). */
  value: number;
  /** Points this signal can contribute at most. */
  weight: number;
  /** Points it contributed (weight × strength), rounded to 0.1. */
  contribution: number;
  /** What it means, in words an operator can act on. */
  detail: string;
}

const ramp = (value: number, normal: number, abnormal: number) => Math.max(0, Math.min(1, (value - normal) / (abnormal - normal)));
const pct = (share: number) => `${Math.round(share * 100)}%`;
const yuan = (fen: number) => (fen / 100).toFixed(2);

interface SignalDef {
  name: string;
  weight: number;
  measure(f: MerchantFeatures): { value: number; strength: number; detail: string } | null;
}

export const SIGNALS: readonly SignalDef[] = [
  {
    name: "night_share",
    weight: 18,
    measure: (f) => {
      const v = f.night / f.payments;
      return { value: v, strength: ramp(v, 0.12, 0.35), detail: `${pct(v)} of payments between 00:00 and 06:00 Beijing time (normal below 12%)` };
    },
  },
  {
    name: "weekend_share",
    weight: 7,
    measure: (f) => {
      const v = f.weekend / f.payments;
      return { value: v, strength: ramp(v, 0.4, 0.65), detail: `${pct(v)} of payments on Saturday or Sunday (an even week is 29%)` };
    },
  },
  {
    name: "round_amount_share",
    weight: 15,
    measure: (f) => {
      const v = f.round / f.payments;
      return { value: v, strength: ramp(v, 0.15, 0.5), detail: `${pct(v)} of payments are whole hundreds of yuan (normal below 15%)` };
    },
  },
  {
    name: "repeated_amount_share",
    weight: 5,
    measure: (f) => {
      const v = f.top_amounts / f.payments;
      return { value: v, strength: ramp(v, 0.5, 0.85), detail: `${pct(v)} of payments use one of three amounts` };
    },
  },
  {
    name: "cards_per_id_holder",
    weight: 12,
    measure: (f) => {
      const v = f.distinct_holders === 0 ? 0 : f.distinct_cards / f.distinct_holders;
      return { value: v, strength: ramp(v, 1.15, 1.8), detail: `payers use ${v.toFixed(2)} cards each on average (normal about 1)` };
    },
  },
  {
    name: "id_holders_sharing_phone",
    weight: 10,
    measure: (f) => {
      const v = f.distinct_holders === 0 ? 0 : f.holders_sharing_phone / f.distinct_holders;
      return { value: v, strength: ramp(v, 0.05, 0.3), detail: `${pct(v)} of payers' cards carry a phone that another ID holder's card also carries` };
    },
  },
  {
    name: "fan_in_quick_payout",
    weight: 8,
    measure: (f) => {
      const fan_in = f.distinct_cards / f.payments;
      const speed = f.settlement_cycle_days === 0 ? 1 : f.settlement_cycle_days === 1 ? 0.4 : 0;
      return { value: fan_in, strength: ramp(fan_in, 0.5, 0.85) * speed, detail: `${pct(fan_in)} of payments from distinct cards, settled T+${f.settlement_cycle_days}` };
    },
  },
  {
    name: "failure_rate",
    weight: 10,
    measure: (f) => {
      const v = f.failed / f.payments;
      return { value: v, strength: ramp(v, 0.12, 0.35), detail: `${pct(v)} of payments failed (normal below 12%)` };
    },
  },
  {
    name: "refund_rate",
    weight: 5,
    measure: (f) => {
      const v = f.refunded / f.payments;
      return { value: v, strength: ramp(v, 0.1, 0.3), detail: `${pct(v)} of payments refunded (normal below 10%)` };
    },
  },
  {
    name: "volume_jump",
    weight: 10,
    measure: (f) => {
      if (f.previous_weekly === null) return null;
      const v = f.recent_weekly / Math.max(f.previous_weekly, 1);
      return { value: v, strength: ramp(v, 2, 5), detail: `${Math.round(f.recent_weekly)} payments a week now against ${Math.round(f.previous_weekly)} in the previous weeks (×${v.toFixed(1)})` };
    },
  },
  {
    name: "ticket_vs_category",
    weight: 10,
    measure: (f) => {
      if (f.category_ticket_fen === null || f.category_ticket_fen <= 0) return null;
      const v = f.avg_ticket_fen / f.category_ticket_fen;
      return { value: v, strength: ramp(Math.abs(Math.log(v)), Math.log(2.5), Math.log(8)), detail: `average ticket ${yuan(f.avg_ticket_fen)} yuan against ${yuan(f.category_ticket_fen)} yuan typical for ${f.business_category} (×${v.toFixed(1)})` };
    },
  },
];

export function scoreMerchant(f: MerchantFeatures): { score: number; signals: Signal[] } {
  const signals: Signal[] = [];
  for (const def of SIGNALS) {
    const m = def.measure(f);
    if (!m) continue;
    signals.push({ name: def.name, value: Math.round(m.value * 1000) / 1000, weight: def.weight, contribution: Math.round(def.weight * m.strength * 10) / 10, detail: m.detail });
  }
  const total = signals.reduce((s, x) => s + x.contribution, 0);
  return { score: Math.min(100, Math.round(total)), signals: signals.sort((a, b) => b.contribution - a.contribution) };
}

/**
 * Typical tickets (fen) per declared business category, used when fewer than three peers of the
 * category were scored in the same run (peers' median wins otherwise).
 */
export const CATEGORY_TICKET_FEN: Record<string, number> = {
  retail: 8_000,
  grocery: 6_000,
  restaurant: 9_000,
  ecommerce: 15_000,
  travel: 120_000,
  education: 200_000,
  utilities: 15_000,
  subscription: 3_000,
  games: 3_000,
  insurance: 80_000,
};
