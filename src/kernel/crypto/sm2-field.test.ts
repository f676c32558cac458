import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Fe } from "./sm2-field.ts";
import { LIMBS, feCarry, feFromBigInt, feFromWords, feIsZero, feMul, feNew, feSqr, feToBigInt, toMontgomery } from "./sm2-field.ts";

/**
 * The limb field of sm2-field.ts against plain BigInt arithmetic mod P. Elements are built both
 * canonically (feFromBigInt) and as raw limbs anywhere inside the bounds the module documents
 * (values ≥ P, negative limbs, the largest limbs a product may see), because the point formulas
 * feed sums, differences and unreduced table entries to the products.
 */
const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const R = 1n << 264n;
const HALF_RADIX = 1 << 23;
const RUNS = 2000;

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}
function invMod(a: bigint): bigint {
  let result = 1n;
  let base = mod(a);
  for (let e = P - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % P;
    base = (base * base) % P;
  }
  return result;
}
const R_INV = invMod(R);

/** The integer the limbs spell, Σ aᵢ·2^(24i), exactly (no Montgomery conversion). */
function raw(a: Fe): bigint {
  let x = 0n;
  for (let i = LIMBS - 1; i >= 0; i--) x = (x << 24n) + BigInt(a[i]!);
  return x;
}
function fromLimbs(limbs: number[]): Fe {
  return Float64Array.from(limbs);
}
/** Limbs of x in [0, 2²⁶⁴), each in [0, 2²⁴): the form of a table entry. */
function unsignedLimbs(x: bigint): Fe {
  return fromLimbs(Array.from({ length: LIMBS }, (_, i) => Number((x >> BigInt(24 * i)) & 0xffffffn)));
}
function fe(x: bigint): Fe {
  const out = feNew();
  feFromBigInt(out, x);
  return out;
}
/** Largest |limb| of limbs 0–9 over 2²³, and |value| over 2²⁵⁶ (L and ‖·‖ of sm2-field.ts). */
function limbBound(a: Fe): number {
  let max = 0;
  for (let i = 0; i < LIMBS - 1; i++) max = Math.max(max, Math.abs(a[i]!));
  return max / HALF_RADIX;
}
function norm(a: Fe): number {
  return Math.abs(Number(raw(a))) / 2 ** 256;
}

const EDGES = [0n, 1n, 2n, 3n, P - 1n, P - 2n, P, P + 1n, (1n << 256n) - 1n, 1n << 255n, 1n << 224n, 1n << 96n, 1n << 64n, R - 1n];
const anyValue = fc.oneof(fc.constantFrom(...EDGES), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.bigInt({ min: P - 1000n, max: (1n << 256n) - 1n }));
/** Raw limbs: limbs 0–9 within ±scale·2²³, limb 10 within ±top (any value, not necessarily below P). */
function rawLimbs(scale: number, top: number): fc.Arbitrary<Fe> {
  const low = Math.floor(scale * HALF_RADIX);
  const extreme = fc.constantFrom(low, -low, 0);
  const limb = fc.oneof(fc.integer({ min: -low, max: low }), extreme);
  const top_limb = fc.oneof(fc.integer({ min: -top, max: top }), fc.constantFrom(top, -top, 0));
  return fc.tuple(fc.array(limb, { minLength: LIMBS - 1, maxLength: LIMBS - 1 }), top_limb).map(([l, t]) => fromLimbs([...l, t]));
}
const carried = fc.oneof(anyValue.map(fe), rawLimbs(1, 1 << 16));
const tableEntry = anyValue.map(unsignedLimbs); // limbs in [0, 2²⁴), values up to 2²⁵⁶ − 1 (≥ P too)

function expectCarriedProduct(out: Fe, a: Fe, b: Fe): void {
  expect(mod(raw(out))).toBe(mod(raw(a) * raw(b) * R_INV));
  expect(limbBound(out)).toBeLessThanOrEqual(1);
  if (norm(a) * norm(b) <= 128) expect(norm(out)).toBeLessThan(1.01);
}

