import { randomFillSync } from "node:crypto";
import { assert } from "../assert.ts";
import type { Fe } from "./sm2-field.ts";
import {
  FE_ONE,
  LIMBS,
  feCarry,
  feFromBigInt,
  feFromWords,
  feIsZero,
  feMul,
  feNew,
  feScale,
  feSqr,
  feSub,
  feToBigInt,
  toMontgomery,
} from "./sm2-field.ts";

/**
 * Point arithmetic on sm2p256v1 for the SM2 scheme in sm2.ts: precomputed tables so that no scalar
 * multiplication needs a doubling chain at call time, and the mixed additions of both scalar
 * multiplications in the limb field of sm2-field.ts (Jacobian, Montgomery form; 2–2.5 times faster
 * than BigInt products and `% P`). Tables are built, and the rare cases (doubling, encryption) run,
 * on the BigInt formulas below.
 *
 * - k·G (signing, secret k): a fixed-base table of G with 6-bit digits, built once, lazily (about
 *   60 ms on first use). The scalar is recoded into odd signed digits (every digit non-zero, so
 *   there is no point at infinity to branch on), and each digit's row is scanned whole with masks
 *   in 32-bit words: no memory index and no branch depends on the secret. The final inversion of Z
 *   is blinded.
 * - u·G + v·Q (verification, public u, v, Q): G's 9-bit table indexed directly, plus a table per
 *   public key, kept in a small LRU (PUBLIC_KEY_TABLES_MAX); no doublings at all.
 *
 * The limb field runs the same instructions for every value. BigInt arithmetic, still used for the
 * final conversion and the blinded inversion of Z, is not constant time at the instruction level
 * (operand lengths); what is held here is the structural part: no secret-dependent table index, no
 * branch on scalar digits or parity, blinded inversions.
 */
export const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
export const A = P - 3n;
export const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
export const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
export const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
export const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

const SCALAR_BITS = 256;
/**
 * Digit width of G's table for verification (public digits, direct index): 29 windows × 256
 * points (7,424 affine points, 1.3 MB of limbs, built once per process by warmSm2Tables). 9 bits
 * rather than 8: 3 additions fewer per verification for one table more in memory.
 */
const BASE_WINDOW_BITS = 9;
/**
 * Digit width of G's table for signing (secret digits): every entry of a row is scanned, so the
 * cost is windows × (2^(w−1) scanned entries + 1 addition): 43 × (32 + 1) with 6-bit digits, against
 * 32 × (128 + 1) with 8 (the scan was then two fifths of a signature).
 */
const SIGN_WINDOW_BITS = 6;
/**
 * Digit width of a public key's table: 32 windows × 128 points (720 KB), 25–40 ms of CPU to build
 * once per key (15–25 with 7 bits), for 61 mixed additions per verification with G's 9-bit table
 * (69 with 7 and 8 bits, 84 with 5-bit digits). Measured per verification of a 1.1 KB message,
 * load ~10: 73 µs with 8-bit G and 7-bit key tables, 66–67 µs with 9 and 8, 61–63 µs with 9 and 9
 * (whose key tables, 1.3 MB each, took 40–76 ms to build: too long inside a payment's first call).
 */
const PUBLIC_WINDOW_BITS = 8;
/** Public keys whose tables are kept (the networks' and peers' keys; a handful in practice). */
export const PUBLIC_KEY_TABLES_MAX = 16;
const COORD_WORDS = 8; // 32-bit words per coordinate
const POINT_WORDS = 2 * COORD_WORDS;
const POINT_LIMBS = 2 * LIMBS; // field limbs per affine point
const BLINDING_ATTEMPTS_MAX = 64;

export interface Affine {
  x: bigint;
  y: bigint;
}
export interface Jacobian {
  x: bigint;
  y: bigint;
  z: bigint; // 0 = point at infinity
}

const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n };

assert(new Uint8Array(new Uint32Array([1]).buffer)[0] === 1, "SM2 limb tables assume a little-endian platform");

