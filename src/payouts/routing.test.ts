import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RailCalendar, railWindow, type Rail } from "../kernel/cnaps/hours.ts";
import { routePayout, type PayoutToRoute, type RailChoice } from "./routing.ts";

const cn = RailCalendar.named("cn");
const test_calendar = RailCalendar.named("test");
const bj = (local: string) => new Date(`${local}+08:00`);
const YUAN = 100n;

const DEFAULT_RAILS: RailChoice[] = [
  { rail: "hvps", enabled: true, healthy: true, per_item_max: null, cost_per_item: 500n },
  { rail: "beps", enabled: true, healthy: true, per_item_max: 50_000n * YUAN, cost_per_item: 50n },
  { rail: "ibps", enabled: true, healthy: true, per_item_max: 50_000n * YUAN, cost_per_item: 30n },
  { rail: "bank_direct", enabled: true, healthy: true, per_item_max: null, cost_per_item: 20n },
];
const payout = (yuan: bigint, extra: Partial<PayoutToRoute> = {}): PayoutToRoute => ({ amount: yuan * YUAN, urgency: "normal", payee_in_ibps: true, payee_at_reserve_bank: false, ...extra });

describe("routePayout: the table", () => {
  const tuesday_night = bj("2026-12-01T22:00:00");
  const friday_night = bj("2026-12-04T22:00:00");
  const tuesday_evening = bj("2026-12-01T18:00:00");
  const cases: { name: string; p: PayoutToRoute; at: Date; rails?: RailChoice[]; kind: string; rail?: Rail; reason: string }[] = [
    { name: "big, HVPS closed in the evening: queued for 20:30", p: payout(52_000n), at: tuesday_evening, kind: "queue", rail: "hvps", reason: "52,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS opens 20:30 tonight: queued" },
    { name: "big on a Friday night: queued until Sunday evening", p: payout(52_000n), at: friday_night, kind: "queue", rail: "hvps", reason: "52,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS opens 20:30 Sunday 2026-12-06: queued" },
    { name: "big at night before a working day: HVPS", p: payout(52_000n), at: tuesday_night, kind: "send", rail: "hvps", reason: "52,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS is open: sent by HVPS" },
    { name: "small, normal, payee in IBPS: IBPS is cheapest", p: payout(20_000n), at: friday_night, kind: "send", rail: "ibps", reason: "IBPS is the cheapest open rail that can take it: sent by IBPS" },
    { name: "small, urgent, payee in IBPS: IBPS", p: payout(20_000n, { urgency: "urgent" }), at: friday_night, kind: "send", rail: "ibps", reason: "an urgent payout does not wait for a BEPS batch; IBPS is open: sent by IBPS" },
    { name: "small, urgent, payee not in IBPS, HVPS closed: queued", p: payout(20_000n, { urgency: "urgent", payee_in_ibps: false }), at: friday_night, kind: "queue", rail: "hvps", reason: "the payee bank is not in IBPS; an urgent payout does not wait for a BEPS batch; HVPS opens 20:30 Sunday 2026-12-06: queued" },
    { name: "small, payee not in IBPS: BEPS", p: payout(20_000n, { payee_in_ibps: false }), at: friday_night, kind: "send", rail: "beps", reason: "the payee bank is not in IBPS; BEPS is open: sent by BEPS" },
    { name: "payee at the reserve bank: bank-direct", p: payout(900_000n, { payee_at_reserve_bank: true }), at: friday_night, kind: "send", rail: "bank_direct", reason: "900,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; bank-direct is open: sent by bank-direct" },
    { name: "holiday: HVPS closed all day", p: payout(52_000n), at: bj("2026-10-01T11:00:00"), kind: "queue", rail: "hvps", reason: "52,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS opens 20:30 Wednesday 2026-10-07: queued" },
    {
      name: "a cheaper BEPS wins over IBPS when an operator changes the costs", p: payout(100n), at: tuesday_night, kind: "send", rail: "beps", reason: "BEPS is the cheapest open rail that can take it: sent by BEPS",
      rails: DEFAULT_RAILS.map((r) => (r.rail === "beps" ? { ...r, cost_per_item: 10n } : r)),
    },
    {
      name: "every rail disabled or unhealthy: no route", p: payout(100n), at: tuesday_night, kind: "none", reason: "HVPS/BEPS/bank-direct are disabled; IBPS is unhealthy; no rail can take this payout",
      rails: DEFAULT_RAILS.map((r) => (r.rail === "ibps" ? { ...r, healthy: false } : { ...r, enabled: false })),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const route = routePayout(c.p, c.rails ?? DEFAULT_RAILS, c.at, cn);
      expect(route.kind).toBe(c.kind);
      if (route.kind !== "none") expect(route.rail).toBe(c.rail);
      expect(route.reason).toBe(c.reason);
    });
  }
});

