import { RAIL_NAMES, describeOpening, railWindow, type Rail, type RailCalendar } from "../kernel/cnaps/hours.ts";
import type { Fen } from "../kernel/money.ts";

/**
 * Picks the rail for a payout: one pure function of the payout, the rails' configuration and
 * health, the calendar and the time. Rules, in order:
 * 1. a rail can take the payout only if it is enabled and healthy, the amount is within its
 *    per-item cap, IBPS only when the payee bank takes part in IBPS, bank-direct only when the
 *    payee banks with the reserve bank, and BEPS never for an urgent payout (it waits for a batch);
 * 2. of those open now, the cheapest (cost per item) wins; ties go bank-direct, IBPS, BEPS, HVPS;
 * 3. when none is open now, the payout is queued for the one that opens first (an urgent payout
 *    over the small-value caps waits for HVPS);
 * 4. when none can ever take it, there is no route (the rails are disabled or unhealthy).
 * `reason` says why in words an operator and a merchant can read.
 */
export interface RailChoice {
  rail: Rail;
  enabled: boolean;
  healthy: boolean;
  per_item_max: Fen | null;
  cost_per_item: Fen;
}

export interface PayoutToRoute {
  amount: Fen;
  urgency: "normal" | "urgent";
  payee_in_ibps: boolean;
  payee_at_reserve_bank: boolean;
}

export type PayoutRoute =
  | { kind: "send"; rail: Rail; reason: string }
  | { kind: "queue"; rail: Rail; opens_at: Date; reason: string }
  | { kind: "none"; reason: string };

const TIE_ORDER: readonly Rail[] = ["bank_direct", "ibps", "beps", "hvps"];

/** 52,000.00: yuan with thousands separators, for reasons people read. */
export function yuanText(amount: Fen): string {
  const yuan = (amount / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${yuan}.${(amount % 100n).toString().padStart(2, "0")}`;
}

type Exclusion = { rail: Rail; why: "disabled" | "unhealthy" | "over_cap" | "not_ibps" | "not_reserve_bank" | "urgent" };

function exclusion(r: RailChoice, p: PayoutToRoute): Exclusion["why"] | null {
  if (!r.enabled) return "disabled";
  if (r.per_item_max !== null && p.amount > r.per_item_max) return "over_cap";
  if (r.rail === "ibps" && !p.payee_in_ibps) return "not_ibps";
  if (r.rail === "bank_direct" && !p.payee_at_reserve_bank) return "not_reserve_bank";
  if (r.rail === "beps" && p.urgency === "urgent") return "urgent";
  if (!r.healthy) return "unhealthy";
  return null;
}

/** The exclusions that matter to a reader, grouped: "52,000.00 yuan is over the BEPS/IBPS cap of 50,000.00". */
function explain(excluded: readonly Exclusion[], rails: readonly RailChoice[], p: PayoutToRoute): string[] {
  const names = (why: Exclusion["why"]) => excluded.filter((e) => e.why === why).map((e) => RAIL_NAMES[e.rail]);
  const notes: string[] = [];
  const capped = excluded.filter((e) => e.why === "over_cap").map((e) => rails.find((r) => r.rail === e.rail)!);
  const caps = [...new Set(capped.map((r) => r.per_item_max!))].sort((a, b) => (a < b ? -1 : 1));
  for (const cap of caps) {
    const over = capped.filter((r) => r.per_item_max === cap).map((r) => RAIL_NAMES[r.rail]);
    notes.push(`${yuanText(p.amount)} yuan is over the ${over.join("/")} cap of ${yuanText(cap)}`);
  }
  if (names("not_ibps").length) notes.push("the payee bank is not in IBPS");
  if (names("urgent").length) notes.push("an urgent payout does not wait for a BEPS batch");
  for (const why of ["disabled", "unhealthy"] as const) if (names(why).length) notes.push(`${names(why).join("/")} ${names(why).length > 1 ? "are" : "is"} ${why}`);
  return notes;
}

const cheaper = (a: RailChoice, b: RailChoice) => (a.cost_per_item !== b.cost_per_item ? (a.cost_per_item < b.cost_per_item ? -1 : 1) : TIE_ORDER.indexOf(a.rail) - TIE_ORDER.indexOf(b.rail));

export function routePayout(p: PayoutToRoute, rails: readonly RailChoice[], now: Date, calendar: RailCalendar): PayoutRoute {
  const excluded: Exclusion[] = [];
  const usable: RailChoice[] = [];
  for (const r of rails) {
    const why = exclusion(r, p);
    if (why) excluded.push({ rail: r.rail, why });
    else usable.push(r);
  }
  const notes = explain(excluded, rails, p);
  const open = usable.filter((r) => railWindow(r.rail, now, calendar).open).sort(cheaper);
  if (open.length > 0) {
    const best = open[0]!;
    const choice = open.length > 1 ? `${RAIL_NAMES[best.rail]} is the cheapest open rail that can take it` : `${RAIL_NAMES[best.rail]} is open`;
    return { kind: "send", rail: best.rail, reason: [...notes, `${choice}: sent by ${RAIL_NAMES[best.rail]}`].join("; ") };
  }
  const later = usable
    .map((r) => ({ r, opens_at: railWindow(r.rail, now, calendar).next_open_at! }))
    .sort((a, b) => a.opens_at.getTime() - b.opens_at.getTime() || cheaper(a.r, b.r));
  const first = later[0];
  if (!first) return { kind: "none", reason: [...notes, "no rail can take this payout"].join("; ") };
  return { kind: "queue", rail: first.r.rail, opens_at: first.opens_at, reason: [...notes, `${RAIL_NAMES[first.r.rail]} opens ${describeOpening(first.opens_at, now)}: queued`].join("; ") };
}
