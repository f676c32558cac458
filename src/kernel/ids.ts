import { randomFillSync } from "node:crypto";
import { assert } from "./assert.ts";

/** Prefixes of the public ids (docs/api-conventions.md) and of internal ones. */
export const ID_PREFIXES = [
  "ent", "mch", "key", "sgr", "agr", "pay", "ref", "po", "cmp", "evt", "req", "stl",
  "op", "aud", "pa", "cag", "jnl", "acc", "dlv", "spo", "crd", "ntx", "inv",
  "prp", "dep", "pob", "pbi",
  // risk: rules, blocklist entries, decisions, signing counters, alerts, monitor runs
  "rsk", "blk", "rdc", "rsg", "ral", "rmr",
  // reconciliation: runs, exceptions, alerts
  "rec", "rex", "rca",
  // settlement runs (their progress)
  "srn",
] as const;
export type IdPrefix = (typeof ID_PREFIXES)[number];

// Crockford base32: sortable as text, no ambiguous letters.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10; // 50 bits of milliseconds: good until the year 37000
const RANDOM_CHARS = 16; // 80 bits of randomness

/** Random bytes are drawn from the CSPRNG in bulk: one call per 256 ids, not one per id. */
const RANDOM_POOL_BYTES = 4096;
const random_pool = Buffer.alloc(RANDOM_POOL_BYTES);
let random_pool_at = RANDOM_POOL_BYTES;

function randomDigits(): number[] {
  if (random_pool_at + RANDOM_CHARS > RANDOM_POOL_BYTES) {
    randomFillSync(random_pool);
    random_pool_at = 0;
  }
  const digits = new Array<number>(RANDOM_CHARS);
  for (let i = 0; i < RANDOM_CHARS; i++) digits[i] = random_pool[random_pool_at + i]! & 31;
  random_pool_at += RANDOM_CHARS;
  return digits;
}

let last_ms = 0;
let last_random: number[] = [];

/**
 * A prefixed, time-sortable id (`pay_01JD…`). Within one millisecond the random part is
 * incremented, so ids made by one process sort in creation order.
 */
export function newId(prefix: IdPrefix, now_ms: number = Date.now()): string {
  let random: number[];
  if (now_ms <= last_ms && last_random.length === RANDOM_CHARS) {
    random = increment(last_random);
    now_ms = last_ms;
  } else {
    random = randomDigits();
  }
  last_ms = now_ms;
  last_random = random;
  let time = "";
  let t = now_ms;
  for (let i = 0; i < TIME_CHARS; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${time}${random.map((d) => ALPHABET[d]).join("")}`;
}

function increment(digits: number[]): number[] {
  const out = digits.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    const d = out[i]! + 1;
    if (d < 32) {
      out[i] = d;
      return out;
    }
    out[i] = 0;
  }
  assert(false, "id random part overflowed within one millisecond");
}

const ID_PATTERN = /^[a-z]{2,4}_[0-9A-HJKMNP-TV-Z]{26}$/;

export function isId(value: string, prefix: IdPrefix): boolean {
  return value.startsWith(`${prefix}_`) && ID_PATTERN.test(value);
}
