import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encode } from "../../src/sandbox/persistence.ts";
import { readXml, writeXml, type XmlElement } from "../../src/sandbox/wire/xml.ts";

/**
 * The sandbox's hand-written encoders against the forms they replaced: the journal's encoder
 * against JSON.stringify with its replacer, the XML writer against its reader.
 * PAYCORE_SANDBOX_SEED replays a property failure (fast-check prints the seed).
 */
const SEED = Number(process.env.PAYCORE_SANDBOX_SEED ?? 20_261_202);
const RUNS = 500;

/** The journal's encoding before it was written by hand. */
function replacerEncode(value: unknown): string | undefined {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.toISOString() };
    if (typeof v === "bigint") return { $bigint: v.toString() };
    return v;
  });
}

const leaf = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.bigInt(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: true }),
);
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small" }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("node"), { maxLength: 5 }),
  object: fc.dictionary(fc.string({ unit: "binary" }), tie("node"), { maxKeys: 6 }),
})).node;

describe("the journal's encoder", () => {
  it("writes what JSON.stringify with the bigint/Date replacer writes", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(encode({ t: "table", k: "key", v })).toBe(replacerEncode({ t: "table", k: "key", v }));
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("hands objects it does not know (a Map, a class instance, toJSON) to the replacer form", () => {
    class Point {
      constructor(readonly x: bigint) {}
    }
    const odd = { map: new Map([[1, 2]]), point: new Point(3n), custom: { toJSON: () => "custom" }, bare: Object.assign(Object.create(null) as object, { z: 1n }) };
    expect(encode(odd)).toBe(replacerEncode(odd));
    expect(encode([undefined, () => 1, Symbol("s"), NaN, -0, Infinity])).toBe(replacerEncode([undefined, () => 1, Symbol("s"), NaN, -0, Infinity]));
  });
});

const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/);
const text = fc.string({ unit: "grapheme", maxLength: 40 });
const element: fc.Arbitrary<XmlElement> = fc.letrec((tie) => ({
  element: fc.dictionary(name, fc.oneof({ depthSize: "small" }, text, tie("element")), { minKeys: 1, maxKeys: 6 }),
})).element as fc.Arbitrary<XmlElement>;

describe("the NetsUnion XML", () => {
  it("reads back what it writes: nested elements, escaped and non-ASCII text", () => {
    fc.assert(
      fc.property(element, (content) => {
        expect(readXml(writeXml("root", "namespace_string", content))).toEqual({ root: "root", content });
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("reads whitespace between elements and refuses what it does not accept", () => {
    const doc = '<?xml version="1.0" encoding="UTF-8"?>\n<root xmlns="n">\n  <A>1 &amp; 2</A>\n  <B>\n    <C>&lt;x&gt;</C>\n  </B>\n  <D/>\n</root>\n';
    expect(readXml(doc)).toEqual({ root: "root", content: { A: "1 & 2", B: { C: "<x>" }, D: "" } });
    expect(() => readXml("<root><A>1</A><A>2</A></root>")).toThrow(/repeated element A/);
    expect(() => readXml('<root><A x="1">1</A></root>')).toThrow(/attributes are not accepted/);
    expect(() => readXml("<root><A>&nbsp;</A></root>")).toThrow(/unsupported entity/);
    expect(() => readXml("<root><A>1</A>text<B>2</B></root>")).toThrow(/expected an element at offset/);
    expect(() => readXml("<root><A>1</A></root>tail")).toThrow(/content after the root element/);
    expect(() => readXml("<root><!-- c --><A>1</A></root>")).toThrow(/DTDs, comments/);
  });
});
