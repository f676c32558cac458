import { createECDH } from "node:crypto";
import fc from "fast-check";
import smCrypto from "sm-crypto";
import { describe, expect, it } from "vitest";
import { PUBLIC_KEY_TABLES_MAX, GX, GY, N, P, baseMul, baseMulX, baseMulXBatch, baseMulXBatchVariableTime, invMod, mulAddPublic, toAffine } from "./sm2-curve.ts";
import { sm3 } from "./sm3.ts";
import { sm2PublicKeyFromPrivate, sm2Sign, sm2SignVariableTime, sm2Verify } from "./sm2.ts";

const { sm2 } = smCrypto;
const USER_ID = "1234567812345678";
const G = { x: GX, y: GY };
const G_HEX = `04${GX.toString(16).padStart(64, "0")}${GY.toString(16).padStart(64, "0")}`;
/** PAYCORE_SM2_SEED replays a property-test failure; the seed is in every failure message. */
const SEED = process.env.PAYCORE_SM2_SEED ?? "sm2-curve-1";
const PROPERTY_CASES = 24;

/** Deterministic 256-bit values from the seed (SM3 in counter mode). */
function seeded(label: string, i: number): bigint {
  return BigInt(`0x${sm3(`${SEED}:${label}:${i}`).toString("hex")}`);
}
function hex64(value: bigint): string {
  return value.toString(16).padStart(64, "0");
}
/** k·G by OpenSSL (an independent implementation), as 04|x|y. */
function opensslBaseMul(k: bigint): string {
  const ecdh = createECDH("SM2");
  ecdh.setPrivateKey(Buffer.from(hex64(k), "hex"));
  return ecdh.getPublicKey("hex");
}
function encode(point: { x: bigint; y: bigint } | null): string | null {
  return point ? `04${hex64(point.x)}${hex64(point.y)}` : null;
}

/** a⁻¹ mod m by Fermat (m prime): slow and independent of Lehmer's algorithm in invMod. */
function fermatInverse(a: bigint, m: bigint): bigint {
  let result = 1n;
  let base = a % m;
  for (let e = m - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
  }
  return result;
}

describe("SM2 modular inversion (Lehmer)", () => {
  it("inverts like Fermat's little theorem mod P and N, at the edges and for seeded values", () => {
    for (const m of [P, N]) {
      const edges = [1n, 2n, 3n, m - 1n, m - 2n, 1n << 128n, (1n << 255n) % m, m >> 1n, m + 5n];
      const values = [...edges, ...Array.from({ length: PROPERTY_CASES }, (_, i) => (seeded("inv", i) % (m - 1n)) + 1n)];
      for (const a of values) expect(invMod(a, m), `a=${a.toString(16)} seed=${SEED}`).toBe(fermatInverse(a, m));
    }
  });

  it("refuses a value with no inverse", () => {
    expect(() => invMod(0n, P)).toThrow(/no modular inverse/);
    expect(() => invMod(6n, 9n)).toThrow(/no modular inverse/);
  });
});