export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Leading bits of the two remainders that Lehmer's inner loop runs on, in doubles (exact below 2^53). */
const LEHMER_BITS = 48;
/** Outer steps of invMod: each one is a BigInt Euclid step or a batch of them (about 370 for 256 bits at worst). */
const INVERSION_STEPS_MAX = 1024;

/**
 * a⁻¹ mod m by Lehmer's extended Euclid (Knuth, TAOCP 4.5.2, Algorithm L): the quotients are found
 * from the leading 48 bits in plain doubles, and the BigInt remainders and cofactors are updated
 * once per batch of quotients instead of once per quotient, about 2.8 times faster than BigInt
 * Euclid. Variable time, so only for public values or blinded secrets.
 */
export function invMod(a: bigint, m: bigint): bigint {
  const a_reduced = mod(a, m);
  let r0 = m;
  let r1 = a_reduced;
  let s0 = 0n; // r0 ≡ s0·a, r1 ≡ s1·a (mod m)
  let s1 = 1n;
  for (let step = 0; r1 !== 0n; step++) {
    assert(step < INVERSION_STEPS_MAX, "modular inversion did not converge");
    const shift = r0.toString(16).length * 4 - LEHMER_BITS; // ≥ the true bit length − 48
    if (shift > 0) {
      const m2 = lehmerCofactors(Number(r0 >> BigInt(shift)), Number(r1 >> BigInt(shift)));
      if (m2 !== null) {
        const [ca, cb, cc, cd] = m2;
        [r0, r1] = [ca * r0 + cb * r1, cc * r0 + cd * r1];
        [s0, s1] = [ca * s0 + cb * s1, cc * s0 + cd * s1];
        continue;
      }
    }
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  assert(r0 === 1n, "value has no modular inverse");
  const inverse = mod(s0, m);
  assert((inverse * a_reduced) % m === 1n, "modular inverse check failed");
  return inverse;
}

/**
 * Algorithm L's single-precision loop on the leading parts x ≥ y: the cofactor matrix of the
 * quotients that are certain (the same for both bounds of the true remainders), or null when not
 * even the first one is. Every value stays below 2^49, so each double is exact.
 */
function lehmerCofactors(x0: number, y0: number): [bigint, bigint, bigint, bigint] | null {
  let x = x0;
  let y = y0;
  let a = 1;
  let b = 0;
  let c = 0;
  let d = 1;
  while (y + c !== 0 && y + d !== 0) {
    const q = Math.floor((x + a) / (y + c));
    if (q !== Math.floor((x + b) / (y + d))) break;
    [a, c] = [c, a - q * c];
    [b, d] = [d, b - q * d];
    [x, y] = [y, x - q * y];
  }
  return b === 0 ? null : [BigInt(a), BigInt(b), BigInt(c), BigInt(d)];
}

function randomBelow(m: bigint): bigint {
  for (let attempt = 0; attempt < BLINDING_ATTEMPTS_MAX; attempt++) {
    const b = random256();
    if (b >= 1n && b < m) return b;
  }
  assert(false, "random blinding factor generation failed repeatedly");
}

/**
 * Random bytes drawn from the CSPRNG in batches: one `randomFillSync` per 128 draws instead of
 * three per signature (each call is a syscall, 15 % of a signature's CPU when unbatched). Bytes
 * are zeroed as they are consumed; what sits in the pool was never used for anything yet.
 */
const RANDOM_POOL_BYTES = 4096;
const random_pool = Buffer.alloc(RANDOM_POOL_BYTES);
let random_pool_offset = RANDOM_POOL_BYTES;

/** A uniform 256-bit integer from the CSPRNG (four 64-bit reads: no hex round trip). */
export function random256(): bigint {
  if (random_pool_offset + 32 > RANDOM_POOL_BYTES) {
    randomFillSync(random_pool);
    random_pool_offset = 0;
  }
  const o = random_pool_offset;
  const value =
    (random_pool.readBigUInt64BE(o) << 192n) |
    (random_pool.readBigUInt64BE(o + 8) << 128n) |
    (random_pool.readBigUInt64BE(o + 16) << 64n) |
    random_pool.readBigUInt64BE(o + 24);
  random_pool.fill(0, o, o + 32);
  random_pool_offset = o + 32;
  return value;
}

/** a⁻¹ mod m for a secret a: Euclid sees only a·b for a fresh random b, never a itself. */
export function invModBlinded(a: bigint, m: bigint): bigint {
  const b = randomBelow(m);
  return mod(invMod(mod(a * b, m), m) * b, m);
}

/** Jacobian doubling for a = -3 (dbl-2001-b). */
export function double(p: Jacobian): Jacobian {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const delta = (p.z * p.z) % P;
  const gamma = (p.y * p.y) % P;
  const beta = (p.x * gamma) % P;
  const alpha = mod(3n * (p.x - delta) * (p.x + delta), P);
  const x = mod(alpha * alpha - 8n * beta, P);
  const z = mod((p.y + p.z) * (p.y + p.z) - gamma - delta, P);
  const y = mod(alpha * (4n * beta - x) - 8n * ((gamma * gamma) % P), P);
  return { x, y, z };
}

/**
 * Jacobian + affine (madd-2007-bl, Z3 = 2·Z1·H); handles infinity, P = Q and P = -Q. Reduces only
 * where a value would otherwise grow past one more product (each `% P` is a sixth of the cost).
 */
export function addAffine(p: Jacobian, qx: bigint, qy: bigint): Jacobian {
  if (p.z === 0n) return { x: qx, y: qy, z: 1n };
  const z1z1 = (p.z * p.z) % P;
  const u2 = (qx * z1z1) % P;
  const s2 = (qy * ((p.z * z1z1) % P)) % P;
  let h = u2 - p.x;
  if (h < 0n) h += P;
  let r = s2 - p.y;
  if (r < 0n) r += P;
  if (h === 0n) return r === 0n ? double(p) : INFINITY;
  r <<= 1n;
  const i = ((h * h) % P) << 2n;
  const j = (h * i) % P;
  const v = (p.x * i) % P;
  let x = (r * r - j - (v << 1n)) % P;
  if (x < 0n) x += P;
  let y = (r * (v - x) - ((p.y * j) << 1n)) % P;
  if (y < 0n) y += P;
  return { x, y, z: ((p.z * h) << 1n) % P };
}

export function toAffine(p: Jacobian): Affine | null {
  if (p.z === 0n) return null;
  const zi = invMod(p.z, P);
  const zi2 = (zi * zi) % P;
  return { x: (p.x * zi2) % P, y: (((p.y * zi2) % P) * zi) % P };
}

/** Affine forms of many points with one inversion (Montgomery's trick); none may be infinity. */
function normalizeAll(points: Jacobian[]): Affine[] {
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const p of points) {
    assert(p.z !== 0n, "table point at infinity");
    prefix.push(acc);
    acc = (acc * p.z) % P;
  }
  let inv = invMod(acc, P);
  const out: Affine[] = new Array(points.length);
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i]!;
    const zi = (inv * prefix[i]!) % P;
    inv = (inv * p.z) % P;
    const zi2 = (zi * zi) % P;
    out[i] = { x: (p.x * zi2) % P, y: (((p.y * zi2) % P) * zi) % P };
  }
  return out;
}

