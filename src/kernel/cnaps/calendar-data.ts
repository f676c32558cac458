/**
 * The PBoC payment systems' calendar as data: the days a weekday is a public holiday, and the
 * weekend days that are working days (调休 make-up days). HVPS runs on working days only; BEPS and
 * IBPS run every day. `cn` follows the State Council's holiday notices as the sandbox knows them
 * (an operator loading a new year adds its lines here); `test` is a fixed, made-up calendar for
 * tests, so they do not depend on which year it is.
 */
export interface CalendarData {
  name: string;
  /** `YYYY-MM-DD` weekdays that are not working days. */
  holidays: readonly string[];
  /** `YYYY-MM-DD` Saturdays or Sundays that are working days. */
  working_weekends: readonly string[];
}

export const CN_CALENDAR: CalendarData = {
  name: "cn",
  holidays: [
    // 2026: New Year, Spring Festival, Qingming, Labour Day, Dragon Boat, Mid-Autumn, National Day.
    "2026-01-01", "2026-01-02",
    "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
    "2026-04-06",
    "2026-05-01", "2026-05-04", "2026-05-05",
    "2026-06-19",
    "2026-09-25",
    "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07",
    // 2027 New Year.
    "2027-01-01",
  ],
  working_weekends: ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
};

export const TEST_CALENDAR: CalendarData = {
  name: "test",
  // Wednesday 2031-01-01 and Thursday 2031-01-02 are holidays; Saturday 2031-01-04 is worked.
  holidays: ["2031-01-01", "2031-01-02"],
  working_weekends: ["2031-01-04"],
};

export const CALENDARS: Record<string, CalendarData> = { cn: CN_CALENDAR, test: TEST_CALENDAR };
