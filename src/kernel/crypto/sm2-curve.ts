import { randomFillSync } from "node:crypto";
import { assert } from "../assert.ts";

/**
 * Point arithmetic on sm2p256v1 for the SM2 scheme in sm2.ts: Jacobian coordinates over BigInt, and
 * precomputed tables so that no scalar multiplication needs a doubling chain at call time.
 *
 * - k·G (signing, secret k): a fixed-base table of G built once, lazily (about 40 ms on first use).
 *   The scalar is recoded into odd signed digits (every digit non-zero, so there is no point at
 *   infinity to branch on), and each digit's row is scanned whole with masks in 32-bit words: no
 *   memory index and no branch depends on the secret. The final inversion of Z is blinded.
 * - u·G + v·Q (verification, public u, v, Q): G's table indexed directly, plus a smaller table per
 *   public key, kept in a small LRU (PUBLIC_KEY_TABLES_MAX); no doublings at all.
 *
 * BigInt arithmetic itself is not constant time at the instruction level (carry-dependent
 * branches, operand lengths); what is held here is the structural part: no secret-dependent table
 * index, no branch on scalar digits or parity, blinded inversions.
 */
export const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
export const A = P - 3n;
export const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
export const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
export const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
export const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

const SCALAR_BITS = 256;
/** Digit width of G's table: 32 windows × 128 points (4,096 affine points, about 1 MB with limbs). */
const BASE_WINDOW_BITS = 8;
/**
 * Digit width of a public key's table: 37 windows × 64 points, about 10 ms to build once per key,
 * for 69 mixed additions per verification instead of 84 with 5-bit digits (52 windows × 16).
 */
const PUBLIC_WINDOW_BITS = 7;
/** Public keys whose tables are kept (the networks' and peers' keys; a handful in practice). */
export const PUBLIC_KEY_TABLES_MAX = 16;
const COORD_WORDS = 8; // 32-bit words per coordinate
const POINT_WORDS = 2 * COORD_WORDS;
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

/** Odd multiples j·2^(w·i)·Q, j = 1, 3, …, 2^w − 1, window by window, as flat affine arrays. */
interface WindowTable {
  window_bits: number;
  windows: number;
  row_points: number; // 2^(w-1)
  xs: bigint[];
  ys: bigint[];
}

function buildWindowTable(q: Affine, window_bits: number): WindowTable {
  const windows = Math.ceil(SCALAR_BITS / window_bits);
  const row_points = 1 << (window_bits - 1);
  const xs: bigint[] = [];
  const ys: bigint[] = [];
  let base: Affine = q;
  for (let w = 0; w < windows; w++) {
    const twice = toAffine(double({ x: base.x, y: base.y, z: 1n }));
    assert(twice !== null, "2·B is infinity on a prime-order curve");
    const row: Jacobian[] = [{ x: base.x, y: base.y, z: 1n }];
    for (let j = 1; j < row_points; j++) row.push(addAffine(row[j - 1]!, twice.x, twice.y));
    for (const point of normalizeAll(row)) {
      xs.push(point.x);
      ys.push(point.y);
    }
    let next: Jacobian = { x: base.x, y: base.y, z: 1n };
    for (let b = 0; b < window_bits; b++) next = double(next);
    const next_affine = toAffine(next);
    assert(next_affine !== null, "window base is infinity on a prime-order curve");
    base = next_affine;
  }
  return { window_bits, windows, row_points, xs, ys };
}

/**
 * Regular signed recoding of an odd k < 2^256: k = Σ d_i·2^(w·i), every d_i odd in
 * [-(2^w − 1), 2^w − 1] (so never zero), the last one positive.
 */
