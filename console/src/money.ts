/**
 * Amounts arrive as integer fen (JSON numbers, or strings for bigint columns) and are shown as
 * yuan with two decimals, computed with BigInt: never a float, never toFixed on money.
 */
export function toFen(value: number | string | bigint): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw new Error(`not an integer fen amount: ${value}`);
  if (typeof value === "string" && !/^-?\d+$/.test(value)) throw new Error(`not an integer fen amount: ${value}`);
  return BigInt(value);
}

export function yuan(value: number | string | bigint | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const fen = toFen(value);
  const sign = fen < 0n ? "-" : "";
  const abs = fen < 0n ? -fen : fen;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}¥${whole}.${(abs % 100n).toString().padStart(2, "0")}`;
}

/** "12.34" (yuan, at most two decimals) → 1234n fen; null when it is not such a number. */
export function parseYuan(text: string): bigint | null {
  const m = /^\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return BigInt(m[1]!) * 100n + BigInt((m[2] ?? "").padEnd(2, "0"));
}
