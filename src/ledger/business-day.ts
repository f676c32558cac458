import type { Kysely } from "kysely";
import { cachedConfig, type Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { LEDGER_LIMITS } from "./limits.ts";

/**
 * Business days in Beijing time (UTC+8, no daylight saving). A business day closes at the daily
 * cut-off: an event at or after the cut-off belongs to the next business day. Dates are ISO
 * `YYYY-MM-DD` strings everywhere (never JS Dates, which carry a time zone).
 */
export const BEIJING_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const MINUTES_PER_DAY = 1_440;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

function dayNumber(date: string): number {
  assert(isIsoDate(date), `not an ISO date: ${date}`);
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}

function dateOfDayNumber(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  assert(Number.isInteger(days), "days must be an integer");
  return dateOfDayNumber(dayNumber(date) + days);
}

/** 0 = Sunday … 6 = Saturday. */
export function dayOfWeek(date: string): number {
  return new Date(dayNumber(date) * DAY_MS).getUTCDay();
}

export function assertCutoff(cutoff_minutes: number): void {
  assert(Number.isInteger(cutoff_minutes) && cutoff_minutes >= 1 && cutoff_minutes <= MINUTES_PER_DAY, "cut-off must be 1..1440 minutes after Beijing midnight");
}

/** The business day an instant belongs to. */
export function businessDate(at: Date, cutoff_minutes: number): string {
  assertCutoff(cutoff_minutes);
  const shifted_ms = at.getTime() + BEIJING_OFFSET_MS;
  const day = Math.floor(shifted_ms / DAY_MS);
  const minute_of_day = (shifted_ms - day * DAY_MS) / MINUTE_MS;
  return dateOfDayNumber(minute_of_day >= cutoff_minutes ? day + 1 : day);
}

/** The instant business day `date` closes (its last instant is one millisecond before). */
export function businessDayClosesAt(date: string, cutoff_minutes: number): Date {
  assertCutoff(cutoff_minutes);
  return new Date(dayNumber(date) * DAY_MS - BEIJING_OFFSET_MS + cutoff_minutes * MINUTE_MS);
}

/** An instant as Beijing wall-clock time, `YYYY-MM-DD HH:MM` (for messages). */
export function beijingTime(at: Date): string {
  return new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 16).replace("T", " ");
}

export interface SettlementCalendar {
  cutoff_minutes: number;
  /** Weekdays without settlement (public holidays). */
  holidays: ReadonlySet<string>;
  /** Weekend days with settlement (调休 make-up working days). */
  working_days: ReadonlySet<string>;
}

export function isWorkingDay(calendar: SettlementCalendar, date: string): boolean {
  if (calendar.holidays.has(date)) return false;
  if (calendar.working_days.has(date)) return true;
  const dow = dayOfWeek(date);
  return dow !== 0 && dow !== 6;
}

/**
 * When money of business day `business_date` matures on cycle `cycle_days`: D+0 is the same day;
 * T+N is the N-th working day after it.
 */
export function maturityDate(calendar: SettlementCalendar, business_date: string, cycle_days: number): string {
  assert(Number.isInteger(cycle_days) && cycle_days >= 0 && cycle_days <= LEDGER_LIMITS.cycle_days_max, "cycle days out of range");
  if (cycle_days === 0) return business_date;
  let date = business_date;
  let counted = 0;
  for (let step = 0; step < LEDGER_LIMITS.calendar_scan_days_max; step++) {
    date = addDays(date, 1);
    if (isWorkingDay(calendar, date)) counted += 1;
    if (counted === cycle_days) return date;
  }
  assert(false, `no ${cycle_days} working days within ${LEDGER_LIMITS.calendar_scan_days_max} days of ${business_date}`);
}

/**
 * The last business day whose money has matured by settlement date `date` on cycle `cycle_days`.
 * Maturity is monotone in the business day, so the matured days are exactly those up to this one.
 */
export function lastMaturedBusinessDate(calendar: SettlementCalendar, date: string, cycle_days: number): string {
  if (cycle_days === 0) return date;
  let candidate = addDays(date, -1);
  for (let step = 0; step < LEDGER_LIMITS.calendar_scan_days_max; step++) {
    if (maturityDate(calendar, candidate, cycle_days) <= date) return candidate;
    candidate = addDays(candidate, -1);
  }
  assert(false, `no matured business day within ${LEDGER_LIMITS.calendar_scan_days_max} days before ${date}`);
}

export async function loadCutoffMinutes(db: Kysely<Database>): Promise<number> {
  const cutoff_minutes = await cachedConfig(db, "settlement_cutoff", async () => {
    const row = await db.selectFrom("settlement_calendar").select("cutoff_minutes").where("singleton", "=", true).executeTakeFirstOrThrow();
    return row.cutoff_minutes;
  });
  assertCutoff(cutoff_minutes);
  return cutoff_minutes;
}

export async function loadCalendar(db: Kysely<Database>): Promise<SettlementCalendar> {
  const cutoff_minutes = await loadCutoffMinutes(db);
  const days = await db.selectFrom("settlement_calendar_days").selectAll().orderBy("day").limit(LEDGER_LIMITS.calendar_days_max + 1).execute();
  assert(days.length <= LEDGER_LIMITS.calendar_days_max, "too many calendar exception days");
  return {
    cutoff_minutes,
    holidays: new Set(days.filter((d) => d.kind === "holiday").map((d) => d.day)),
    working_days: new Set(days.filter((d) => d.kind === "working").map((d) => d.day)),
  };
}

export interface CalendarChange {
  cutoff_minutes?: number | undefined;
  /** Set a day's exception ('holiday' | 'working'), or remove it (null). */
  days?: { day: string; kind: "holiday" | "working" | null }[] | undefined;
}

/** Changes apply to events from now on: a posted entry keeps the business day it was given. */
export async function updateCalendar(db: Kysely<Database>, change: CalendarChange, at: Date): Promise<SettlementCalendar> {
  await db.transaction().execute(async (trx) => {
    if (change.cutoff_minutes !== undefined) {
      assertCutoff(change.cutoff_minutes);
      await trx.updateTable("settlement_calendar").set({ cutoff_minutes: change.cutoff_minutes, updated_at: at }).where("singleton", "=", true).execute();
    }
    for (const d of change.days ?? []) {
      assert(isIsoDate(d.day), `not an ISO date: ${d.day}`);
      if (d.kind === null) await trx.deleteFrom("settlement_calendar_days").where("day", "=", d.day).execute();
      else await trx.insertInto("settlement_calendar_days").values({ day: d.day, kind: d.kind }).onConflict((oc) => oc.column("day").doUpdateSet({ kind: d.kind! })).execute();
    }
  });
  return loadCalendar(db);
}
