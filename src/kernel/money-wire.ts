import { z } from "zod";
import { AMOUNT_FEN_MAX } from "./money.ts";

const MAX = Number(AMOUNT_FEN_MAX);
export const AMOUNT_TOO_LARGE = `must be at most ${MAX} fen (10 trillion yuan)`;

/**
 * An amount field on the wire: an integer number of fen from `min` to AMOUNT_FEN_MAX. One limit
 * with one message for every amount too large — Zod's own integer check would otherwise also
 * report 9007199254740991 (the float limit) for amounts beyond it.
 */
export function fenWire(min: 0 | 1) {
  return z
    .number()
    .min(min, { message: `must be at least ${min} fen`, abort: true })
    .max(MAX, { message: AMOUNT_TOO_LARGE, abort: true })
    .int({ message: "must be an integer number of fen" })
    .meta({ type: "integer" } as never);
}