/**
 * Odd multiples j·2^(w·i)·Q, j = 1, 3, …, 2^w − 1, window by window, affine, in Montgomery form:
 * per point x then y, 11 carried limbs each (sm2-field.ts: L = 1, ‖·‖ < 0.51), in one flat array.
 */
interface WindowTable {
  window_bits: number;
  windows: number;
  row_points: number; // 2^(w-1)
  coords: Float64Array;
}

/** Affine odd multiples of q, window by window (BigInt arithmetic: built once per table). */
function windowPoints(q: Affine, window_bits: number): Affine[] {
  const windows = Math.ceil(SCALAR_BITS / window_bits);
  const row_points = 1 << (window_bits - 1);
  const points: Affine[] = [];
  let base: Affine = q;
  for (let w = 0; w < windows; w++) {
    const twice = toAffine(double({ x: base.x, y: base.y, z: 1n }));
    assert(twice !== null, "2·B is infinity on a prime-order curve");
    const row: Jacobian[] = [{ x: base.x, y: base.y, z: 1n }];
    for (let j = 1; j < row_points; j++) row.push(addAffine(row[j - 1]!, twice.x, twice.y));
    points.push(...normalizeAll(row));
    let next: Jacobian = { x: base.x, y: base.y, z: 1n };
    for (let b = 0; b < window_bits; b++) next = double(next);
    const next_affine = toAffine(next);
    assert(next_affine !== null, "window base is infinity on a prime-order curve");
    base = next_affine;
  }
  return points;
}

