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

/** Tokens: open tag, close tag, or text. */
type Token = { type: "open"; name: string; attributes: string } | { type: "close"; name: string } | { type: "text"; value: string };

function tokenize(xml: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /<(\/?)([A-Za-z][A-Za-z0-9_]*)([^<>]*)>|([^<]+)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = pattern.exec(xml)) !== null) {
    consumed = pattern.lastIndex;
    // Most texts hold no entity: no replace pass (and no new string) for them.
    if (match[4] !== undefined) tokens.push({ type: "text", value: match[4].includes("&") ? decodeEntities(match[4]) : match[4] });
    else if (match[1] === "/") tokens.push({ type: "close", name: match[2]! });
    else tokens.push({ type: "open", name: match[2]!, attributes: match[3]!.trim() });
    if (tokens.length > ELEMENTS_MAX * 3) throw new Error("too many elements");
  }
  if (consumed !== xml.length) throw new Error(`unexpected markup at offset ${consumed}`);
  return tokens;
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
  const tokens = tokenize(xml);
  let index = 0;
  const element = (depth: number): { name: string; value: XmlValue } => {
    const open = tokens[index++];
    if (open?.type !== "open" || depth > DEPTH_MAX) throw new Error("expected an element");
    if (depth > 0 && open.attributes !== "") throw new Error("attributes are not accepted");
    if (open.attributes.endsWith("/")) return { name: open.name, value: "" };
    const children: XmlTree = {};
    let has_children = false;
    let text = "";
    for (;;) {
      const next = tokens[index];
      if (!next) throw new Error(`unclosed ${open.name}`);
      if (next.type === "close") {
        index++;
        if (next.name !== open.name) throw new Error(`mismatched </${next.name}>`);
        if (has_children && text.trim() !== "") throw new Error("mixed content");
        return { name: open.name, value: has_children ? children : text };
      }
      if (next.type === "text") {
        text += next.value;
        index++;
        continue;
      }
      const child = element(depth + 1);
      if (Object.hasOwn(children, child.name)) throw new Error(`repeated ${child.name}`);
      children[child.name] = child.value;
      has_children = true;
    }
  };
  const root = element(0);
  if (index !== tokens.length || root.name !== "root" || typeof root.value === "string") throw new Error("not a single <root> document");
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
