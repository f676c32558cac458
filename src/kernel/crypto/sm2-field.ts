import { assert } from "../assert.ts";

/**
 * Field arithmetic mod P = 2²⁵⁶ − 2²²⁴ − 2⁹⁶ + 2⁶⁴ − 1 (sm2p256v1) in plain doubles, for the hot
 * point additions of sm2-curve.ts. A BigInt product and `% P` cost 300–450 ns and allocate; a
 * product here is about 120 ns and allocates nothing.
 *
 * Representation. An element is a Float64Array of 11 signed limbs in radix 2²⁴ (264 bits), the
 * value Σ aᵢ·2^(24i), in Montgomery form with R = 2²⁶⁴ (x is held as x·R mod P, not necessarily
 * below P; every limb an exact integer). Below, L(a) is the largest |limb| over 2²³ and ‖a‖ is
 * |value| over 2²⁵⁶.
 * - feMul and feSqr return limbs 0–9 in [−2²³, 2²³] (L = 1) and ‖out‖ ≤ ‖a‖·‖b‖/256 + 0.51,
 *   so ‖out‖ < 1.01 while ‖a‖·‖b‖ ≤ 128.
 * - feCarry returns L = 1 and ‖out‖ < 0.51 (it subtracts the multiple of P that the top limb shows).
 * - feAdd, feSub and feScale are limb by limb with no carry: L and ‖·‖ add up.
 *
 * Exactness. A double holds integers below 2⁵³ exactly. A product column is a sum of at most 11
 * products, below 11·L(a)·L(b)·2⁴⁶, and the reduction adds under 2⁴¹ to a column: feMul and feSqr
 * are exact while L(a)·L(b) ≤ 11. sm2-curve.ts keeps both bounds and says where. Every operation
 * runs the same instructions whatever the values: no branch, no table index, no early exit
 * depends on them.
 */
export type Fe = Float64Array;

export const LIMBS = 11;
const RADIX = 16777216; // 2^24
const RADIX_INV = 1 / RADIX;
/** x + 1.5·2⁵² − 1.5·2⁵² rounds a double below 2⁵¹ to the nearest integer, without a branch or a call. */
const ROUNDING = 6755399441055744;
const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const R_BITS = 264n;
const R_MOD_P = (1n << R_BITS) % P;

function round(x: number): number {
  return x + ROUNDING - ROUNDING;
}

export function feNew(): Fe {
  return new Float64Array(LIMBS);
}

/** Writes the 11 limbs in [0, 2²⁴) of an integer 0 ≤ x < 2²⁶⁴ at out[offset…] (no Montgomery conversion). */
function writeLimbs(out: Float64Array, offset: number, x: bigint): void {
  for (let i = 0; i < LIMBS; i++) out[offset + i] = Number((x >> BigInt(24 * i)) & 0xffffffn);
}

function limbsOf(x: bigint): Fe {
  const out = feNew();
  writeLimbs(out, 0, x);
  return out;
}

/** x·R mod P in [0, P): the Montgomery form of x as an integer (for building tables). */
export function toMontgomery(x: bigint): bigint {
  const r = ((x % P) * R_MOD_P) % P;
  return r < 0n ? r + P : r;
}

/** R² mod P: feMul by it moves an integer into Montgomery form. */
const R2 = limbsOf((1n << (2n * R_BITS)) % P);
/** The integer 1: feMul by it moves a value out of Montgomery form. */
const ONE_PLAIN = limbsOf(1n);
/** P's own limbs, for the exact zero test. */
const P_LIMBS = limbsOf(P);
const P_APPROX = Number(P);
/** −P + 2²⁵⁶ by limb (0–9): what subtracting q·P adds below limb 10. */
const FOLD = new Float64Array([1, 0, -65536, 0, 1, 0, 0, 0, 0, 256]);

/** 1 in Montgomery form (R mod P). */
export const FE_ONE = limbsOf(R_MOD_P);

/**
 * a·b·R⁻¹ (mod P), carried; out may be a or b. Columns tᵢ = Σ aⱼ·b_(i−j), then Montgomery reduction
 * limb by limb. Written out in full: a loop over typed arrays is about twice as slow in V8.
 */