function buildWindowTable(q: Affine, window_bits: number): WindowTable {
  return tableOf(windowPoints(q, window_bits), window_bits);
}

function tableOf(points: Affine[], window_bits: number): WindowTable {
  const coords = new Float64Array(points.length * POINT_LIMBS);
  const limbs = feNew();
  points.forEach((point, i) => {
    feFromBigInt(limbs, point.x);
    feCarry(limbs, limbs);
    coords.set(limbs, i * POINT_LIMBS);
    feFromBigInt(limbs, point.y);
    feCarry(limbs, limbs);
    coords.set(limbs, i * POINT_LIMBS + LIMBS);
  });
  return { window_bits, windows: Math.ceil(SCALAR_BITS / window_bits), row_points: 1 << (window_bits - 1), coords };
}

const scalar_wide = new BigUint64Array(5); // a scalar's 256 bits, then a zero word to read past the top
const scalar_words = new Uint32Array(scalar_wide.buffer);

/** Bits [from, from + count) of the scalar in scalar_words, count ≤ 16 (public positions). */
function scalarBits(from: number, count: number): number {
  const word = from >>> 5;
  const shift = from & 31;
  const high = shift === 0 ? 0 : scalar_words[word + 1]! << (32 - shift);
  return ((scalar_words[word]! >>> shift) | high) & ((1 << count) - 1);
}

/**
 * Regular signed recoding of an odd k < 2^256: k = Σ d_i·2^(w·i), every d_i odd in
 * [-(2^w − 1), 2^w − 1] (so never zero), the last one positive. With rest_0 = k,
 * d_i = (rest_i mod 2^(w+1)) − 2^w and rest_(i+1) = (rest_i − d_i) / 2^w, which is
 * ⌊k / 2^(w(i+1))⌋ with its lowest bit set: so every digit is read straight from k's bits (w + 1
 * bits at w·i, the lowest forced to 1), with integer operations and no BigInt per digit.
 */
function recodeOdd(k: bigint, window_bits: number, windows: number): Int32Array {
  assert((k & 1n) === 1n && k < 1n << BigInt(SCALAR_BITS), "recoding needs an odd 256-bit scalar");
  for (let i = 0; i < 4; i++) scalar_wide[i] = k >> BigInt(64 * i);
  scalar_wide[4] = 0n;
  const digits = new Int32Array(windows);
  const half = 1 << window_bits;
  for (let i = 0; i < windows - 1; i++) digits[i] = (scalarBits(window_bits * i, window_bits + 1) | 1) - half;
  const last = scalarBits(window_bits * (windows - 1), window_bits + 1) | 1;
  scalar_wide.fill(0n);
  assert(last < half, "recoded top digit out of range");
  digits[windows - 1] = last;
  return digits;
}