describe("SM2 fixed-base and per-key tables", () => {
  it("computes k·G like OpenSSL at the edges of the scalar range and for seeded scalars", () => {
    const edges = [1n, 2n, 3n, 255n, 256n, 257n, 1n << 248n, N - 3n, N - 2n, N - 1n];
    const seeded_scalars = Array.from({ length: PROPERTY_CASES }, (_, i) => (seeded("k", i) % (N - 1n)) + 1n);
    for (const k of [...edges, ...seeded_scalars]) {
      const expected = opensslBaseMul(k);
      expect(encode(baseMul(k)), `k=${k.toString(16)} seed=${SEED}`).toBe(expected);
      expect(hex64(baseMulX(k)), `k=${k.toString(16)} seed=${SEED}`).toBe(expected.slice(2, 66));
    }
  });

  it("computes a batch of x(k·G) with one shared inversion like OpenSSL, edges and seeded scalars mixed", () => {
    const edges = [1n, 2n, N - 1n, N - 2n, 1n << 248n];
    const batch = [...edges, ...Array.from({ length: 11 }, (_, i) => (seeded("batch", i) % (N - 1n)) + 1n)];
    const xs = baseMulXBatch(batch);
    expect(xs).toHaveLength(batch.length);
    batch.forEach((k, i) => expect(hex64(xs[i]!), `k=${k.toString(16)} seed=${SEED}`).toBe(opensslBaseMul(k).slice(2, 66)));
    expect(baseMulXBatch([N - 3n]).map(hex64)).toEqual([opensslBaseMul(N - 3n).slice(2, 66)]);
    expect(() => baseMulXBatch([5n, 0n])).toThrow();
  });

  it("rejects scalars outside [1, N-1] instead of computing with them", () => {
    expect(() => baseMulX(0n)).toThrow();
    expect(() => baseMulX(N)).toThrow();
    expect(() => mulAddPublic(0n, 1n, G_HEX, G)).toThrow();
  });

  it("adds u·G + v·Q correctly where the accumulator meets ±the added point (Q = G)", () => {
    const cases: [bigint, bigint][] = [
      [1n, 1n], // 2G: doubling inside the addition
      [1n, N - 1n], // infinity
      [N - 1n, N - 1n], // -2G
      [N - 1n, 2n], // G
      [2n, N - 2n], // infinity
      [5n, 7n],
      // v = 1 recodes with a first digit of −(2^w − 1): −255 with the 8-bit windows of a key's
      // table, so after u·G the first addition of Q's table adds −255·G: to −255·G (a doubling)
      // and to 255·G (infinity, then onwards). (−127 with the 7-bit windows before.)
      [N - 255n, 1n],
      [255n, 1n],
      [N - 127n, 1n],
      [127n, 1n],
    ];
    for (const [u, v] of cases) {
      const sum = (u + v) % N;
      const expected = sum === 0n ? null : opensslBaseMul(sum);
      expect(encode(toAffine(mulAddPublic(u, v, G_HEX, G))), `u=${u} v=${v}`).toBe(expected);
    }
  });

  it("keeps verifying correctly after its per-key table cache has evicted a key", () => {
    const keys = Array.from({ length: PUBLIC_KEY_TABLES_MAX + 2 }, (_, i) => {
      const private_key_hex = hex64((seeded("evict", i) % (N - 2n)) + 1n);
      return { private_key_hex, public_key_hex: sm2PublicKeyFromPrivate(private_key_hex) };
    });
    const signatures = keys.map((key, i) => sm2Sign(`m${i}`, key.private_key_hex));
    for (const round of [0, 1]) {
      keys.forEach((key, i) => {
        expect(sm2Verify(`m${i}`, signatures[i]!, key.public_key_hex), `round ${round} key ${i}`).toBe(true);
        const other = keys[(i + 1) % keys.length]!;
        expect(sm2Verify(`m${i}`, signatures[i]!, other.public_key_hex), `round ${round} key ${i}`).toBe(false);
      });
    }
  });
});

describe("SM2 interop with sm-crypto (seeded property test, both directions)", () => {
  const private_keys = [1n, 2n, N - 2n, ...Array.from({ length: PROPERTY_CASES }, (_, i) => (seeded("d", i) % (N - 2n)) + 1n)];

  it("derives the same public key as sm-crypto, including d = 1 and d = N - 2", () => {
    for (const d of private_keys) {
      expect(sm2PublicKeyFromPrivate(hex64(d)), `d=${d.toString(16)} seed=${SEED}`).toBe(sm2.getPublicKeyFromPrivateKey(hex64(d)));
    }
  });

  it("sm-crypto verifies what paycore signs, and paycore verifies what sm-crypto signs", () => {
    private_keys.forEach((d, i) => {
      const private_key_hex = hex64(d);
      const public_key_hex = sm2PublicKeyFromPrivate(private_key_hex);
      const message = `<Msg><Amt>${seeded("amount", i) % 1_000_000n}</Amt><Note>支付 ${i}</Note></Msg>`;
      const context = `d=${d.toString(16)} seed=${SEED}`;
      const ours = sm2Sign(message, private_key_hex).toString("hex");
      const options = { der: true, hash: true, userId: USER_ID, publicKey: public_key_hex };
      expect(sm2.doVerifySignature(message, ours, public_key_hex, options), context).toBe(true);
      expect(sm2.doVerifySignature(`${message} `, ours, public_key_hex, options), context).toBe(false);
      const theirs = Buffer.from(sm2.doSignature(message, private_key_hex, options), "hex");
      expect(sm2Verify(message, theirs, public_key_hex), context).toBe(true);
      expect(sm2Verify(`${message} `, theirs, public_key_hex), context).toBe(false);
      expect(sm2Verify(message, theirs, public_key_hex, { user_id: "ALICE123@YAHOO.COM" }), context).toBe(false);
    });
  });
});

