import { describe, expect, it } from "vitest";
import { buildDocument, parseDocument, type XmlTree, type XmlValue } from "./xml.ts";

/**
 * The reader before it was rewritten as a one-pass lexer (regular-expression tokens first, then the
 * tree): the reference the new one must agree with on every input, accepted or refused.
 */
function referenceParse(text: string): XmlTree {
  const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  const decode = (t: string) =>
    t.replace(/&([a-z]*);?/g, (whole, name: string) => {
      const value = ENTITIES[name];
      if (value === undefined || !whole.endsWith(";")) throw new Error("unsupported entity");
      return value;
    });
  type Token = { type: "open"; name: string; attributes: string } | { type: "close"; name: string } | { type: "text"; value: string };
  const xml = text.replace(/^\uFEFF?\s*<\?xml version="1\.0" encoding="UTF-8"\?>/, "").trim();
  const tokens: Token[] = [];
  const pattern = /<(\/?)([A-Za-z][A-Za-z0-9_]*)([^<>]*)>|([^<]+)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = pattern.exec(xml)) !== null) {
    consumed = pattern.lastIndex;
    if (match[4] !== undefined) tokens.push({ type: "text", value: decode(match[4]) });
    else if (match[1] === "/") tokens.push({ type: "close", name: match[2]! });
    else tokens.push({ type: "open", name: match[2]!, attributes: match[3]!.trim() });
    if (tokens.length > 600) throw new Error("too many elements");
  }
  if (consumed !== xml.length) throw new Error("unexpected markup");
  let index = 0;
  const element = (depth: number): { name: string; value: XmlValue } => {
    const open = tokens[index++];
    if (open?.type !== "open" || depth > 8) throw new Error("expected an element");
    if (depth > 0 && open.attributes !== "") throw new Error("attributes are not accepted");
    if (open.attributes.endsWith("/")) return { name: open.name, value: "" };
    const children: XmlTree = {};
    let text = "";
    for (;;) {
      const next = tokens[index];
      if (!next) throw new Error("unclosed");
      if (next.type === "close") {
        index++;
        if (next.name !== open.name) throw new Error("mismatched");
        const has_children = Object.keys(children).length > 0;
        if (has_children && text.trim() !== "") throw new Error("mixed content");
        return { name: open.name, value: has_children ? children : text };
      }
      if (next.type === "text") {
        text += next.value;
        index++;
        continue;
      }
      const child = element(depth + 1);
      if (Object.hasOwn(children, child.name)) throw new Error("repeated");
      children[child.name] = child.value;
    }
  };
  const root = element(0);
  if (index !== tokens.length || root.name !== "root" || typeof root.value === "string") throw new Error("not a single <root> document");
  return root.value;
}

function outcome(parse: (text: string) => XmlTree, text: string): { ok: true; tree: XmlTree } | { ok: false } {
  try {
    return { ok: true, tree: parse(text) };
  } catch {
    return { ok: false };
  }
}

/** A small deterministic PRNG (xorshift32): the same cases on every run. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const ANSWER = buildDocument("namespace_string", {
  MsgHeader: { SndDt: "2026-12-02T18:00:00", MsgTp: "epcc.201.001.01", IssrId: "Z2000", Drctn: "21", SignSN: "12345", MsgId: "abcdef0123456789", RltdMsgId: "0123456789abcdef" },
  MsgBody: { SysRtnInf: { SysRtnCd: "00000000", SysRtnDesc: "成功 & <ok>" }, BizInf: { BizStsCd: "00", TrxId: "T01", NetTrxId: "N01", TrxAmt: "CNY12.34", SttlmDt: "2026-12-02" } },
});

describe("NetsUnion XML reader", () => {
  it("reads a document the writer wrote, entities included", () => {
    const tree = parseDocument(ANSWER);
    expect(tree).toEqual({
      MsgHeader: { SndDt: "2026-12-02T18:00:00", MsgTp: "epcc.201.001.01", IssrId: "Z2000", Drctn: "21", SignSN: "12345", MsgId: "abcdef0123456789", RltdMsgId: "0123456789abcdef" },
      MsgBody: { SysRtnInf: { SysRtnCd: "00000000", SysRtnDesc: "成功 & <ok>" }, BizInf: { BizStsCd: "00", TrxId: "T01", NetTrxId: "N01", TrxAmt: "CNY12.34", SttlmDt: "2026-12-02" } },
    });
  });

  it("refuses what is outside its subset", () => {
    const refused = [
      "<root><A>1</A><A>2</A></root>", // repeated
      '<root><A x="1">1</A></root>', // attributes below the root
      "<root><A/></root>", // self-closing below the root
      "<root><A>&nbsp;</A></root>", // entity
      "<root><A>&amp</A></root>", // entity without ;
      "<root><A>1</A>text<B>2</B></root>", // mixed content
      "<root><A>1</B></root>", // mismatched
      "<root><A>1</A>", // unclosed
      "<root><!-- c --><A>1</A></root>", // comment
      "<root><![CDATA[x]]></root>", // CDATA
      "<root><A>1<</A></root>", // stray <
      "<root><1>x</1></root>", // name
      "<root><A>1</A></root><root><B>2</B></root>", // two roots
      "text<root><A>1</A></root>", // text before the root
      "<other><A>1</A></other>", // not root
      "<root>just text</root>", // no element
      `<root>${"<A>".repeat(9)}x${"</A>".repeat(9)}</root>`, // too deep
      `<root>${Array.from({ length: 201 }, (_, i) => `<E${i}>x</E${i}>`).join("")}</root>`, // too many
    ];
    for (const text of refused) expect(() => parseDocument(text), text).toThrow();
  });

  it("agrees with the previous reader on 20,000 mutated documents, accepted or refused", () => {
    const random = prng(0x5eed1234);
    const alphabet = ["<", ">", "/", "&", ";", "amp", "lt", "a", "A", "_", "1", " ", "\n", '"', "=", "<A>", "</A>", "<root>", "</root>", "&amp;", "&#1;", "<?", "!", "\uFEFF", "x y"];
    const seeds = [
      ANSWER,
      '<root xmlns="n"><A>1</A><B><C>2</C><D></D></B></root>',
      '<?xml version="1.0" encoding="UTF-8"?>\n <root xmlns="n"/>',
      "<root><A>a &lt; b</A>\n  <B>  </B></root>",
    ];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = seeds[Math.floor(random() * seeds.length)]!;
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * (text.length + 1));
        const kind = random();
        const piece = alphabet[Math.floor(random() * alphabet.length)]!;
        if (kind < 0.4) text = text.slice(0, at) + piece + text.slice(at);
        else if (kind < 0.7) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 4));
        else text = text.slice(0, at) + piece + text.slice(at + piece.length);
      }
      const expected = outcome(referenceParse, text);
      expect(outcome(parseDocument, text), text).toEqual(expected);
      if (expected.ok) accepted++;
    }
    // Both outcomes are exercised (a mutation often leaves the document well formed).
    expect(accepted).toBeGreaterThan(1_000);
    expect(accepted).toBeLessThan(19_000);
  });
});
