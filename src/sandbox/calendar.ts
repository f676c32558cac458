/**
 * Beijing time (UTC+8, no daylight saving) and the networks' settlement day: a transaction at or
 * after 23:00 Beijing time belongs to the next day's settlement.
 */
export const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
export const SETTLEMENT_CUTOFF_HOUR = 23;
const DAY_MS = 24 * 60 * 60 * 1000;

interface BeijingSecond {
  readonly date: string;
  readonly time: string;
  readonly hour: number;
  /** `YYYY-MM-DDThh:mm:ss` */
  readonly iso_local: string;
  /** `yyyyMMddHHmmss` */
  readonly compact: string;
}

// A payment formats the same second about ten times (answer, ids, settlement day, notification):
// the last second formatted is kept.
let last_second = NaN;
let last_parts: BeijingSecond | null = null;

function beijingSecond(at: Date): BeijingSecond {
  const second = Math.floor(at.getTime() / 1000);
  if (second === last_second && last_parts) return last_parts;
  const shifted = new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString();
  const date = shifted.slice(0, 10);
  const time = shifted.slice(11, 19);
  const iso_local = `${date}T${time}`;
  const parts: BeijingSecond = { date, time, hour: Number(shifted.slice(11, 13)), iso_local, compact: iso_local.replace(/[-:T]/g, "") };
  last_second = second;
  last_parts = parts;
  return parts;
}

export function beijingParts(at: Date): { date: string; time: string; hour: number } {
  const { date, time, hour } = beijingSecond(at);
  return { date, time, hour };
}

/** `YYYY-MM-DD` of the settlement day `at` belongs to. */
export function settlementDate(at: Date): string {
  const { hour } = beijingParts(at);
  const shift_ms = hour >= SETTLEMENT_CUTOFF_HOUR ? DAY_MS : 0;
  return beijingParts(new Date(at.getTime() + shift_ms)).date;
}

/** `YYYY-MM-DDThh:mm:ss` in Beijing time, as NetsUnion writes `SndDt`. */
export function beijingIsoLocal(at: Date): string {
  return beijingSecond(at).iso_local;
}

/** `yyyyMMddHHmmss` in Beijing time, as UnionPay writes `txnTime`. */
export function beijingCompact(at: Date): string {
  return beijingSecond(at).compact;
}

/** Parses either Beijing form back to an instant; null when malformed. */
export function parseBeijing(text: string): Date | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T?(\d{2}):?(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return null;
  const utc_ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const at = new Date(utc_ms - BEIJING_OFFSET_MS);
  return beijingIsoLocal(at).replace(/[-:T]/g, "") === text.replace(/[-:T]/g, "") ? at : null;
}