describe("routePayout: properties over amount × time of day × calendar day × participation × urgency", () => {
  const days = ["2030-12-31", "2031-01-01", "2031-01-02", "2031-01-03", "2031-01-04", "2031-01-05", "2031-01-06"];
  const input = fc.record({
    amount_fen: fc.oneof(fc.bigInt({ min: 1n, max: 10_000_000n }), fc.constantFrom(4_999_999n, 5_000_000n, 5_000_001n), fc.bigInt({ min: 1n, max: 10n ** 12n })),
    day: fc.constantFrom(...days),
    minutes: fc.integer({ min: 0, max: 24 * 60 - 1 }),
    payee_in_ibps: fc.boolean(),
    payee_at_reserve_bank: fc.boolean(),
    urgency: fc.constantFrom("normal" as const, "urgent" as const),
    ibps_healthy: fc.boolean(),
    hvps_enabled: fc.boolean(),
  });

  it("sends only by an open rail that may take the payout, the cheapest; otherwise queues for the first to open", () => {
    fc.assert(
      fc.property(input, (i) => {
        const now = new Date(Date.parse(`${i.day}T00:00:00+08:00`) + i.minutes * 60_000);
        const rails = DEFAULT_RAILS.map((r) => ({ ...r, healthy: r.rail === "ibps" ? i.ibps_healthy : true, enabled: r.rail === "hvps" ? i.hvps_enabled : true }));
        const p: PayoutToRoute = { amount: i.amount_fen, urgency: i.urgency, payee_in_ibps: i.payee_in_ibps, payee_at_reserve_bank: i.payee_at_reserve_bank };
        const may = (r: RailChoice) =>
          r.enabled && r.healthy && (r.per_item_max === null || p.amount <= r.per_item_max) && (r.rail !== "ibps" || p.payee_in_ibps) &&
          (r.rail !== "bank_direct" || p.payee_at_reserve_bank) && !(r.rail === "beps" && p.urgency === "urgent");
        const eligible = rails.filter(may);
        const open = eligible.filter((r) => railWindow(r.rail, now, test_calendar).open);
        const route = routePayout(p, rails, now, test_calendar);
        expect(route.reason.length).toBeGreaterThan(0);
        if (route.kind === "send") {
          const chosen = rails.find((r) => r.rail === route.rail)!;
          expect(may(chosen)).toBe(true);
          expect(railWindow(route.rail, now, test_calendar).open).toBe(true);
          expect(open.every((r) => r.cost_per_item >= chosen.cost_per_item)).toBe(true);
        } else if (route.kind === "queue") {
          expect(open).toEqual([]);
          expect(may(rails.find((r) => r.rail === route.rail)!)).toBe(true);
          expect(route.opens_at.getTime()).toBeGreaterThan(now.getTime());
          for (const r of eligible) expect(railWindow(r.rail, now, test_calendar).next_open_at!.getTime()).toBeGreaterThanOrEqual(route.opens_at.getTime());
          expect(route.reason).toMatch(/: queued$/);
        } else {
          expect(eligible).toEqual([]);
        }
        // Urgent money over the small-value caps goes only in real time: HVPS, or bank-direct at the reserve bank.
        if (p.urgency === "urgent" && p.amount > 5_000_000n && route.kind !== "none") expect(["hvps", "bank_direct"]).toContain(route.rail);
        // A holiday (2031-01-01, and 2031-01-02 until 20:30) never sends by HVPS.
        if (i.day === "2031-01-01" || (i.day === "2031-01-02" && i.minutes < 20 * 60 + 30)) expect(route.kind === "send" && route.rail === "hvps").toBe(false);
      }),
      { numRuns: 2_000, seed: 20_180_502 },
    );
  });
});