function recodeOdd(k: bigint, window_bits: number, windows: number): Int32Array {
  assert((k & 1n) === 1n && k < 1n << BigInt(SCALAR_BITS), "recoding needs an odd 256-bit scalar");
  const digits = new Int32Array(windows);
  const low_mask = (1n << BigInt(window_bits + 1)) - 1n;
  const half = 1 << window_bits;
  const shift = BigInt(window_bits);
  let rest = k;
  for (let i = 0; i < windows - 1; i++) {
    const digit = Number(rest & low_mask) - half;
    digits[i] = digit;
    rest = (rest - BigInt(digit)) >> shift;
  }
  const last = Number(rest);
  assert(last >= 1 && last < half && (last & 1) === 1, "recoded top digit out of range");
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

function addDigit(acc: Jacobian, table: WindowTable, window: number, digit: number): Jacobian {
  const index = window * table.row_points + ((Math.abs(digit) - 1) >> 1);
  const y = table.ys[index]!;
  return addAffine(acc, table.xs[index]!, digit < 0 ? P - y : y);
}

// ---- G's table: BigInt arrays for public lookups, 32-bit limbs for masked secret lookups ----

interface BaseTable extends WindowTable {
  limbs: Int32Array; // per point: x then y, 8 little-endian words each
}
let base_table: BaseTable | null = null;

const scratch_buffer = new ArrayBuffer(POINT_WORDS * 4);
const scratch_words = new Int32Array(scratch_buffer);
const scratch_wide = new BigUint64Array(scratch_buffer);

function writeCoordinate(limbs: Int32Array, offset: number, value: bigint): void {
  for (let i = 0; i < 4; i++) scratch_wide[i] = value >> BigInt(64 * i);
  limbs.set(scratch_words.subarray(0, COORD_WORDS), offset);
}

function baseTable(): BaseTable {
  if (base_table) return base_table;
  const table = buildWindowTable({ x: GX, y: GY }, BASE_WINDOW_BITS);
  const limbs = new Int32Array(table.xs.length * POINT_WORDS);
  for (let i = 0; i < table.xs.length; i++) {
    writeCoordinate(limbs, i * POINT_WORDS, table.xs[i]!);
    writeCoordinate(limbs, i * POINT_WORDS + COORD_WORDS, table.ys[i]!);
  }
  base_table = { ...table, limbs };
  return base_table;
}

/** Builds G's table now rather than on the first signature (about 40 ms of CPU, once). */
export function warmSm2Tables(): void {
  baseTable();
}

/**
 * Reads row `window`, entry `entry` (secret) into the scratch words by scanning every entry of the
 * row with a mask. Unrolled over the 16 words of a point, with Int32 limbs, because this scan is a
 * third of a signature's time otherwise (Uint32 values above 2^31 leave the JIT's integer path).
 */
function selectMasked(limbs: Int32Array, row_points: number, window: number, entry: number): void {
  let w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0; // prettier-ignore
  let w8 = 0, w9 = 0, w10 = 0, w11 = 0, w12 = 0, w13 = 0, w14 = 0, w15 = 0; // prettier-ignore
  let o = window * row_points * POINT_WORDS;
  for (let j = 0; j < row_points; j++, o += POINT_WORDS) {
    const m = ((j ^ entry) - 1) >> 31; // -1 when j === entry, else 0, without a branch
    w0 |= limbs[o]! & m;
    w1 |= limbs[o + 1]! & m;
    w2 |= limbs[o + 2]! & m;
    w3 |= limbs[o + 3]! & m;
    w4 |= limbs[o + 4]! & m;
    w5 |= limbs[o + 5]! & m;
    w6 |= limbs[o + 6]! & m;
    w7 |= limbs[o + 7]! & m;
    w8 |= limbs[o + 8]! & m;
    w9 |= limbs[o + 9]! & m;
    w10 |= limbs[o + 10]! & m;
    w11 |= limbs[o + 11]! & m;
    w12 |= limbs[o + 12]! & m;
    w13 |= limbs[o + 13]! & m;
    w14 |= limbs[o + 14]! & m;
    w15 |= limbs[o + 15]! & m;
  }
  const words = scratch_words;
  words[0] = w0;
  words[1] = w1;
  words[2] = w2;
  words[3] = w3;
  words[4] = w4;
  words[5] = w5;
  words[6] = w6;
  words[7] = w7;
  words[8] = w8;
  words[9] = w9;
  words[10] = w10;
  words[11] = w11;
  words[12] = w12;
  words[13] = w13;
  words[14] = w14;
  words[15] = w15;
}

function scratchCoordinate(lane: number): bigint {
  const w = scratch_wide;
  return w[lane]! | (w[lane + 1]! << 64n) | (w[lane + 2]! << 128n) | (w[lane + 3]! << 192n);
}

/** Σ d_i·2^(8i)·G for secret odd-digit d: one masked row scan and one mixed addition per digit. */
function baseMulOdd(odd_k: bigint): Jacobian {
  const table = baseTable();
  const digits = recodeOdd(odd_k, table.window_bits, table.windows);
  let acc: Jacobian = INFINITY;
  for (let i = 0; i < table.windows; i++) {
    const digit = digits[i]!;
    const sign = digit >> 31; // -1 when negative
    selectMasked(table.limbs, table.row_points, i, ((digit ^ sign) - sign - 1) >> 1);
    const x = scratchCoordinate(0);
    const y = scratchCoordinate(4);
    const negate = BigInt(sign);
    // acc is never infinity after the first digit, and |acc| < |d_i·2^(8i)|: no exceptional case.
    acc = i === 0 ? { x, y: y ^ ((y ^ (P - y)) & negate), z: 1n } : addAffine(acc, x, y ^ ((y ^ (P - y)) & negate));
  }
  digits.fill(0);
  return acc;
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

/** u·G + v·Q in Jacobian form for public u, v in [1, N−1] and a validated point Q named key_id. */
export function mulAddPublic(u: bigint, v: bigint, key_id: string, q: Affine): Jacobian {
  assert(u >= 1n && u < N && v >= 1n && v < N, "scalar out of range");
  const g = baseTable();
  const k = publicTable(key_id, q);
  const u_digits = recodePublic(u, g.window_bits, g.windows);
  const v_digits = recodePublic(v, k.window_bits, k.windows);
  let acc: Jacobian = INFINITY;
  for (let i = 0; i < g.windows; i++) acc = addDigit(acc, g, i, u_digits[i]!);
  for (let i = 0; i < k.windows; i++) acc = addDigit(acc, k, i, v_digits[i]!);
  return acc;
}

/** Whether the affine x of a Jacobian point equals x, without an inversion: X == x·Z² (mod P). */
export function jacobianXEquals(p: Jacobian, x: bigint): boolean {
  if (p.z === 0n || x < 0n || x >= P) return false;
  return (x * ((p.z * p.z) % P)) % P === p.x;
}
