import { describe, expect, it } from "vitest";
import { RailCalendar, describeOpening, railWindow } from "./hours.ts";

const cn = RailCalendar.named("cn");
const test = RailCalendar.named("test");
/** An instant from Beijing wall-clock time. */
const bj = (local: string) => new Date(`${local}+08:00`);

describe("rail hours on the calendar", () => {
  it("HVPS runs from 20:30 the evening before a working day until 17:00", () => {
    // Tuesday 2026-12-01 and Wednesday 2026-12-02 are working days.
    expect(railWindow("hvps", bj("2026-12-01T09:00:00"), cn).open).toBe(true);
    expect(railWindow("hvps", bj("2026-12-01T16:59:00"), cn).open).toBe(true);
    const evening = railWindow("hvps", bj("2026-12-01T17:00:00"), cn);
    expect(evening.open).toBe(false);
    expect(evening.next_open_at).toEqual(bj("2026-12-01T20:30:00"));
    expect(railWindow("hvps", bj("2026-12-01T20:30:00"), cn).open).toBe(true);
    expect(railWindow("hvps", bj("2026-12-02T03:00:00"), cn).closes_at).toEqual(bj("2026-12-02T17:00:00"));
  });

  it("HVPS stays shut over a weekend and reopens the evening before Monday", () => {
    const friday_night = railWindow("hvps", bj("2026-12-04T22:00:00"), cn);
    expect(friday_night.open).toBe(false);
    expect(friday_night.next_open_at).toEqual(bj("2026-12-06T20:30:00"));
    expect(describeOpening(friday_night.next_open_at!, bj("2026-12-04T22:00:00"))).toBe("20:30 Sunday 2026-12-06");
  });

  it("a holiday keeps HVPS closed all day; a make-up Saturday opens it", () => {
    for (const hour of ["00:00", "09:00", "12:00", "16:00", "21:00"]) expect(railWindow("hvps", bj(`2026-10-01T${hour}:00`), cn).open).toBe(false);
    expect(railWindow("hvps", bj("2026-10-01T09:00:00"), cn).next_open_at).toEqual(bj("2026-10-07T20:30:00"));
    expect(railWindow("hvps", bj("2026-10-10T10:00:00"), cn).open).toBe(true);
    expect(test.isWorkingDay("2031-01-01")).toBe(false);
    expect(test.isWorkingDay("2031-01-04")).toBe(true);
    expect(railWindow("hvps", bj("2031-01-02T10:00:00"), test).next_open_at).toEqual(bj("2031-01-02T20:30:00"));
  });

  it("BEPS, IBPS and bank-direct never close on schedule", () => {
    for (const rail of ["beps", "ibps", "bank_direct"] as const) expect(railWindow(rail, bj("2026-10-01T03:00:00"), cn).open).toBe(true);
  });
});
