/**
 * Beijing time (UTC+8, no daylight saving) and the networks' settlement day: a transaction at or
 * after 23:00 Beijing time belongs to the next day's settlement.
 */
export const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
export const SETTLEMENT_CUTOFF_HOUR = 23;
const DAY_MS = 24 * 60 * 60 * 1000;

export function beijingParts(at: Date): { date: string; time: string; hour: number } {
  const shifted = new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString();
  return { date: shifted.slice(0, 10), time: shifted.slice(11, 19), hour: Number(shifted.slice(11, 13)) };
}

/** `YYYY-MM-DD` of the settlement day `at` belongs to. */
export function settlementDate(at: Date): string {
  const { hour } = beijingParts(at);
  const shift_ms = hour >= SETTLEMENT_CUTOFF_HOUR ? DAY_MS : 0;
  return beijingParts(new Date(at.getTime() + shift_ms)).date;
}

/** `YYYY-MM-DDThh:mm:ss` in Beijing time, as NetsUnion writes `SndDt`. */
export function beijingIsoLocal(at: Date): string {
  const { date, time } = beijingParts(at);
  return `${date}T${time}`;
}

/** `yyyyMMddHHmmss` in Beijing time, as UnionPay writes `txnTime`. */
export function beijingCompact(at: Date): string {
  return beijingIsoLocal(at).replace(/[-:T]/g, "");
}

/** Parses either Beijing form back to an instant; null when malformed. */
export function parseBeijing(text: string): Date | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T?(\d{2}):?(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return null;
  const utc_ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  const at = new Date(utc_ms - BEIJING_OFFSET_MS);
  return beijingIsoLocal(at).replace(/[-:T]/g, "") === text.replace(/[-:T]/g, "") ? at : null;
}
