import { randomFillSync } from "node:crypto";
import { assert } from "./assert.ts";

/**
 * Random text (nonces, message ids) from the CSPRNG, drawn in bulk: one system call per 4 KiB
 * instead of one per value. Each answer's bytes are used once. (`randomBytes(12)` per signed
 * answer and per network message was about 0.8 % of paycore's busy time in the payments
 * benchmark: most of it the call, not the bytes.)
 */
export const RANDOM_LIMITS = { pool_bytes: 4096, value_bytes_max: 64 } as const;

const pool = Buffer.alloc(RANDOM_LIMITS.pool_bytes);
let pool_at: number = RANDOM_LIMITS.pool_bytes;

function take(bytes: number): number {
  assert(Number.isInteger(bytes) && bytes >= 1 && bytes <= RANDOM_LIMITS.value_bytes_max, `random value of ${bytes} bytes`);
  if (pool_at + bytes > RANDOM_LIMITS.pool_bytes) {
    randomFillSync(pool);
    pool_at = 0;
  }
  const at = pool_at;
  pool_at += bytes;
  return at;
}

/** `bytes` random bytes as lowercase hex (2 characters a byte). */
export function randomHexText(bytes: number): string {
  const at = take(bytes);
  return pool.toString("hex", at, at + bytes);
}

/** `bytes` random bytes as base64url without padding. */
export function randomBase64urlText(bytes: number): string {
  const at = take(bytes);
  return pool.toString("base64url", at, at + bytes);
}
