import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CUTOFF_EPOCH,
  addDays,
  businessDate,
  businessDateIn,
  businessDayClosesAt,
  dayClosesAt,
  type CutoffHistory,
  isIsoDate,
  lastMaturedBusinessDate,
  maturityDate,
  refundFeeReturned,
  type SettlementCalendar,
} from "../../src/ledger/index.ts";

const plain: SettlementCalendar = { cutoffs: [{ effective_from: CUTOFF_EPOCH, cutoff_minutes: 1380 }], holidays: new Set(), working_days: new Set() };
// National Day week 2026: 1–7 October off, Sunday 27 September and Saturday 10 October worked (调休).
const golden_week: SettlementCalendar = {
  cutoffs: [{ effective_from: CUTOFF_EPOCH, cutoff_minutes: 1380 }],
  holidays: new Set(["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]),
  working_days: new Set(["2026-09-27", "2026-10-10"]),
};

describe("business days (Beijing time, daily cut-off, working days)", () => {
  it("puts an event at or after the cut-off into the next business day", () => {
    expect(businessDate(new Date("2026-03-02T14:59:59.999Z"), 1380)).toBe("2026-03-02"); // 22:59:59.999 Beijing
    expect(businessDate(new Date("2026-03-02T15:00:00Z"), 1380)).toBe("2026-03-03"); // 23:00 Beijing
    expect(businessDate(new Date("2026-03-02T15:59:59Z"), 1440)).toBe("2026-03-02"); // midnight cut-off
    expect(businessDate(new Date("2026-03-02T16:00:00Z"), 1440)).toBe("2026-03-03");
    expect(businessDate(new Date("2026-03-01T16:30:00Z"), 1380)).toBe("2026-03-02"); // 00:30 Beijing
    expect(businessDayClosesAt("2026-03-02", 1380).toISOString()).toBe("2026-03-02T15:00:00.000Z");
    expect(businessDayClosesAt("2026-03-02", 1440).toISOString()).toBe("2026-03-02T16:00:00.000Z");
  });

  it("the close of a day is the first instant of the next, for every cut-off", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 1440 }), (n, cutoff) => {
        const day = addDays("2020-01-01", n);
        const close = businessDayClosesAt(day, cutoff);
        expect(businessDate(new Date(close.getTime() - 1), cutoff)).toBe(day);
        expect(businessDate(close, cutoff)).toBe(addDays(day, 1));
      }),
    );
  });

  it("under a cut-off history each day closes at its own cut-off; a change never moves an earlier day", () => {
    // 23:00 until 3 March, 23:30 from 4 March (Beijing).
    const moved: CutoffHistory = [
      { effective_from: CUTOFF_EPOCH, cutoff_minutes: 1380 },
      { effective_from: "2026-03-04", cutoff_minutes: 1410 },
    ];
    expect(dayClosesAt(moved, "2026-03-03").toISOString()).toBe("2026-03-03T15:00:00.000Z");
    expect(dayClosesAt(moved, "2026-03-04").toISOString()).toBe("2026-03-04T15:30:00.000Z");
    expect(businessDateIn(moved, new Date("2026-03-03T15:10:00Z"))).toBe("2026-03-04"); // 23:10 on the 3rd: old cut-off
    expect(businessDateIn(moved, new Date("2026-03-04T15:10:00Z"))).toBe("2026-03-04"); // 23:10 on the 4th: new cut-off
    expect(businessDateIn(moved, new Date("2026-03-04T15:30:00Z"))).toBe("2026-03-05");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 1, max: 1440 }), fc.integer({ min: 1, max: 1440 }), fc.integer({ min: 0, max: 2_000 }), (n, before, after, change) => {
        const history: CutoffHistory = [
          { effective_from: CUTOFF_EPOCH, cutoff_minutes: before },
          { effective_from: addDays("2024-01-01", change), cutoff_minutes: after },
        ];
        const day = addDays("2024-01-01", n);
        const close = dayClosesAt(history, day);
        // Days are contiguous: a day's close is the next day's first instant, whatever the step.
        expect(businessDateIn(history, new Date(close.getTime() - 1))).toBe(day);
        expect(businessDateIn(history, close)).toBe(addDays(day, 1));
        // A day before the step closes exactly as it did without the step.
        if (day < history[1]!.effective_from) expect(close.getTime()).toBe(businessDayClosesAt(day, before).getTime());
      }),
    );
  });

  it("T+N counts working days, with holidays and make-up working days", () => {
    expect(maturityDate(plain, "2026-03-06", 1)).toBe("2026-03-09"); // Friday → Monday
    expect(maturityDate(plain, "2026-03-07", 1)).toBe("2026-03-09"); // Saturday → Monday
    expect(maturityDate(plain, "2026-03-06", 0)).toBe("2026-03-06"); // D+0
    expect(maturityDate(plain, "2026-03-05", 2)).toBe("2026-03-09");
    expect(maturityDate(golden_week, "2026-09-30", 1)).toBe("2026-10-08"); // Thursday after the holidays
    expect(maturityDate(golden_week, "2026-09-26", 1)).toBe("2026-09-27"); // a Sunday that is worked
    expect(maturityDate(golden_week, "2026-10-09", 1)).toBe("2026-10-10"); // a Saturday that is worked
    expect(lastMaturedBusinessDate(plain, "2026-03-09", 1)).toBe("2026-03-08");
    expect(lastMaturedBusinessDate(plain, "2026-03-07", 1)).toBe("2026-03-05");
    expect(lastMaturedBusinessDate(golden_week, "2026-10-08", 1)).toBe("2026-10-07");
  });

  it("the matured business days of a settlement date are exactly those up to lastMaturedBusinessDate", () => {
    const calendars = [plain, golden_week];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 5 }), fc.nat(1), (n, cycle, c) => {
        const calendar = calendars[c]!;
        const date = addDays("2026-01-01", n);
        const last = lastMaturedBusinessDate(calendar, date, cycle);
        expect(maturityDate(calendar, last, cycle) <= date).toBe(true);
        expect(maturityDate(calendar, addDays(last, 1), cycle) > date).toBe(true);
      }),
    );
  });

  it("validates ISO dates strictly", () => {
    expect(isIsoDate("2026-02-28")).toBe(true);
    expect(isIsoDate("2026-02-29")).toBe(false);
    expect(isIsoDate("2026-2-28")).toBe(false);
  });

  it("answers as the regular expression and Date round trip it replaced, on any text of a date's shape", () => {
    const byDate = (value: string): boolean => {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
      if (!m) return false;
      return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).toISOString().slice(0, 10) === value;
    };
    const char = fc.constantFrom(..."0123456789-/ +a\u0660".split(""));
    const shaped = fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([y, m, d]) => `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`);
    const mutated = fc.tuple(shaped, fc.nat(11), char).map(([text, at, c]) => text.slice(0, at) + c + text.slice(at + 1));
    fc.assert(
      fc.property(fc.oneof(shaped, mutated, fc.string({ maxLength: 12 })), (value) => {
        expect(isIsoDate(value)).toBe(byDate(value));
      }),
      { numRuns: 20_000, seed: 20261203 },
    );
    for (const value of ["0099-12-31", "0100-01-01", "1900-02-29", "2000-02-29", "2100-02-29", "2024-02-29", "9999-12-31", "2026-04-31", "2026-00-10", "2026-12-00"]) {
      expect(isIsoDate(value), value).toBe(byDate(value));
    }
  });
});

describe("refund fee returned", () => {
  it("proportional parts of any partial refund sequence add up to the whole fee on a full refund", () => {
    fc.assert(
      fc.property(fc.bigInt(1n, 10_000_000n), fc.integer({ min: 0, max: 10_000 }), fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 12 }), (amount, fee_permyriad, weights) => {
        const fee = (amount * BigInt(fee_permyriad)) / 10_000n;
        const total_weight = BigInt(weights.reduce((a, b) => a + b, 0));
        let refunded = 0n;
        let returned = 0n;
        weights.forEach((weight, i) => {
          const part = i === weights.length - 1 ? amount - refunded : (amount * BigInt(weight)) / total_weight;
          if (part === 0n) return;
          const r = refundFeeReturned({ policy: "proportional", payment_amount: amount, payment_fee: fee, refunded_before: refunded, refund_amount: part });
          expect(r >= 0n).toBe(true);
          refunded += part;
          returned += r;
        });
        expect(refunded).toBe(amount);
        expect(returned).toBe(fee);
      }),
    );
  });
});
