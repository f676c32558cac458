import { createHash, createHmac } from "node:crypto";

/** SM3 hash (GB/T 32905-2016), 32 bytes. Node's OpenSSL provides it. */
export function sm3(data: string | Uint8Array): Buffer {
  return createHash("sm3").update(data).digest();
}

export function sm3Hex(data: string | Uint8Array): string {
  return sm3(data).toString("hex");
}

/** HMAC-SM3, for keyed fingerprints under the national algorithms. */
export function hmacSm3(key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac("sm3", key).update(data).digest();
}