describe("SM2 point arithmetic in limbs (fast-check, against OpenSSL and sm-crypto)", () => {
  const scalar = fc.oneof(fc.bigInt({ min: 1n, max: N - 1n }), fc.constantFrom(1n, 2n, N - 1n, N - 2n, (N - 1n) / 2n, (N + 1n) / 2n));

  it("k·G equals OpenSSL's for random k", () => {
    fc.assert(
      fc.property(scalar, (k) => {
        const expected = opensslBaseMul(k);
        expect(encode(baseMul(k))).toBe(expected);
        expect(hex64(baseMulX(k))).toBe(expected.slice(2, 66));
      }),
      { numRuns: 200 },
    );
  });

  it("x(k·G) of the variable-time batch (the sandbox's signatures) equals OpenSSL's, even and odd k", () => {
    const edges = [1n, 2n, 3n, 255n, 256n, 257n, 511n, 512n, 1n << 248n, N - 3n, N - 2n, N - 1n, (N - 1n) / 2n, (N + 1n) / 2n];
    expect(baseMulXBatchVariableTime(edges).map(hex64)).toEqual(edges.map((k) => opensslBaseMul(k).slice(2, 66)));
    fc.assert(
      fc.property(fc.array(scalar, { minLength: 1, maxLength: 9 }), (ks) => {
        expect(baseMulXBatchVariableTime(ks).map(hex64)).toEqual(ks.map((k) => opensslBaseMul(k).slice(2, 66)));
      }),
      { numRuns: 40 },
    );
  });

  it("u·G + v·Q equals OpenSSL's (u + v·d)·G, including sums that meet ±the added point", () => {
    const d = (seeded("fc-q", 0) % (N - 2n)) + 1n;
    const q_hex = opensslBaseMul(d);
    const q = { x: BigInt(`0x${q_hex.slice(2, 66)}`), y: BigInt(`0x${q_hex.slice(66)}`) };
    fc.assert(
      fc.property(scalar, scalar, (u, v) => {
        const sum = (u + v * d) % N;
        expect(encode(toAffine(mulAddPublic(u, v, q_hex, q)))).toBe(sum === 0n ? null : opensslBaseMul(sum));
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(scalar, scalar, (u, v) => {
        const sum = (u + v) % N;
        expect(encode(toAffine(mulAddPublic(u, v, G_HEX, G)))).toBe(sum === 0n ? null : opensslBaseMul(sum));
      }),
      { numRuns: 100, examples: [[N - 255n, 1n], [255n, 1n], [N - 127n, 1n], [127n, 1n], [1n, N - 1n], [(N - 1n) / 2n, (N - 1n) / 2n]] },
    );
  });

  it("signs what sm-crypto verifies and verifies what sm-crypto signs, for random keys and messages", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: N - 2n }), fc.string({ maxLength: 300 }), (d, message) => {
        const private_key_hex = hex64(d);
        const public_key_hex = sm2PublicKeyFromPrivate(private_key_hex);
        const options = { der: true, hash: true, userId: USER_ID, publicKey: public_key_hex };
        const ours = sm2Sign(message, private_key_hex).toString("hex");
        expect(sm2.doVerifySignature(message, ours, public_key_hex, options)).toBe(true);
        const variable_time = sm2SignVariableTime(message, private_key_hex);
        expect(sm2.doVerifySignature(message, variable_time.toString("hex"), public_key_hex, options)).toBe(true);
        expect(sm2Verify(message, variable_time, public_key_hex)).toBe(true);
        expect(sm2.doVerifySignature(`${message}.`, variable_time.toString("hex"), public_key_hex, options)).toBe(false);
        const theirs = Buffer.from(sm2.doSignature(message, private_key_hex, options), "hex");
        expect(sm2Verify(message, theirs, public_key_hex)).toBe(true);
        expect(sm2Verify(`${message}.`, theirs, public_key_hex)).toBe(false);
      }),
      { numRuns: 25 },
    );
  });
});