export function feMul(out: Fe, a: Fe, b: Fe): void {
  const a0 = a[0]!, b0 = b[0]!; // prettier-ignore
  const a1 = a[1]!, b1 = b[1]!; // prettier-ignore
  const a2 = a[2]!, b2 = b[2]!; // prettier-ignore
  const a3 = a[3]!, b3 = b[3]!; // prettier-ignore
  const a4 = a[4]!, b4 = b[4]!; // prettier-ignore
  const a5 = a[5]!, b5 = b[5]!; // prettier-ignore
  const a6 = a[6]!, b6 = b[6]!; // prettier-ignore
  const a7 = a[7]!, b7 = b[7]!; // prettier-ignore
  const a8 = a[8]!, b8 = b[8]!; // prettier-ignore
  const a9 = a[9]!, b9 = b[9]!; // prettier-ignore
  const a10 = a[10]!, b10 = b[10]!; // prettier-ignore
  const t0 = a0 * b0;
  let t1 = a0 * b1 + a1 * b0;
  let t2 = a0 * b2 + a1 * b1 + a2 * b0;
  let t3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  let t4 = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
  let t5 = a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0;
  let t6 = a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0;
  let t7 = a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0;
  let t8 = a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4 + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0;
  let t9 = a0 * b9 + a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5 + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1 + a9 * b0;
  let t10 = a0 * b10 + a1 * b9 + a2 * b8 + a3 * b7 + a4 * b6 + a5 * b5 + a6 * b4 + a7 * b3 + a8 * b2 + a9 * b1 + a10 * b0;
  let t11 = a1 * b10 + a2 * b9 + a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5 + a7 * b4 + a8 * b3 + a9 * b2 + a10 * b1;
  let t12 = a2 * b10 + a3 * b9 + a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5 + a8 * b4 + a9 * b3 + a10 * b2;
  let t13 = a3 * b10 + a4 * b9 + a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5 + a9 * b4 + a10 * b3;
  let t14 = a4 * b10 + a5 * b9 + a6 * b8 + a7 * b7 + a8 * b6 + a9 * b5 + a10 * b4;
  let t15 = a5 * b10 + a6 * b9 + a7 * b8 + a8 * b7 + a9 * b6 + a10 * b5;
  let t16 = a6 * b10 + a7 * b9 + a8 * b8 + a9 * b7 + a10 * b6;
  let t17 = a7 * b10 + a8 * b9 + a9 * b8 + a10 * b7;
  let t18 = a8 * b10 + a9 * b9 + a10 * b8;
  let t19 = a9 * b10 + a10 * b9;
  let t20 = a10 * b10;
  // Montgomery reduction, one limb at a time: m ≡ t_i (mod 2^24) since −P⁻¹ ≡ 1; adding m·P·2^(24i) clears t_i
  // (P = 2^(240+16) − 2^(216+8) − 2^96 + 2^(48+16) − 1: five terms, no products) and carries into t_(i+1).
  let m = 0, c = 0; // prettier-ignore
  c = round(t0 * RADIX_INV); m = t0 - c * RADIX; t1 += c; t2 += m * 65536; t4 -= m; t9 -= m * 256; t10 += m * 65536;
  c = round(t1 * RADIX_INV); m = t1 - c * RADIX; t2 += c; t3 += m * 65536; t5 -= m; t10 -= m * 256; t11 += m * 65536;
  c = round(t2 * RADIX_INV); m = t2 - c * RADIX; t3 += c; t4 += m * 65536; t6 -= m; t11 -= m * 256; t12 += m * 65536;
  c = round(t3 * RADIX_INV); m = t3 - c * RADIX; t4 += c; t5 += m * 65536; t7 -= m; t12 -= m * 256; t13 += m * 65536;
  c = round(t4 * RADIX_INV); m = t4 - c * RADIX; t5 += c; t6 += m * 65536; t8 -= m; t13 -= m * 256; t14 += m * 65536;
  c = round(t5 * RADIX_INV); m = t5 - c * RADIX; t6 += c; t7 += m * 65536; t9 -= m; t14 -= m * 256; t15 += m * 65536;
  c = round(t6 * RADIX_INV); m = t6 - c * RADIX; t7 += c; t8 += m * 65536; t10 -= m; t15 -= m * 256; t16 += m * 65536;
  c = round(t7 * RADIX_INV); m = t7 - c * RADIX; t8 += c; t9 += m * 65536; t11 -= m; t16 -= m * 256; t17 += m * 65536;
  c = round(t8 * RADIX_INV); m = t8 - c * RADIX; t9 += c; t10 += m * 65536; t12 -= m; t17 -= m * 256; t18 += m * 65536;
  c = round(t9 * RADIX_INV); m = t9 - c * RADIX; t10 += c; t11 += m * 65536; t13 -= m; t18 -= m * 256; t19 += m * 65536;
  c = round(t10 * RADIX_INV); m = t10 - c * RADIX; t11 += c; t12 += m * 65536; t14 -= m; t19 -= m * 256; t20 += m * 65536;
  // (t11 … t21) = (a·b + M·P) / 2^264: carry into balanced limbs.
  c = round(t11 * RADIX_INV); out[0] = t11 - c * RADIX; t12 += c;
  c = round(t12 * RADIX_INV); out[1] = t12 - c * RADIX; t13 += c;
  c = round(t13 * RADIX_INV); out[2] = t13 - c * RADIX; t14 += c;
  c = round(t14 * RADIX_INV); out[3] = t14 - c * RADIX; t15 += c;
  c = round(t15 * RADIX_INV); out[4] = t15 - c * RADIX; t16 += c;
  c = round(t16 * RADIX_INV); out[5] = t16 - c * RADIX; t17 += c;
  c = round(t17 * RADIX_INV); out[6] = t17 - c * RADIX; t18 += c;
  c = round(t18 * RADIX_INV); out[7] = t18 - c * RADIX; t19 += c;
  c = round(t19 * RADIX_INV); out[8] = t19 - c * RADIX; t20 += c;
  c = round(t20 * RADIX_INV); out[9] = t20 - c * RADIX; out[10] = c;
}

