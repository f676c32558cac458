import { assert } from "./assert.ts";

/** Money is always an integer number of fen (1 yuan = 100 fen), as `bigint`. */
export type Fen = bigint;

/** The largest amount the wire accepts in one field: 10^15 fen = 10 trillion yuan, exact in a JS number. */
export const AMOUNT_FEN_MAX = 1_000_000_000_000_000n;

/** Whole-yuan digits of the largest amount: a wire field that writes yuan with two decimals needs this many. */
export const AMOUNT_YUAN_DIGITS_MAX = String(AMOUNT_FEN_MAX / 100n).length;

export function fen(value: bigint | number | string): Fen {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") {
    assert(Number.isSafeInteger(value), `amount ${value} is not a safe integer`);
    return BigInt(value);
  }
  assert(/^-?\d+$/.test(value), `amount ${value} is not an integer string`);
  return BigInt(value);
}

/** For the wire: a JSON number, which is exact for every amount paycore accepts. */
export function fenToWire(value: Fen): number {
  assert(value <= AMOUNT_FEN_MAX * 1000n && value >= -AMOUNT_FEN_MAX * 1000n, `amount ${value} out of wire range`);
  return Number(value);
}

/**
 * The one place fees are rounded: `amount × rate_bps / 10000`, rounded half up to the fen,
 * then raised to `minimum_fen`, and never above the amount itself.
 */
export function feeFen(amount: Fen, rate_bps: number, minimum_fen: Fen): Fen {
  assert(amount >= 0n, "fee base must not be negative");
  assert(Number.isInteger(rate_bps) && rate_bps >= 0 && rate_bps <= 10_000, "fee rate must be 0..10000 bps");
  const scaled = amount * BigInt(rate_bps);
  const fee = (scaled + 5_000n) / 10_000n; // half up: non-negative operands only
  const with_minimum = fee < minimum_fen ? minimum_fen : fee;
  return with_minimum > amount ? amount : with_minimum;
}

/**
 * What a network charges for one debit: `amount × rate_bps / 10000` half up (as the networks
 * round), plus a fixed part, never above the amount. The one computation shared by paycore's
 * estimate (routing, and booking when a network answer lacks the fee) and the sandbox's networks.
 */
export function networkFeeFen(amount: Fen, rate_bps: number, fixed_fen: Fen): Fen {
  assert(fixed_fen >= 0n, "fixed network fee must not be negative");
  const fee = feeFen(amount, rate_bps, 0n) + fixed_fen;
  return fee > amount ? amount : fee;
}

/** `part × numerator / denominator`, half up; for proportional fee returns. */
export function proportionFen(part: Fen, numerator: Fen, denominator: Fen): Fen {
  assert(part >= 0n && numerator >= 0n && denominator > 0n, "proportion operands must be non-negative");
  return (part * numerator * 2n + denominator) / (denominator * 2n);
}

export function formatYuan(value: Fen): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const yuan = abs / 100n;
  const cents = (abs % 100n).toString().padStart(2, "0");
  return `${negative ? "-" : ""}${yuan}.${cents}`;
}
