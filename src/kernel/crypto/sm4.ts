import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { assert } from "../assert.ts";

/** SM4 block cipher (GB/T 32907-2016): 128-bit key, 128-bit block. */
export const SM4_KEY_BYTES = 16;
export const SM4_BLOCK_BYTES = 16;

export function newSm4Key(): Buffer {
  return randomBytes(SM4_KEY_BYTES);
}

/** One raw block, no padding: for test vectors and key checks only. */
export function sm4EncryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  assert(key.length === SM4_KEY_BYTES, "SM4 key must be 16 bytes");
  assert(block.length === SM4_BLOCK_BYTES, "SM4 block must be 16 bytes");
  const cipher = createCipheriv("sm4-ecb", key, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

export function sm4DecryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  assert(key.length === SM4_KEY_BYTES, "SM4 key must be 16 bytes");
  assert(block.length === SM4_BLOCK_BYTES, "SM4 block must be 16 bytes");
  const decipher = createDecipheriv("sm4-ecb", key, null).setAutoPadding(false);
  return Buffer.concat([decipher.update(block), decipher.final()]);
}

/**
 * SM4-CBC with PKCS#7 padding and a random IV in front: `iv | ciphertext`. No integrity of its
 * own: every message that carries it is signed as a whole (SM2 or RSA), which covers it.
 */
export function sm4CbcEncrypt(key: Uint8Array, plaintext: Uint8Array): Buffer {
  assert(key.length === SM4_KEY_BYTES, "SM4 key must be 16 bytes");
  const iv = randomBytes(SM4_BLOCK_BYTES);
  const cipher = createCipheriv("sm4-cbc", key, iv);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]);
}

/**
 * Throws on a damaged length, and on a wrong key or a damaged ciphertext whose padding comes out
 * invalid — nearly always, but not always: about one wrong key in 256 leaves a valid-looking pad and
 * returns garbage. Nothing relies on this for integrity: every message carrying it is signed.
 */
export function sm4CbcDecrypt(key: Uint8Array, sealed: Uint8Array): Buffer {
  assert(key.length === SM4_KEY_BYTES, "SM4 key must be 16 bytes");
  if (sealed.length < 2 * SM4_BLOCK_BYTES || sealed.length % SM4_BLOCK_BYTES !== 0) {
    throw new Error("SM4 ciphertext has a bad length");
  }
  const decipher = createDecipheriv("sm4-cbc", key, sealed.subarray(0, SM4_BLOCK_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(SM4_BLOCK_BYTES)), decipher.final()]);
}