/** a²·R⁻¹ (mod P), carried: feMul with each cross product once, doubled (66 products instead of 121). */
export function feSqr(out: Fe, a: Fe): void {
  const a0 = a[0]!;
  const a1 = a[1]!, d1 = 2 * a1; // prettier-ignore
  const a2 = a[2]!, d2 = 2 * a2; // prettier-ignore
  const a3 = a[3]!, d3 = 2 * a3; // prettier-ignore
  const a4 = a[4]!, d4 = 2 * a4; // prettier-ignore
  const a5 = a[5]!, d5 = 2 * a5; // prettier-ignore
  const a6 = a[6]!, d6 = 2 * a6; // prettier-ignore
  const a7 = a[7]!, d7 = 2 * a7; // prettier-ignore
  const a8 = a[8]!, d8 = 2 * a8; // prettier-ignore
  const a9 = a[9]!, d9 = 2 * a9; // prettier-ignore
  const a10 = a[10]!, d10 = 2 * a10; // prettier-ignore
  const t0 = a0 * a0;
  let t1 = a0 * d1;
  let t2 = a0 * d2 + a1 * a1;
  let t3 = a0 * d3 + a1 * d2;
  let t4 = a0 * d4 + a1 * d3 + a2 * a2;
  let t5 = a0 * d5 + a1 * d4 + a2 * d3;
  let t6 = a0 * d6 + a1 * d5 + a2 * d4 + a3 * a3;
  let t7 = a0 * d7 + a1 * d6 + a2 * d5 + a3 * d4;
  let t8 = a0 * d8 + a1 * d7 + a2 * d6 + a3 * d5 + a4 * a4;
  let t9 = a0 * d9 + a1 * d8 + a2 * d7 + a3 * d6 + a4 * d5;
  let t10 = a0 * d10 + a1 * d9 + a2 * d8 + a3 * d7 + a4 * d6 + a5 * a5;
  let t11 = a1 * d10 + a2 * d9 + a3 * d8 + a4 * d7 + a5 * d6;
  let t12 = a2 * d10 + a3 * d9 + a4 * d8 + a5 * d7 + a6 * a6;
  let t13 = a3 * d10 + a4 * d9 + a5 * d8 + a6 * d7;
  let t14 = a4 * d10 + a5 * d9 + a6 * d8 + a7 * a7;
  let t15 = a5 * d10 + a6 * d9 + a7 * d8;
  let t16 = a6 * d10 + a7 * d9 + a8 * a8;
  let t17 = a7 * d10 + a8 * d9;
  let t18 = a8 * d10 + a9 * a9;
  let t19 = a9 * d10;
  let t20 = a10 * a10;
  // The same reduction and carry as feMul's, written out again on purpose: the 21 partial sums
  // stay in registers; a shared function would take them through memory on SM2's hottest path.
  // Montgomery reduction, one limb at a time: m ≡ t_i (mod 2^24) since −P⁻¹ ≡ 1; adding m·P·2^(24i) clears t_i
  // (P = 2^(240+16) − 2^(216+8) − 2^96 + 2^(48+16) − 1: five terms, no products) and carries into t_(i+1).
  let m = 0, c = 0; // prettier-ignore
  c = round(t0 * RADIX_INV); m = t0 - c * RADIX; t1 += c; t2 += m * 65536; t4 -= m; t9 -= m * 256; t10 += m * 65536;
  c = round(t1 * RADIX_INV); m = t1 - c * RADIX; t2 += c; t3 += m * 65536; t5 -= m; t10 -= m * 256; t11 += m * 65536;
  c = round(t2 * RADIX_INV); m = t2 - c * RADIX; t3 += c; t4 += m * 65536; t6 -= m; t11 -= m * 256; t12 += m * 65536;
  c = round(t3 * RADIX_INV); m = t3 - c * RADIX; t4 += c; t5 += m * 65536; t7 -= m; t12 -= m * 256; t13 += m * 65536;
  c = round(t4 * RADIX_INV); m = t4 - c * RADIX; t5 += c; t6 += m * 65536; t8 -= m; t13 -= m * 256; t14 += m * 65536;
  c = round(t5 * RADIX_INV); m = t5 - c * RADIX; t6 += c; t7 += m * 65536; t9 -= m; t14 -= m * 256; t15 += m * 65536;
  c = round(t6 * RADIX_INV); m = t6 - c * RADIX; t7 += c; t8 += m * 65536; t10 -= m; t15 -= m * 256; t16 += m * 65536;
  c = round(t7 * RADIX_INV); m = t7 - c * RADIX; t8 += c; t9 += m * 65536; t11 -= m; t16 -= m * 256; t17 += m * 65536;
  c = round(t8 * RADIX_INV); m = t8 - c * RADIX; t9 += c; t10 += m * 65536; t12 -= m; t17 -= m * 256; t18 += m * 65536;
  c = round(t9 * RADIX_INV); m = t9 - c * RADIX; t10 += c; t11 += m * 65536; t13 -= m; t18 -= m * 256; t19 += m * 65536;
  c = round(t10 * RADIX_INV); m = t10 - c * RADIX; t11 += c; t12 += m * 65536; t14 -= m; t19 -= m * 256; t20 += m * 65536;
  // (t11 … t21) = (a·b + M·P) / 2^264: carry into balanced limbs.
  c = round(t11 * RADIX_INV); out[0] = t11 - c * RADIX; t12 += c;
  c = round(t12 * RADIX_INV); out[1] = t12 - c * RADIX; t13 += c;
  c = round(t13 * RADIX_INV); out[2] = t13 - c * RADIX; t14 += c;
  c = round(t14 * RADIX_INV); out[3] = t14 - c * RADIX; t15 += c;
  c = round(t15 * RADIX_INV); out[4] = t15 - c * RADIX; t16 += c;
  c = round(t16 * RADIX_INV); out[5] = t16 - c * RADIX; t17 += c;
  c = round(t17 * RADIX_INV); out[6] = t17 - c * RADIX; t18 += c;
  c = round(t18 * RADIX_INV); out[7] = t18 - c * RADIX; t19 += c;
  c = round(t19 * RADIX_INV); out[8] = t19 - c * RADIX; t20 += c;
  c = round(t20 * RADIX_INV); out[9] = t20 - c * RADIX; out[10] = c;
}


