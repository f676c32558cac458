/**
 * paycore's reader and writer for NetsUnion-style XML: elements holding text or child elements,
 * nothing else (no DTD, comments, CDATA, attributes beyond the root namespace, or entities
 * beyond the five predefined ones). Written independently of the sandbox's.
 */
export type XmlValue = string | XmlTree;
export interface XmlTree {
  [name: string]: XmlValue;
}

const DEPTH_MAX = 8;
const ELEMENTS_MAX = 200;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`);
}

function serialize(name: string, value: XmlValue): string {
  const inner = typeof value === "string" ? escapeText(value) : Object.entries(value).map(([k, v]) => serialize(k, v)).join("");
  return `<${name}>${inner}</${name}>`;
}

export function buildDocument(namespace: string, tree: XmlTree): string {
  return `<?xml version="1.0" encoding="UTF-8"?><root xmlns="${escapeText(namespace)}">${Object.entries(tree).map(([k, v]) => serialize(k, v)).join("")}</root>`;
}

/**
 * The tokens, read one at a time (no token objects, no regular expression match arrays: parsing
 * the network's answer and its notification was about 17 KB of garbage per payment):
 * - a tag: `<`, an optional `/`, a name `[A-Za-z][A-Za-z0-9_]*`, then anything but `<` up to `>`
 *   (an open tag's attributes, trimmed; ignored on a close tag);
 * - a text: a run of anything but `<`, with its entities decoded.
 * Anything else at a `<` is unexpected markup. At most ELEMENTS_MAX · 3 tokens.
 */
type TokenType = "open" | "close" | "text" | "end";

class Lexer {
  pos = 0;
  count = 0;
  type: TokenType = "end";
  name = "";
  /** An open tag's attributes, trimmed; a text's decoded value. */
  value = "";

  constructor(private readonly xml: string) {}

  /** The current token's type (a call, so that the compiler does not keep it narrowed across next()). */
  current(): TokenType {
    return this.type;
  }

  next(): void {
    const xml = this.xml;
    const start = this.pos;
    if (start >= xml.length) {
      this.type = "end";
      return;
    }
    if (++this.count > ELEMENTS_MAX * 3) throw new Error("too many elements");
    if (xml.charCodeAt(start) !== 0x3c /* < */) {
      let end = xml.indexOf("<", start);
      if (end === -1) end = xml.length;
      const raw = xml.slice(start, end);
      this.type = "text";
      // Most texts hold no entity: no replace pass (and no new string) for them.
      this.value = raw.includes("&") ? decodeEntities(raw) : raw;
      this.pos = end;
      return;
    }
    let i = start + 1;
    const close = xml.charCodeAt(i) === 0x2f; /* / */
    if (close) i++;
    const name_start = i;
    if (!isLetter(xml.charCodeAt(i))) throw new Error(`unexpected markup at offset ${start}`);
    i++;
    while (i < xml.length && isNameChar(xml.charCodeAt(i))) i++;
    const name_end = i;
    while (i < xml.length) {
      const c = xml.charCodeAt(i);
      if (c === 0x3c /* < */ || c === 0x3e /* > */) break;
      i++;
    }
    if (i >= xml.length || xml.charCodeAt(i) !== 0x3e) throw new Error(`unexpected markup at offset ${start}`);
    this.type = close ? "close" : "open";
    this.name = xml.slice(name_start, name_end);
    this.value = close || i === name_end ? "" : xml.slice(name_end, i).trim();
    this.pos = i + 1;
  }
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isNameChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

function decodeEntities(text: string): string {
  return text.replace(/&([a-z]*);?/g, (whole, name: string) => {
    const value = ENTITIES[name];
    if (value === undefined || !whole.endsWith(";")) throw new Error("unsupported entity");
    return value;
  });
}

/** Parses `<root …>…</root>` into its children. Throws on anything outside the subset. */
export function parseDocument(text: string): XmlTree {
  const xml = text.replace(/^\uFEFF?\s*<\?xml version="1\.0" encoding="UTF-8"\?>/, "").trim();
  const lexer = new Lexer(xml);
  lexer.next();
  const element = (depth: number): { name: string; value: XmlValue } => {
    if (lexer.type !== "open" || depth > DEPTH_MAX) throw new Error("expected an element");
    const name = lexer.name;
    const attributes = lexer.value;
    if (depth > 0 && attributes !== "") throw new Error("attributes are not accepted");
    lexer.next();
    if (attributes.endsWith("/")) return { name, value: "" };
    const children: XmlTree = {};
    let has_children = false;
    let text = "";
    for (;;) {
      const type = lexer.current();
      if (type === "end") throw new Error(`unclosed ${name}`);
      if (type === "close") {
        if (lexer.name !== name) throw new Error(`mismatched </${lexer.name}>`);
        lexer.next();
        if (has_children && text.trim() !== "") throw new Error("mixed content");
        return { name, value: has_children ? children : text };
      }
      if (type === "text") {
        text += lexer.value;
        lexer.next();
        continue;
      }
      const child = element(depth + 1);
      if (Object.hasOwn(children, child.name)) throw new Error(`repeated ${child.name}`);
      children[child.name] = child.value;
      has_children = true;
    }
  };
  const root = element(0);
  if (lexer.current() !== "end" || root.name !== "root" || typeof root.value === "string") throw new Error("not a single <root> document");
  return root.value;
}

export function text(tree: XmlTree | undefined, name: string): string | undefined {
  const value = tree?.[name];
  return typeof value === "string" ? value : undefined;
}

export function group(tree: XmlTree | undefined, name: string): XmlTree | undefined {
  const value = tree?.[name];
  return value !== undefined && typeof value !== "string" ? value : undefined;
}