/** For public u (1 ≤ u < N): odd-digit recoding of u, or of N − u with every digit's sign flipped. */
function recodePublic(u: bigint, window_bits: number, windows: number): Int32Array {
  if ((u & 1n) === 1n) return recodeOdd(u, window_bits, windows);
  const digits = recodeOdd(N - u, window_bits, windows);
  for (let i = 0; i < windows; i++) digits[i] = -digits[i]!;
  return digits;
}

// ---- point addition in the limb field of sm2-field.ts ----

/** A Jacobian point with carried coordinates in Montgomery form (sm2-field.ts). */
interface LimbPoint {
  x: Fe;
  y: Fe;
  z: Fe;
  infinity: boolean;
}

function newLimbPoint(): LimbPoint {
  return { x: feNew(), y: feNew(), z: feNew(), infinity: true };
}

const z1z1 = feNew();
const u2 = feNew();
const s2 = feNew();
const h = feNew();
const r = feNew();
const hh = feNew();
const hhh = feNew();
const v0 = feNew();
const t0 = feNew();
const t1 = feNew();

/**
 * acc += (x2, y2) for an affine point in Montgomery form with limbs in (−2²⁴, 2²⁴) and value
 * below 2²⁵⁶ (a table entry, possibly negated): madd-2007-bl with I = 4·H², r = 2·R and
 * V = 4·V0 written out, so that no product sees more than L(a)·L(b) = 4 (sm2-field.ts), and
 * X3, Y3, Z3 carried again at the end. The same operations run for every input except the
 * exceptional cases (acc at infinity, acc = ±(x2, y2)), which are branched on as before.
 */
function addAffineLimbs(acc: LimbPoint, x2: Fe, y2: Fe): void {
  if (acc.infinity) {
    feCarry(acc.x, x2);
    feCarry(acc.y, y2);
    acc.z.set(FE_ONE);
    acc.infinity = false;
    return;
  }
  const { x: x1, y: y1, z: z1 } = acc; // each carried: L = 1, ‖·‖ < 0.51
  feSqr(z1z1, z1);
  feMul(u2, x2, z1z1); // L 2·1
  feMul(t0, z1, z1z1);
  feMul(s2, y2, t0); // L 2·1
  feSub(h, u2, x1); // H = U2 − X1: L 2, ‖·‖ < 1.52
  feSub(r, s2, y1); // R = S2 − Y1 (r = 2·R): L 2, ‖·‖ < 1.52
  if (feIsZero(h)) {
    addExceptional(acc, feIsZero(r));
    return;
  }
  feSqr(hh, h); // L 2·2
  feMul(hhh, h, hh); // H³: L 2·1
  feMul(v0, x1, hh); // V0 = X1·H² (V = 4·V0)
  feSqr(t0, r); // R²: L 2·2
  // X3 = r² − J − 2·V = 4·(R² − H³ − 2·V0): L 16 before the carry
  for (let i = 0; i < LIMBS; i++) t0[i] = 4 * (t0[i]! - hhh[i]! - 2 * v0[i]!);
  feCarry(x1, t0);
  // Y3 = r·(V − X3) − 2·Y1·J = 2·R·(4·V0 − X3) − 8·Y1·H³
  for (let i = 0; i < LIMBS; i++) t1[i] = 4 * v0[i]! - x1[i]!;
  feCarry(t1, t1);
  feMul(t0, r, t1); // L 2·1
  feMul(t1, y1, hhh);
  for (let i = 0; i < LIMBS; i++) t0[i] = 2 * t0[i]! - 8 * t1[i]!;
  feCarry(y1, t0);
  // Z3 = 2·Z1·H
  feMul(t0, z1, h); // L 1·2
  feScale(t0, t0, 2);
  feCarry(z1, t0);
}

/** acc = 2·acc (R = 0) or infinity (acc = −Q): rare, so through the BigInt formulas. */
function addExceptional(acc: LimbPoint, same_point: boolean): void {
  if (!same_point) {
    acc.infinity = true;
    return;
  }
  setLimbPoint(acc, double(jacobianOf(acc)));
}