export function feAdd(out: Fe, a: Fe, b: Fe): void {
  for (let i = 0; i < LIMBS; i++) out[i] = a[i]! + b[i]!;
}

export function feSub(out: Fe, a: Fe, b: Fe): void {
  for (let i = 0; i < LIMBS; i++) out[i] = a[i]! - b[i]!;
}

/** out = k·a for a small integer k (|k|·L stays small: see the exactness note). */
export function feScale(out: Fe, a: Fe, k: number): void {
  for (let i = 0; i < LIMBS; i++) out[i] = a[i]! * k;
}

/**
 * The value of a less the multiple of P that its top limb shows (P ≈ 2²⁵⁶ = 2¹⁶ in limb 10),
 * carried: L = 1 and ‖out‖ < 0.51, for any a with limbs below 2⁴⁰.
 */
export function feCarry(out: Fe, a: Fe): void {
  const q = round(a[10]! * (1 / 65536));
  // a − q·P, where −P = −2^(240+16) + 2^(216+8) + 2^96 − 2^(48+16) + 1
  let c = 0;
  for (let i = 0; i < LIMBS - 1; i++) {
    const v = a[i]! + q * FOLD[i]! + c;
    c = round(v * RADIX_INV);
    out[i] = v - c * RADIX;
  }
  out[LIMBS - 1] = a[LIMBS - 1]! - q * 65536 + c;
}

