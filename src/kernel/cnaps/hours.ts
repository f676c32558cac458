import { assert } from "../assert.ts";
import { CALENDARS, type CalendarData } from "./calendar-data.ts";

/**
 * When each CNAPS rail takes customer credit transfers, in Beijing time (UTC+8, no daylight
 * saving), shared by paycore's router and the sandbox that plays the rails:
 * - HVPS (大额): for working day D, from 20:30 on the calendar day before D until 17:00 on D
 *   (the 17:15–17:30 clearing window and the evening take no customer transfers);
 * - BEPS (小额), IBPS (超级网银), bank-direct (银企直联): 7×24.
 */
export const RAILS = ["hvps", "beps", "ibps", "bank_direct"] as const;
export type Rail = (typeof RAILS)[number];

export const RAIL_NAMES: Record<Rail, string> = { hvps: "HVPS", beps: "BEPS", ibps: "IBPS", bank_direct: "bank-direct" };

const BEIJING_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
export const HVPS_OPENS_PREVIOUS_DAY_MINUTES = 20 * 60 + 30;
export const HVPS_CLOSES_MINUTES = 17 * 60;
/** Bounds the search for the next HVPS day (the longest Chinese holiday run is 9 days). */
const OPENING_SCAN_DAYS_MAX = 60;

export class RailCalendar {
  readonly name: string;
  private readonly holidays: ReadonlySet<string>;
  private readonly working_weekends: ReadonlySet<string>;

  constructor(data: CalendarData) {
    this.name = data.name;
    this.holidays = new Set(data.holidays);
    this.working_weekends = new Set(data.working_weekends);
  }

  static named(name: string): RailCalendar {
    const data = CALENDARS[name];
    assert(data !== undefined, `unknown rail calendar ${name} (known: ${Object.keys(CALENDARS).join(", ")})`);
    return new RailCalendar(data);
  }

  /** A legal working day: a weekday that is not a holiday, or a make-up weekend day. */
  isWorkingDay(date: string): boolean {
    if (this.working_weekends.has(date)) return true;
    if (this.holidays.has(date)) return false;
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    return weekday !== 0 && weekday !== 6;
  }
}

/** Beijing calendar date and minutes past midnight of an instant. */
export function beijingClock(at: Date): { date: string; minutes: number } {
  const shifted = new Date(at.getTime() + BEIJING_OFFSET_MS);
  return { date: shifted.toISOString().slice(0, 10), minutes: shifted.getUTCHours() * 60 + shifted.getUTCMinutes() };
}

function beijingInstant(date: string, minutes: number): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - BEIJING_OFFSET_MS + minutes * 60_000);
}

function nextDate(date: string, days = 1): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

export interface RailWindow {
  open: boolean;
  /** When it opens next (null while open, and for rails that never close). */
  next_open_at: Date | null;
  /** When the current window closes (null for 7×24 rails and while closed). */
  closes_at: Date | null;
}

/** The scheduled state of a rail at an instant (forced states are the caller's business). */
export function railWindow(rail: Rail, at: Date, calendar: RailCalendar): RailWindow {
  if (rail !== "hvps") return { open: true, next_open_at: null, closes_at: null };
  const { date } = beijingClock(at);
  // The window for working day D runs [D-1 20:30, D 17:00): look at today's and later days' windows.
  for (let offset = 0; offset <= OPENING_SCAN_DAYS_MAX; offset++) {
    const day = nextDate(date, offset);
    if (!calendar.isWorkingDay(day)) continue;
    const opens = beijingInstant(nextDate(day, -1), HVPS_OPENS_PREVIOUS_DAY_MINUTES);
    const closes = beijingInstant(day, HVPS_CLOSES_MINUTES);
    if (at.getTime() >= closes.getTime()) continue;
    if (at.getTime() >= opens.getTime()) return { open: true, next_open_at: null, closes_at: closes };
    return { open: false, next_open_at: opens, closes_at: null };
  }
  assert(false, `no HVPS working day within ${OPENING_SCAN_DAYS_MAX} days of ${date}`);
}

/** "20:30 tonight", "20:30 Sunday 2026-12-06": when a rail opens, in Beijing time, for people. */
export function describeOpening(opens_at: Date, now: Date): string {
  const when = beijingClock(opens_at);
  const today = beijingClock(now).date;
  const hhmm = `${String(Math.floor(when.minutes / 60)).padStart(2, "0")}:${String(when.minutes % 60).padStart(2, "0")}`;
  if (when.date === today) return `${hhmm} tonight`;
  if (when.date === nextDate(today)) return `${hhmm} tomorrow`;
  const weekday = new Date(`${when.date}T00:00:00Z`).toLocaleDateString("en-GB", { weekday: "long", timeZone: "UTC" });
  return `${hhmm} ${weekday} ${when.date}`;
}