function jacobianOf(p: LimbPoint): Jacobian {
  if (p.infinity) return INFINITY;
  return { x: feToBigInt(p.x), y: feToBigInt(p.y), z: feToBigInt(p.z) };
}

function setLimbPoint(p: LimbPoint, q: Jacobian): void {
  p.infinity = q.z === 0n;
  if (p.infinity) return;
  feFromBigInt(p.x, q.x);
  feFromBigInt(p.y, q.y);
  feFromBigInt(p.z, q.z);
}

const digit_x = feNew();
const digit_y = feNew();

/** acc += digit·2^(w·window)·Q from a public table (public digit: direct index). */
function addDigit(acc: LimbPoint, table: WindowTable, window: number, digit: number): void {
  const offset = (window * table.row_points + ((Math.abs(digit) - 1) >> 1)) * POINT_LIMBS;
  const coords = table.coords;
  const sign = digit < 0 ? -1 : 1;
  for (let i = 0; i < LIMBS; i++) {
    digit_x[i] = coords[offset + i]!;
    digit_y[i] = sign * coords[offset + LIMBS + i]!;
  }
  addAffineLimbs(acc, digit_x, digit_y);
}

// ---- G's tables: limbs for public lookups, 32-bit words for masked secret lookups ----

let base_table: WindowTable | null = null;

function baseTable(): WindowTable {
  base_table ??= buildWindowTable({ x: GX, y: GY }, BASE_WINDOW_BITS);
  return base_table;
}

interface SignTable {
  window_bits: number;
  windows: number;
  row_points: number;
  words: Int32Array; // per point: Montgomery x then y, 8 little-endian 32-bit words each
}
let sign_table: SignTable | null = null;

const scratch_buffer = new ArrayBuffer(COORD_WORDS * 4);
const scratch_words = new Int32Array(scratch_buffer);
const scratch_wide = new BigUint64Array(scratch_buffer);

function writeCoordinate(words: Int32Array, offset: number, value: bigint): void {
  for (let i = 0; i < 4; i++) scratch_wide[i] = value >> BigInt(64 * i);
  words.set(scratch_words, offset);
}

function signTable(): SignTable {
  if (sign_table) return sign_table;
  const points = windowPoints({ x: GX, y: GY }, SIGN_WINDOW_BITS);
  const words = new Int32Array(points.length * POINT_WORDS);
  points.forEach((point, i) => {
    writeCoordinate(words, i * POINT_WORDS, toMontgomery(point.x));
    writeCoordinate(words, i * POINT_WORDS + COORD_WORDS, toMontgomery(point.y));
  });
  const window_bits = SIGN_WINDOW_BITS;
  sign_table = { window_bits, windows: Math.ceil(SCALAR_BITS / window_bits), row_points: 1 << (window_bits - 1), words };
  return sign_table;
}

/** Builds G's tables now rather than on the first signature and verification (about 120 ms of CPU, once). */
export function warmSm2Tables(): void {
  signTable();
  baseTable();
}

const select_x = feNew();
const select_y = feNew();

/**
 * Reads row `window`, entry `entry` (secret) into select_x and select_y (y times `sign`, ±1) by
 * scanning every entry of the row with a mask. Unrolled over the 16 words of a point, with Int32
 * words, because this scan is a third of a signature's time otherwise (Uint32 values above 2^31
 * leave the JIT's integer path). The words become limbs and y is negated by a multiplication by
 * ±1: no branch and no index on the entry or the sign.
 */