/**
 * Whether a ≡ 0 (mod P), exactly and without a branch on the value: q = the nearest multiple of P
 * by a double estimate (exact whenever a is a multiple: the estimate is off by far less than P/2
 * for |a| < 2²⁶⁰), then a − q·P is carried limb by limb and is zero only if every limb is.
 */
export function feIsZero(a: Fe): boolean {
  let estimate = 0;
  for (let i = LIMBS - 1; i >= 0; i--) estimate = estimate * RADIX + a[i]!;
  const q = round(estimate / P_APPROX);
  let c = 0;
  let bits = 0;
  for (let i = 0; i < LIMBS; i++) {
    const v = a[i]! - q * P_LIMBS[i]! + c;
    c = round(v * RADIX_INV);
    bits |= v - c * RADIX;
  }
  return (bits | c) === 0;
}

export function feCopy(out: Fe, a: Fe): void {
  out.set(a);
}

const wide_scratch = new BigUint64Array(4);
const word_scratch = new Int32Array(wide_scratch.buffer);
const limb_scratch = feNew();

/** x (any integer) into Montgomery form: its words, as limbs, times R² (carried: L = 1, ‖out‖ < 1.01). */
export function feFromBigInt(out: Fe, x: bigint): void {
  let reduced = x % P;
  if (reduced < 0n) reduced += P;
  for (let i = 0; i < 4; i++) wide_scratch[i] = reduced >> BigInt(64 * i);
  const w = word_scratch;
  feFromWords(limb_scratch, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!);
  feMul(out, limb_scratch, R2);
}

const from_scratch = feNew();

/** The value of a in [0, P), out of Montgomery form. */
export function feToBigInt(a: Fe): bigint {
  feMul(from_scratch, a, ONE_PLAIN);
  let x = 0n;
  for (let i = LIMBS - 1; i >= 1; i -= 2) x = (x << 48n) + BigInt(from_scratch[i]! * RADIX + from_scratch[i - 1]!);
  x = (x << 24n) + BigInt(from_scratch[0]!);
  x %= P;
  return x < 0n ? x + P : x;
}

/**
 * 11 limbs in [0, 2²⁴) of a 256-bit value given as 8 little-endian 32-bit words (as Int32: the
 * bits are what count). No branch or index depends on the words.
 */
export function feFromWords(out: Fe, w0: number, w1: number, w2: number, w3: number, w4: number, w5: number, w6: number, w7: number): void {
  out[0] = w0 & 0xffffff;
  out[1] = (w0 >>> 24) | ((w1 & 0xffff) << 8);
  out[2] = (w1 >>> 16) | ((w2 & 0xff) << 16);
  out[3] = w2 >>> 8;
  out[4] = w3 & 0xffffff;
  out[5] = (w3 >>> 24) | ((w4 & 0xffff) << 8);
  out[6] = (w4 >>> 16) | ((w5 & 0xff) << 16);
  out[7] = w5 >>> 8;
  out[8] = w6 & 0xffffff;
  out[9] = (w6 >>> 24) | ((w7 & 0xffff) << 8);
  out[10] = w7 >>> 16;
}

assert(feToBigInt(FE_ONE) === 1n, "SM2 field: Montgomery constants inconsistent");
