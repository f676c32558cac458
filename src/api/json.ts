import { InvariantError } from "../kernel/errors.ts";

/**
 * JSON for the wire. A `bigint` that slipped through as an amount becomes a JSON number when it is
 * exact as one; anything larger is a bug and stops the response.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== "bigint") return v;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new InvariantError(`bigint ${v} does not fit a JSON number exactly`);
    }
    return Number(v);
  });
}