function selectMasked(words: Int32Array, row_points: number, window: number, entry: number, sign: number): void {
  let w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0; // prettier-ignore
  let w8 = 0, w9 = 0, w10 = 0, w11 = 0, w12 = 0, w13 = 0, w14 = 0, w15 = 0; // prettier-ignore
  let o = window * row_points * POINT_WORDS;
  for (let j = 0; j < row_points; j++, o += POINT_WORDS) {
    const m = ((j ^ entry) - 1) >> 31; // -1 when j === entry, else 0, without a branch
    w0 |= words[o]! & m;
    w1 |= words[o + 1]! & m;
    w2 |= words[o + 2]! & m;
    w3 |= words[o + 3]! & m;
    w4 |= words[o + 4]! & m;
    w5 |= words[o + 5]! & m;
    w6 |= words[o + 6]! & m;
    w7 |= words[o + 7]! & m;
    w8 |= words[o + 8]! & m;
    w9 |= words[o + 9]! & m;
    w10 |= words[o + 10]! & m;
    w11 |= words[o + 11]! & m;
    w12 |= words[o + 12]! & m;
    w13 |= words[o + 13]! & m;
    w14 |= words[o + 14]! & m;
    w15 |= words[o + 15]! & m;
  }
  feFromWords(select_x, w0, w1, w2, w3, w4, w5, w6, w7);
  feFromWords(select_y, w8, w9, w10, w11, w12, w13, w14, w15);
  feScale(select_y, select_y, sign);
}

const base_acc = newLimbPoint();

/** Σ d_i·2^(w·i)·G for secret odd-digit d: one masked row scan and one mixed addition per digit. */
function baseMulOdd(odd_k: bigint): Jacobian {
  const table = signTable();
  const digits = recodeOdd(odd_k, table.window_bits, table.windows);
  const acc = base_acc;
  acc.infinity = true;
  for (let i = 0; i < table.windows; i++) {
    const digit = digits[i]!;
    const negative = digit >> 31; // -1 when negative
    selectMasked(table.words, table.row_points, i, ((digit ^ negative) - negative - 1) >> 1, 1 + 2 * negative);
    // acc is infinity only before the first digit (a public loop index), and |acc| < |d_i·2^(w·i)|
    // afterwards: no exceptional case.
    addAffineLimbs(acc, select_x, select_y);
  }
  digits.fill(0);
  select_x.fill(0);
  select_y.fill(0);
  const point = jacobianOf(acc);
  acc.x.fill(0);
  acc.y.fill(0);
  acc.z.fill(0);
  return point;
}

/** Oddness without a branch: k if odd, else N − k (odd, since N is odd); and the flag (-1n when flipped). */
function oddForm(k: bigint): { odd_k: bigint; flipped: bigint } {
  assert(k >= 1n && k < N, "scalar out of range");
  const flipped = (k & 1n) - 1n; // 0n when odd, -1n when even
  return { odd_k: k ^ ((k ^ (N - k)) & flipped), flipped };
}

/** x(k·G) for a secret k in [1, N−1] (x of −k·G is the same, so the parity flip needs no fix-up). */
export function baseMulX(k: bigint): bigint {
  const { odd_k } = oddForm(k);
  const point = baseMulOdd(odd_k);
  const zi = invModBlinded(point.z, P);
  return (point.x * ((zi * zi) % P)) % P;
}

/**
 * x(k·G) for several secret k in [1, N−1] with one blinded inversion (Montgomery's trick: the Z
 * of every point inverted through their product): an inversion is about 12 µs, a tenth of a
 * signature, and the three products per point that replace it about 1 µs. Each k·G is computed
 * as in baseMulX; only the final division by Z² is shared.
 */
export function baseMulXBatch(ks: readonly bigint[]): bigint[] {
  return affineXs(ks.map((k) => baseMulOdd(oddForm(k).odd_k)));
}

/**
 * x(k·G) for several k in [1, N−1] whose secrecy does not matter, with one inversion: G's 9-bit
 * verification table indexed by k's digits, 29 additions and no row scans (about half of
 * baseMulXBatch's CPU per point). VARIABLE TIME: the table index and the exceptional-case branches
 * depend on k, so a process sharing the machine could learn nonce bits from cache timing and, over
 * many signatures, the key. Only for keys that protect nothing (the sandbox's simulated networks,
 * src/sandbox/signing.ts); every key of paycore's own signs through baseMulXBatch.
 */
