import { randomFillSync } from "node:crypto";

/**
 * Random message ids and nonces (16 bytes, 32 hex digits): the sandbox writes two per payment
 * (the answer's `MsgId` and the notification's). `randomBytes(16)` was a call into OpenSSL and a
 * new Buffer each; these come from a pool refilled once every RANDOM_ID_POOL_IDS ids.
 * Not for keys: ids need to be unpredictable and unique, which the CSPRNG still gives them.
 */
const ID_BYTES = 16;
const RANDOM_ID_POOL_IDS = 256;
const pool = Buffer.alloc(ID_BYTES * RANDOM_ID_POOL_IDS);
let next = RANDOM_ID_POOL_IDS;

export function randomHexId(): string {
  if (next === RANDOM_ID_POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const start = next * ID_BYTES;
  next += 1;
  return pool.toString("hex", start, start + ID_BYTES);
}