describe("SM2 limb field (sm2-field.ts) against BigInt mod P", () => {
  it("round-trips integers through Montgomery form, including values ≥ P and negative ones", () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, fc.bigInt({ min: -(1n << 300n), max: 1n << 300n })), (x) => {
        expect(feToBigInt(fe(x))).toBe(mod(x));
      }),
      { numRuns: RUNS },
    );
  });

  it("multiplies like BigInt: canonical, unreduced and table-form inputs", () => {
    const inputs = fc.oneof(carried, tableEntry);
    fc.assert(
      fc.property(inputs, inputs, (a, b) => {
        const out = feNew();
        feMul(out, a, b);
        expectCarriedProduct(out, a, b);
        feMul(a, a, b); // out may alias an input
        expect(Array.from(a)).toEqual(Array.from(out));
      }),
      { numRuns: RUNS },
    );
  });

  it("squares like BigInt", () => {
    fc.assert(
      fc.property(fc.oneof(carried, tableEntry, rawLimbs(3, 1 << 18)), (a) => {
        const out = feNew();
        feSqr(out, a);
        expectCarriedProduct(out, a, a);
      }),
      { numRuns: RUNS },
    );
  });

  it("stays exact at the documented limit L(a)·L(b) = 11, every limb at its extreme", () => {
    const shapes: [number, number][] = [
      [1, 11],
      [2, 5.5],
      [3.3, 3.3],
    ];
    for (const [la, lb] of shapes) {
      fc.assert(
        fc.property(rawLimbs(la, Math.floor(la * HALF_RADIX)), rawLimbs(lb, Math.floor(lb * HALF_RADIX)), (a, b) => {
          const out = feNew();
          feMul(out, a, b);
          expect(mod(raw(out))).toBe(mod(raw(a) * raw(b) * R_INV));
        }),
        { numRuns: RUNS / 4 },
      );
      const all = (l: number, sign: number) => fromLimbs(Array.from({ length: LIMBS }, () => sign * Math.floor(l * HALF_RADIX)));
      for (const [sa, sb] of [[1, 1], [1, -1], [-1, -1]] as const) {
        const out = feNew();
        feMul(out, all(la, sa), all(lb, sb));
        expect(mod(raw(out))).toBe(mod(raw(all(la, sa)) * raw(all(lb, sb)) * R_INV));
      }
      const a = all(Math.sqrt(la * lb), 1);
      const out = feNew();
      feSqr(out, a);
      expect(mod(raw(out))).toBe(mod(raw(a) * raw(a) * R_INV));
    }
  });

  it("carries to limbs within ±2²³ and a value below 0.51·2²⁵⁶, keeping it mod P", () => {
    fc.assert(
      fc.property(fc.oneof(carried, tableEntry, rawLimbs(16, 1 << 22), rawLimbs(16, 1 << 22)), (a) => {
        const out = feNew();
        feCarry(out, a);
        expect(mod(raw(out))).toBe(mod(raw(a)));
        expect(limbBound(out)).toBeLessThanOrEqual(1);
        expect(norm(out)).toBeLessThan(0.51);
      }),
      { numRuns: RUNS },
    );
  });

  it("tests for zero mod P exactly: 0, ±P, ±2P in many limb forms, and their neighbours", () => {
    /** Moves 2²⁴·t from limb i + 1 into limb i: another representation of the same value. */
    const reshaped = (x: bigint, moves: [number, number][]) => {
      const a = x >= 0n ? unsignedLimbs(x) : unsignedLimbs(-x).map((l) => -l);
      for (const [i, t] of moves) {
        a[i] = a[i]! + t * 2 ** 24;
        a[i + 1] = a[i + 1]! - t;
      }
      return a;
    };
    const move = fc.tuple(fc.integer({ min: 0, max: LIMBS - 2 }), fc.integer({ min: -2, max: 2 }));
    fc.assert(
      fc.property(fc.integer({ min: -2, max: 2 }), fc.constantFrom(0n, 1n, -1n, 2n, 1n << 200n), fc.array(move, { maxLength: 6 }), (k, delta, moves) => {
        const x = BigInt(k) * P + delta;
        expect(feIsZero(reshaped(x, moves))).toBe(mod(x) === 0n);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.oneof(carried, tableEntry), (a) => {
        expect(feIsZero(a)).toBe(mod(raw(a)) === 0n);
      }),
      { numRuns: RUNS },
    );
  });

  it("reads 8 little-endian 32-bit words (as Int32) into limbs of the same integer", () => {
    fc.assert(
      fc.property(
        anyValue.filter((x) => x < 1n << 256n),
        (x) => {
          const words = Array.from({ length: 8 }, (_, i) => Number(BigInt.asIntN(32, x >> BigInt(32 * i))));
          const out = feNew();
          feFromWords(out, words[0]!, words[1]!, words[2]!, words[3]!, words[4]!, words[5]!, words[6]!, words[7]!);
          expect(raw(out)).toBe(x);
          expect(Array.from(out).every((l) => l >= 0 && l < 2 ** 24)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("computes Montgomery forms for tables like feFromBigInt", () => {
    fc.assert(
      fc.property(anyValue, (x) => {
        expect(mod(raw(unsignedLimbs(toMontgomery(x))))).toBe(mod(raw(fe(x))));
        expect(toMontgomery(x)).toBe(mod(x * R));
      }),
      { numRuns: RUNS },
    );
  });
});