export function baseMulXBatchVariableTime(ks: readonly bigint[]): bigint[] {
  return affineXs(ks.map((k) => baseMulPublic(k)));
}

/** The affine x of each point (none at infinity) with one blinded inversion (Montgomery's trick). */
function affineXs(points: readonly Jacobian[]): bigint[] {
  const prefix: bigint[] = new Array(points.length);
  let product = 1n;
  for (let i = 0; i < points.length; i++) {
    prefix[i] = product;
    product = (product * points[i]!.z) % P;
  }
  let inverse = invModBlinded(product, P); // of Z_0 · … · Z_(i)
  const xs: bigint[] = new Array(points.length);
  for (let i = points.length - 1; i >= 0; i--) {
    const point = points[i]!;
    const zi = (inverse * prefix[i]!) % P;
    inverse = (inverse * point.z) % P;
    xs[i] = (point.x * ((zi * zi) % P)) % P;
  }
  return xs;
}

/** k·G for a secret k in [1, N−1]. */
export function baseMul(k: bigint): Affine {
  const { odd_k, flipped } = oddForm(k);
  const point = baseMulOdd(odd_k);
  const zi = invModBlinded(point.z, P);
  const zi2 = (zi * zi) % P;
  const y = (((point.y * zi2) % P) * zi) % P;
  return { x: (point.x * zi2) % P, y: y ^ ((y ^ (P - y)) & flipped) };
}

// ---- verification: u·G + v·Q with public scalars ----

const public_tables = new Map<string, WindowTable>();

function publicTable(key_id: string, q: Affine): WindowTable {
  const found = public_tables.get(key_id);
  if (found) {
    public_tables.delete(key_id); // re-insert: Map order is the LRU order
    public_tables.set(key_id, found);
    return found;
  }
  const table = buildWindowTable(q, PUBLIC_WINDOW_BITS);
  if (public_tables.size >= PUBLIC_KEY_TABLES_MAX) public_tables.delete(public_tables.keys().next().value!);
  public_tables.set(key_id, table);
  return table;
}

const public_acc = newLimbPoint();

/** u·G in Jacobian form for public u in [1, N−1], from G's verification table. */
function baseMulPublic(u: bigint): Jacobian {
  assert(u >= 1n && u < N, "scalar out of range");
  const g = baseTable();
  const digits = recodePublic(u, g.window_bits, g.windows);
  const acc = public_acc;
  acc.infinity = true;
  for (let i = 0; i < g.windows; i++) addDigit(acc, g, i, digits[i]!);
  const point = jacobianOf(acc);
  assert(point.z !== 0n, "u·G is infinity for u in [1, N−1]");
  return point;
}

/** u·G + v·Q in Jacobian form for public u, v in [1, N−1] and a validated point Q named key_id. */
export function mulAddPublic(u: bigint, v: bigint, key_id: string, q: Affine): Jacobian {
  assert(u >= 1n && u < N && v >= 1n && v < N, "scalar out of range");
  const g = baseTable();
  const k = publicTable(key_id, q);
  const u_digits = recodePublic(u, g.window_bits, g.windows);
  const v_digits = recodePublic(v, k.window_bits, k.windows);
  const acc = public_acc;
  acc.infinity = true;
  for (let i = 0; i < g.windows; i++) addDigit(acc, g, i, u_digits[i]!);
  for (let i = 0; i < k.windows; i++) addDigit(acc, k, i, v_digits[i]!);
  return jacobianOf(acc);
}

/** Whether the affine x of a Jacobian point equals x, without an inversion: X == x·Z² (mod P). */
export function jacobianXEquals(p: Jacobian, x: bigint): boolean {
  if (p.z === 0n || x < 0n || x >= P) return false;
  return (x * ((p.z * p.z) % P)) % P === p.x;
}
