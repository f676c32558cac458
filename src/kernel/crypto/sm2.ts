import { createECDH, createHash, timingSafeEqual } from "node:crypto";
import { assert } from "../assert.ts";
import type { Affine, Jacobian } from "./sm2-curve.ts";
import {
  A,
  B,
  GX,
  GY,
  N,
  P,
  addAffine,
  baseMulXBatch,
  baseMulXBatchVariableTime,
  double,
  invModBlinded,
  jacobianXEquals,
  mod,
  mulAddPublic,
  PUBLIC_KEY_TABLES_MAX,
  random256,
  toAffine,
} from "./sm2-curve.ts";
import { sm3 } from "./sm3.ts";

export { warmSm2Tables } from "./sm2-curve.ts";

/**
 * SM2 public-key cryptography (GB/T 32918.2 signatures, GB/T 32918.4 encryption) on the
 * sm2p256v1 curve. Node's OpenSSL knows the curve but signs with ECDSA, not SM2, and cannot hash in
 * a user ID, so the scheme is implemented here. Where the scalar is secret: key derivation and
 * decryption's d·C1 run in OpenSSL (ECDH, constant time); a signature's k·G uses the fixed-base
 * table of sm2-curve.ts (masked lookups, no branch on the digits, blinded inversion), about 0.1 ms
 * of CPU where OpenSSL's generic SM2 curve needs 0.5 ms per multiplication. Verification (public
 * values) uses G's table and a cached table per public key. Encryption's k·P still uses plain
 * double-and-add over BigInt with the one-time k (not constant time; not on the payment path).
 * Interoperability with the independent `sm-crypto` package is tested (sm2.test.ts, sm2-curve.test.ts).
 *
 * Formats follow common Chinese practice: private key = 64 hex chars, public key = `04|x|y` in hex
 * (130 chars), signature = DER SEQUENCE { r, s }, ciphertext = C1 (04|x|y) | C3 | C2.
 */
export const SM2_DEFAULT_USER_ID = "1234567812345678";

const COORD_BYTES = 32;
const POINT_BYTES = 1 + 2 * COORD_BYTES;
const USER_ID_BYTES_MAX = 8191; // ENTL is 16 bits of bit length
const RANDOM_ATTEMPTS_MAX = 64;
const PLAINTEXT_BYTES_MAX = 64 * 1024;
/** Signing keys whose public key and Z_A are remembered (paycore signs with one or two keys). */
const SIGNING_KEYS_MAX = 16;
/** User IDs whose Z_A is remembered per key. */
const USER_IDS_PER_KEY_MAX = 8;

export interface Sm2KeyPair {
  private_key_hex: string;
  public_key_hex: string;
}

const G: Affine = { x: GX, y: GY };

