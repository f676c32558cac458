import { sql, type Kysely } from "kysely";
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

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The digit at `at` (0–9), or -1. */
function digitAt(value: string, at: number): number {
  const d = value.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : -1;
}

/**
 * A calendar date `YYYY-MM-DD` of the years 0100–9999 (what `Date.UTC` round-trips; it reads 0–99
 * as 1900–1999). Read by position: asked several times a payment (journal entries, cut-offs), where
 * a regular expression, a Date and its ISO text were about 1 µs a call.
 */
export function isIsoDate(value: string): boolean {
  if (value.length !== 10 || value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45) return false;
  const y0 = digitAt(value, 0), y1 = digitAt(value, 1), y2 = digitAt(value, 2), y3 = digitAt(value, 3);
  const m0 = digitAt(value, 5), m1 = digitAt(value, 6), d0 = digitAt(value, 8), d1 = digitAt(value, 9);
  if ((y0 | y1 | y2 | y3 | m0 | m1 | d0 | d1) < 0) return false;
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  const month = m0 * 10 + m1;
  const day = d0 * 10 + d1;
  if (year < 100 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
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

/**
 * The cut-off is a history, never one mutable number: from business day `effective_from` on, each
 * day closes `cutoff_minutes` after its Beijing midnight, until the next step. A change is a new
 * step from the next open day, so the close of a day that has closed (or is being settled) never
 * moves, and neither does any instant's business day up to it.
 */
export interface CutoffStep {
  effective_from: string;
  cutoff_minutes: number;
}

/** Oldest first; the first step starts at `CUTOFF_EPOCH`, so every business day has a cut-off. */
export type CutoffHistory = readonly CutoffStep[];
export const CUTOFF_EPOCH = "1970-01-01";

/** The cut-off in effect for business day `date`. */
export function cutoffFor(history: CutoffHistory, date: string): number {
  assert(history.length >= 1 && history[0]!.effective_from <= date, `no cut-off for ${date}`);
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.effective_from <= date) return history[i]!.cutoff_minutes;
  assert(false, "unreachable: the first step covers the date");
}

/** When business day `date` closes under the history. */
export function dayClosesAt(history: CutoffHistory, date: string): Date {
  return businessDayClosesAt(date, cutoffFor(history, date));
}

/**
 * The business day of an instant under the history. An instant of Beijing calendar date B belongs
 * to B before B's close and to B + 1 from it (B − 1 closed at or before B's midnight, B + 1 closes
 * after B's end), so only the cut-off in effect for B decides.
 */
export function businessDateIn(history: CutoffHistory, at: Date): string {
  const calendar_date = dateOfDayNumber(Math.floor((at.getTime() + BEIJING_OFFSET_MS) / DAY_MS));
  return at.getTime() >= dayClosesAt(history, calendar_date).getTime() ? addDays(calendar_date, 1) : calendar_date;
}

export interface SettlementCalendar {
  cutoffs: CutoffHistory;
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

function assertHistory(history: CutoffHistory): void {
  assert(history.length >= 1 && history[0]!.effective_from === CUTOFF_EPOCH, "the cut-off history starts at the epoch");
  for (let i = 0; i < history.length; i++) {
    assertCutoff(history[i]!.cutoff_minutes);
    assert(isIsoDate(history[i]!.effective_from), "cut-off steps start on a date");
    assert(i === 0 || history[i - 1]!.effective_from < history[i]!.effective_from, "cut-off steps are ordered");
  }
}

export async function loadCutoffHistory(db: Kysely<Database>): Promise<CutoffHistory> {
  const history = await cachedConfig(db, "settlement_cutoffs", async () => {
    const rows = await db
      .selectFrom("settlement_cutoffs")
      .select(["effective_from", "cutoff_minutes"])
      .orderBy("effective_from")
      .limit(LEDGER_LIMITS.cutoff_steps_max + 1)
      .execute();
    assert(rows.length <= LEDGER_LIMITS.cutoff_steps_max, "too many cut-off changes");
    return rows;
  });
  assertHistory(history);
  return history;
}

/** The business day an instant belongs to, under the cut-off history in the database. */
export async function businessDateAt(db: Kysely<Database>, at: Date): Promise<string> {
  return businessDateIn(await loadCutoffHistory(db), at);
}

export async function loadCalendar(db: Kysely<Database>): Promise<SettlementCalendar> {
  const cutoffs = await loadCutoffHistory(db);
  const days = await db.selectFrom("settlement_calendar_days").selectAll().orderBy("day").limit(LEDGER_LIMITS.calendar_days_max + 1).execute();
  assert(days.length <= LEDGER_LIMITS.calendar_days_max, "too many calendar exception days");
  return {
    cutoffs,
    holidays: new Set(days.filter((d) => d.kind === "holiday").map((d) => d.day)),
    working_days: new Set(days.filter((d) => d.kind === "working").map((d) => d.day)),
  };
}

export interface CalendarChange {
  cutoff_minutes?: number | undefined;
  /** Set a day's exception ('holiday' | 'working'), or remove it (null). */
  days?: { day: string; kind: "holiday" | "working" | null }[] | undefined;
}

/**
 * A new cut-off applies from the next open day: the day after the current business day. Today and
 * every earlier day keep their close (a closed or settled day never changes, and today's events
 * keep their day); a step already set for a later day is replaced. Serialised by a lock on the
 * history, so two changes cannot interleave.
 */
async function scheduleCutoff(trx: Kysely<Database>, cutoff_minutes: number, at: Date): Promise<void> {
  assertCutoff(cutoff_minutes);
  await sql`LOCK TABLE settlement_cutoffs IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
  const rows = await trx.selectFrom("settlement_cutoffs").select(["effective_from", "cutoff_minutes"]).orderBy("effective_from").execute();
  assertHistory(rows);
  const from = addDays(businessDateIn(rows, at), 1);
  await trx.deleteFrom("settlement_cutoffs").where("effective_from", ">=", from).execute();
  const kept = rows.filter((r) => r.effective_from < from);
  if (cutoffFor(kept, from) === cutoff_minutes) return; // no change from that day on
  await trx.insertInto("settlement_cutoffs").values({ effective_from: from, cutoff_minutes, created_at: at }).execute();
}

/** Day exceptions apply as given; the cut-off from the next open day (`scheduleCutoff`). */
export async function updateCalendar(db: Kysely<Database>, change: CalendarChange, at: Date): Promise<SettlementCalendar> {
  await db.transaction().execute(async (trx) => {
    if (change.cutoff_minutes !== undefined) await scheduleCutoff(trx, change.cutoff_minutes, at);
    for (const d of change.days ?? []) {
      assert(isIsoDate(d.day), `not an ISO date: ${d.day}`);
      if (d.kind === null) await trx.deleteFrom("settlement_calendar_days").where("day", "=", d.day).execute();
      else await trx.insertInto("settlement_calendar_days").values({ day: d.day, kind: d.kind }).onConflict((oc) => oc.column("day").doUpdateSet({ kind: d.kind! })).execute();
    }
  });
  return loadCalendar(db);
}
