import { SANDBOX_LIMITS } from "../limits.ts";

/**
 * The small XML the NetsUnion-style messages need: elements with text or child elements, no
 * attributes beyond the root's namespace, no DTDs, comments, CDATA or entities other than the five
 * predefined ones. Anything else is refused rather than guessed at.
 */
export interface XmlElement {
  [name: string]: string | XmlElement;
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const OPEN_TAG = /<([A-Za-z][A-Za-z0-9_]*)((?:\s+[A-Za-z:]+="[^"<]*")*)\s*(\/?)>/y;
const SPACE = /\s*/y;

const NEEDS_ESCAPE = /[&<>"']/;
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

export function escapeXml(text: string): string {
  // Most texts (ids, codes, amounts) have nothing to escape: one test instead of five passes.
  return NEEDS_ESCAPE.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : text;
}

function unescapeXml(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(amp|lt|gt|quot|apos);|&/g, (match, name: string | undefined) => {
    switch (name) {
      case "amp": return "&";
      case "lt": return "<";
      case "gt": return ">";
      case "quot": return '"';
      case "apos": return "'";
      default: throw new Error(`unsupported entity near ${match}`);
    }
  });
}

function writeChildren(content: XmlElement): string {
  let out = "";
  for (const name in content) {
    const value = content[name]!;
    out += typeof value === "string" ? `<${name}>${escapeXml(value)}</${name}>` : `<${name}>${writeChildren(value)}</${name}>`;
  }
  return out;
}

export function writeXml(root: string, namespace: string, content: XmlElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?><${root} xmlns="${escapeXml(namespace)}">${writeChildren(content)}</${root}>`;
}

interface Cursor {
  text: string;
  at: number;
  elements: number;
}

/** Parses a document into `{ root, content }`; throws with a reason on anything unexpected. */
export function readXml(text: string): { root: string; content: XmlElement } {
  if (text.length > SANDBOX_LIMITS.message_bytes_max) throw new Error("document too large");
  const body = text.replace(/^\uFEFF?\s*<\?xml[^?]*\?>\s*/, "");
  if (body.includes("<!") || body.includes("<?")) throw new Error("DTDs, comments, CDATA and processing instructions are not accepted");
  const cursor: Cursor = { text: body, at: 0, elements: 0 };
  const { name, value } = readElement(cursor, 0);
  if (cursor.text.slice(cursor.at).trim() !== "") throw new Error("content after the root element");
  if (typeof value === "string") throw new Error("root element has no children");
  return { root: name, content: value };
}

function readElement(cursor: Cursor, depth: number): { name: string; value: string | XmlElement } {
  if (depth > SANDBOX_LIMITS.xml_depth_max) throw new Error("document nested too deep");
  if (++cursor.elements > SANDBOX_LIMITS.xml_elements_max) throw new Error("too many elements");
  skipSpace(cursor);
  // Sticky: matched at the cursor in place, without copying the rest of the document per element.
  OPEN_TAG.lastIndex = cursor.at;
  const open = OPEN_TAG.exec(cursor.text);
  if (!open) throw new Error(`expected an element at offset ${cursor.at}`);
  const name = open[1]!;
  if (depth > 0 && open[2]) throw new Error(`attributes are not accepted on ${name}`);
  cursor.at += open[0].length;
  if (open[3] === "/") return { name, value: "" };
  const close = `</${name}>`;
  const next_tag = cursor.text.indexOf("<", cursor.at);
  if (next_tag < 0) throw new Error(`unclosed element ${name}`);
  if (cursor.text.startsWith(close, next_tag)) {
    const value = unescapeXml(cursor.text.slice(cursor.at, next_tag));
    cursor.at = next_tag + close.length;
    return { name, value };
  }
  if (cursor.text.slice(cursor.at, next_tag).trim() !== "") throw new Error(`mixed content in ${name}`);
  const children: XmlElement = {};
  for (;;) {
    skipSpace(cursor);
    if (cursor.text.startsWith(close, cursor.at)) {
      cursor.at += close.length;
      return { name, value: children };
    }
    const child = readElement(cursor, depth + 1);
    if (!NAME.test(child.name) || Object.hasOwn(children, child.name)) throw new Error(`repeated element ${child.name} in ${name}`);
    children[child.name] = child.value;
  }
}

function skipSpace(cursor: Cursor): void {
  SPACE.lastIndex = cursor.at;
  SPACE.test(cursor.text);
  cursor.at = SPACE.lastIndex;
}

/** A child element's text; undefined when absent or not text. */
export function textOf(element: XmlElement | undefined, name: string): string | undefined {
  const value = element?.[name];
  return typeof value === "string" ? value : undefined;
}

export function groupOf(element: XmlElement | undefined, name: string): XmlElement | undefined {
  const value = element?.[name];
  return typeof value === "object" ? value : undefined;
}