function powMod(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

function toBytes(value: bigint, length = COORD_BYTES): Buffer {
  const hex = value.toString(16).padStart(length * 2, "0");
  assert(hex.length === length * 2, "integer does not fit its field");
  return Buffer.from(hex, "hex");
}

function fromBytes(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

function isOnCurve(point: Affine): boolean {
  if (point.x < 0n || point.x >= P || point.y < 0n || point.y >= P) return false;
  return mod(point.y * point.y - (point.x * point.x * point.x + A * point.x + B), P) === 0n;
}

/** u·U + v·V by interleaved double-and-add (Shamir's trick); encryption's k·P_B only. */
function mulAdd(u: bigint, U: Affine, v: bigint, V: Affine): Affine | null {
  const sum = toAffine(addAffine({ x: U.x, y: U.y, z: 1n }, V.x, V.y));
  let acc: Jacobian = { x: 0n, y: 1n, z: 0n };
  const bits = Math.max(u.toString(2).length, v.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    acc = double(acc);
    const bu = (u >> BigInt(i)) & 1n;
    const bv = (v >> BigInt(i)) & 1n;
    if (bu && bv) acc = sum ? addAffine(acc, sum.x, sum.y) : acc;
    else if (bu) acc = addAffine(acc, U.x, U.y);
    else if (bv) acc = addAffine(acc, V.x, V.y);
  }
  return toAffine(acc);
}

function randomScalar(): bigint {
  for (let attempt = 0; attempt < RANDOM_ATTEMPTS_MAX; attempt++) {
    const k = random256();
    if (k >= 1n && k <= N - 2n) return k;
  }
  assert(false, "random scalar generation failed repeatedly");
}

/**
 * Signature nonces drawn ahead, NONCE_BATCH at a time, each with x(k·G): the points of a batch
 * share one blinded inversion of Z (sm2-curve.ts baseMulXBatch), about a tenth of a signature's
 * CPU otherwise. Each nonce is taken out of the pool once and never used again; the pool holds
 * at most NONCE_BATCH − 1 unused ones between signatures (a precomputation like OpenSSL's
 * ECDSA_sign_setup). The first signature of a batch pays for the batch.
 */
const NONCE_BATCH = 8;

interface NoncePool {
  ks: bigint[];
  xs: bigint[];
  /** x(k·G) of a batch of nonces. */
  batch: (ks: readonly bigint[]) => bigint[];
}

/** The constant-time pool (every key of paycore's own) and the variable-time one (sm2SignVariableTime). */
const nonces: NoncePool = { ks: [], xs: [], batch: baseMulXBatch };
const variable_time_nonces: NoncePool = { ks: [], xs: [], batch: baseMulXBatchVariableTime };

function signingNonce(pool: NoncePool): { k: bigint; x1: bigint } {
  if (pool.ks.length === 0) {
    const ks = Array.from({ length: NONCE_BATCH }, randomScalar);
    pool.xs.push(...pool.batch(ks));
    pool.ks.push(...ks);
  }
  return { k: pool.ks.pop()!, x1: pool.xs.pop()! };
}

/** k·G through OpenSSL (constant time): the point as `04|x|y`. */
function baseMulEncoded(k: bigint): Buffer {
  const ecdh = createECDH("SM2");
  ecdh.setPrivateKey(toBytes(k));
  return ecdh.getPublicKey();
}

/** Parses and validates an uncompressed point; null when it is not a point of the curve. */
function decodePoint(bytes: Uint8Array): Affine | null {
  if (bytes.length !== POINT_BYTES || bytes[0] !== 4) return null;
  const point = { x: fromBytes(bytes.subarray(1, 33)), y: fromBytes(bytes.subarray(33)) };
  return isOnCurve(point) ? point : null;
}

function parsePrivateKey(private_key_hex: string): bigint {
  if (!/^[0-9a-fA-F]{64}$/.test(private_key_hex)) throw new Error("SM2 private key must be 64 hex characters");
  const d = BigInt(`0x${private_key_hex}`);
  if (d < 1n || d > N - 2n) throw new Error("SM2 private key out of range");
  return d;
}

export function parseSm2PublicKey(public_key_hex: string): Affine {
  const point = /^04[0-9a-fA-F]{128}$/.test(public_key_hex) ? decodePoint(Buffer.from(public_key_hex, "hex")) : null;
  if (!point) throw new Error("SM2 public key must be an uncompressed curve point (04|x|y, 130 hex characters)");
  return point;
}

export function generateSm2KeyPair(): Sm2KeyPair {
  const d = randomScalar();
  return { private_key_hex: toBytes(d).toString("hex"), public_key_hex: baseMulEncoded(d).toString("hex") };
}

export function sm2PublicKeyFromPrivate(private_key_hex: string): string {
  return baseMulEncoded(parsePrivateKey(private_key_hex)).toString("hex");
}

/** Z_A = SM3(ENTL | ID | a | b | xG | yG | xA | yA) (GB/T 32918.2 §5.5). */
function userHash(user_id: string, key: Affine): Buffer {
  const id = Buffer.from(user_id, "utf8");
  if (id.length > USER_ID_BYTES_MAX) throw new Error("SM2 user ID too long");
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(id.length * 8);
  return sm3(Buffer.concat([entl, id, CURVE_BYTES, toBytes(key.x), toBytes(key.y)]));
}
const CURVE_BYTES = Buffer.concat([toBytes(A), toBytes(B), toBytes(GX), toBytes(GY)]);

/**
 * Z_A per (public key, user ID): the same few pairs recur on every message. Keyed by the parsed
 * key object, which the signing-key and public-key caches below hand out again for every message
 * (a string key built from the coordinates cost two BigInt-to-hex conversions per message); a key
 * parsed anew only misses, and its entries go with it.
 */
const user_hashes = new WeakMap<Affine, Map<string, Buffer>>();

function cachedUserHash(user_id: string, key: Affine): Buffer {
  let by_user = user_hashes.get(key);
  if (!by_user) {
    by_user = new Map();
    user_hashes.set(key, by_user);
  }
  const found = by_user.get(user_id);
  if (found) return found;
  const z = userHash(user_id, key);
  if (by_user.size >= USER_IDS_PER_KEY_MAX) by_user.clear();
  by_user.set(user_id, z);
  return z;
}

/** e = SM3(Z_A | M), hashed in two updates: copying a 1 KB message behind Z_A cost as much as hashing it. */
function messageDigest(message: string | Uint8Array, user_id: string, key: Affine): bigint {
  const hash = createHash("sm3").update(cachedUserHash(user_id, key));
  if (typeof message === "string") hash.update(message, "utf8");
  else hash.update(message);
  return digestInteger(hash.digest());
}

/** A 32-byte big-endian digest as an integer (four 64-bit reads: no hex round trip). */
function digestInteger(digest: Buffer): bigint {
  return (digest.readBigUInt64BE(0) << 192n) | (digest.readBigUInt64BE(8) << 128n) | (digest.readBigUInt64BE(16) << 64n) | digest.readBigUInt64BE(24);
}

/** What a signature needs of its key beyond the message: derived once per key. */
interface SigningKey {
  d: bigint;
  /** (1 + d)⁻¹ mod N, inverted blinded. */
  d1_inv: bigint;
  public_key: Affine;
}

/**
 * Signing keys, prepared once (public key by OpenSSL, constant time; (1 + d)⁻¹ blinded) and
 * remembered under a hash of the private key, so that the private key itself is never a map key.
 * Parsing the key and inverting 1 + d on every signature was about a sixth of its CPU.
 */
const signing_keys = new Map<string, SigningKey>();

/**
 * The key of the last signature, by the caller's own string (compared, never stored in a map):
 * a signer signs with one key message after message, and hashing the key to find it again was
 * about 2 µs of a 115 µs signature.
 */
let last_signing: { private_key_hex: string; key: SigningKey } | null = null;

function signingKey(private_key_hex: string): SigningKey {
  if (last_signing !== null && last_signing.private_key_hex === private_key_hex) return last_signing.key;
  const key = signingKeyByHash(private_key_hex);
  last_signing = { private_key_hex, key };
  return key;
}

function signingKeyByHash(private_key_hex: string): SigningKey {
  const cache_key = sm3(`sm2-signing-key:${private_key_hex.toLowerCase()}`).toString("hex");
  const found = signing_keys.get(cache_key);
  if (found) return found;
  const d = parsePrivateKey(private_key_hex);
  const public_key = decodePoint(baseMulEncoded(d));
  assert(public_key !== null, "derived SM2 public key is not on the curve");
  const key: SigningKey = { d, d1_inv: invModBlinded(1n + d, N), public_key };
  if (signing_keys.size >= SIGNING_KEYS_MAX) signing_keys.clear();
  signing_keys.set(cache_key, key);
  return key;
}

/** Parsed and validated public keys by their hex form (public values: a plain map key is fine). */
const public_keys = new Map<string, Affine>();

function cachedPublicKey(public_key_hex: string): Affine {
  const found = public_keys.get(public_key_hex);
  if (found) return found;
  const key = parseSm2PublicKey(public_key_hex); // throws on a bad key: nothing is cached
  if (public_keys.size >= PUBLIC_KEY_TABLES_MAX) public_keys.clear();
  public_keys.set(public_key_hex, key);
  return key;
}

export interface Sm2Options {
  user_id?: string;
}

/**
 * SM2 signature over SM3 with the user ID hashed in; DER-encoded. x1 of k·G comes from the
 * fixed-base table with masked lookups (sm2-curve.ts), for a batch of nonces at a time
 * (signingNonce); (1 + d)⁻¹ is inverted blinded.
 */
export function sm2Sign(message: string | Uint8Array, private_key_hex: string, options: Sm2Options = {}): Buffer {
  return signWith(nonces, message, private_key_hex, options);
}

/**
 * The same signature (same format, verified the same way by anyone) with x(k·G) from G's
 * verification table indexed by the nonce's digits: about 40 % less CPU per signature, but
 * VARIABLE TIME — cache timing can reveal nonce bits, and enough of them the key. Only for keys
 * whose secrecy protects nothing: the sandbox's simulated networks, whose world hands out SMS codes
 * over its control API (src/sandbox/signing.ts). paycore's own keys always sign with sm2Sign.
 */
export function sm2SignVariableTime(message: string | Uint8Array, private_key_hex: string, options: Sm2Options = {}): Buffer {
  return signWith(variable_time_nonces, message, private_key_hex, options);
}

function signWith(pool: NoncePool, message: string | Uint8Array, private_key_hex: string, options: Sm2Options): Buffer {
  const { d, d1_inv, public_key } = signingKey(private_key_hex);
  const e = messageDigest(message, options.user_id ?? SM2_DEFAULT_USER_ID, public_key);
  for (let attempt = 0; attempt < RANDOM_ATTEMPTS_MAX; attempt++) {
    const { k, x1 } = signingNonce(pool);
    const r = mod(e + x1, N);
    if (r === 0n || r + k === N) continue;
    const s = mod(d1_inv * (k - r * d), N);
    if (s === 0n) continue;
    return encodeDerSignature(r, s);
  }
  assert(false, "SM2 signing failed repeatedly");
}

/**
 * True only for a valid signature; any malformed input is simply not valid. s·G + t·P_A comes from
 * G's table and a cached table for the public key; x is compared in Jacobian form (no inversion).
 */
export function sm2Verify(
  message: string | Uint8Array,
  signature_der: Uint8Array,
  public_key_hex: string,
  options: Sm2Options = {},
): boolean {
  let key: Affine;
  try {
    key = cachedPublicKey(public_key_hex);
  } catch {
    return false;
  }
  const rs = decodeDerSignature(signature_der);
  if (!rs) return false;
  const { r, s } = rs;
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const t = mod(r + s, N);
  if (t === 0n) return false;
  const e = messageDigest(message, options.user_id ?? SM2_DEFAULT_USER_ID, key);
  const point = mulAddPublic(s, t, public_key_hex.toLowerCase(), key);
  // R = (e + x1) mod N with x1 < P, so x1 is (r − e) mod N or, when that is below P − N, that plus N.
  const x1 = mod(r - e, N);
  return jacobianXEquals(point, x1) || (x1 + N < P && jacobianXEquals(point, x1 + N));
}

/** Minimal two's-complement bytes of 0 ≤ value < 2^256 (a leading 0 where the top bit is set). */
function derIntegerBytes(value: bigint): Buffer {
  const bytes = toBytes(value, COORD_BYTES + 1); // byte 0 is always 0
  let start = 0;
  while (start < COORD_BYTES && bytes[start] === 0 && (bytes[start + 1]! & 0x80) === 0) start++;
  return bytes.subarray(start);
}

export function encodeDerSignature(r: bigint, s: bigint): Buffer {
  const r_bytes = derIntegerBytes(r);
  const s_bytes = derIntegerBytes(s);
  const body_length = 4 + r_bytes.length + s_bytes.length;
  const der = Buffer.allocUnsafe(2 + body_length);
  der[0] = 0x30;
  der[1] = body_length;
  der[2] = 0x02;
  der[3] = r_bytes.length;
  r_bytes.copy(der, 4);
  der[4 + r_bytes.length] = 0x02;
  der[5 + r_bytes.length] = s_bytes.length;
  s_bytes.copy(der, 6 + r_bytes.length);
  return der;
}

/** Strict DER: short lengths, minimal positive integers, nothing trailing. */
export function decodeDerSignature(der: Uint8Array): { r: bigint; s: bigint } | null {
  const buf = Buffer.from(der);
  if (buf.length < 8 || buf[0] !== 0x30 || buf[1] !== buf.length - 2) return null;
  const r = readDerInteger(buf, 2);
  if (!r) return null;
  const s = readDerInteger(buf, r.next);
  if (!s || s.next !== buf.length) return null;
  return { r: r.value, s: s.value };
}

function readDerInteger(buf: Buffer, offset: number): { value: bigint; next: number } | null {
  if (buf[offset] !== 0x02) return null;
  const length = buf[offset + 1];
  if (length === undefined || length < 1 || length > COORD_BYTES + 1 || offset + 2 + length > buf.length) return null;
  const bytes = buf.subarray(offset + 2, offset + 2 + length);
  if ((bytes[0]! & 0x80) !== 0) return null; // negative
  if (length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) return null; // not minimal
  return { value: fromBytes(bytes), next: offset + 2 + length };
}

/** GB/T 32918.4 key derivation: SM3(Z | counter) blocks, counter from 1. */
function kdf(z: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 1, produced = 0; produced < length; i++, produced += COORD_BYTES) {
    counter.writeUInt32BE(i);
    blocks.push(sm3(Buffer.concat([z, counter])));
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** SM2 public-key encryption; output C1 | C3 | C2 (C1 with its 04 prefix). */
export function sm2Encrypt(plaintext: Uint8Array, public_key_hex: string): Buffer {
  const key = parseSm2PublicKey(public_key_hex);
  if (plaintext.length < 1 || plaintext.length > PLAINTEXT_BYTES_MAX) throw new Error("SM2 plaintext length out of range");
  for (let attempt = 0; attempt < RANDOM_ATTEMPTS_MAX; attempt++) {
    const k = randomScalar();
    const c1 = baseMulEncoded(k);
    const shared = mulAdd(0n, G, k, key);
    assert(shared !== null, "k·P is the point at infinity");
    const x2 = toBytes(shared.x);
    const y2 = toBytes(shared.y);
    const t = kdf(Buffer.concat([x2, y2]), plaintext.length);
    if (t.every((byte) => byte === 0)) continue;
    const c3 = sm3(Buffer.concat([x2, plaintext, y2]));
    return Buffer.concat([c1, c3, xor(plaintext, t)]);
  }
  assert(false, "SM2 encryption failed repeatedly");
}

/**
 * Decrypts C1 | C3 | C2. OpenSSL's ECDH gives x2 of d·C1 in constant time; y2 is one of the two
 * square roots, and C3 (a hash over x2, M and y2) tells which. Throws on any bad ciphertext.
 */
export function sm2Decrypt(ciphertext: Uint8Array, private_key_hex: string): Buffer {
  const d = parsePrivateKey(private_key_hex);
  const buf = Buffer.from(ciphertext);
  if (buf.length < POINT_BYTES + COORD_BYTES + 1) throw new Error("SM2 ciphertext too short");
  const c1 = buf.subarray(0, POINT_BYTES);
  const c3 = buf.subarray(POINT_BYTES, POINT_BYTES + COORD_BYTES);
  const c2 = buf.subarray(POINT_BYTES + COORD_BYTES);
  if (!decodePoint(c1)) throw new Error("SM2 ciphertext C1 is not a curve point");
  const ecdh = createECDH("SM2");
  ecdh.setPrivateKey(toBytes(d));
  const x2_bytes = ecdh.computeSecret(c1);
  const x2 = fromBytes(x2_bytes);
  // p ≡ 3 (mod 4): a square root is (x³ + ax + b)^((p+1)/4).
  const y = powMod(x2 * x2 * x2 + A * x2 + B, (P + 1n) / 4n, P);
  for (const y2 of [y, P - y]) {
    const y2_bytes = toBytes(y2);
    const t = kdf(Buffer.concat([x2_bytes, y2_bytes]), c2.length);
    const plaintext = xor(c2, t);
    const expected = sm3(Buffer.concat([x2_bytes, plaintext, y2_bytes]));
    if (timingSafeEqual(expected, c3)) return plaintext;
  }
  throw new Error("SM2 decryption failed");
}

/**
 * A short id for an SM2 public key, carried in messages as the signer's serial (`SignSN`): the
 * first 40 bits of SM3(04|x|y), in decimal. Both sides derive it; it names a key, it proves nothing.
 */
export function sm2KeyId(public_key_hex: string): string {
  return BigInt(`0x${sm3(Buffer.from(public_key_hex, "hex")).toString("hex").slice(0, 10)}`).toString(10);
}
