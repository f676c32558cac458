import type { FastifyInstance, FastifyRequest } from "fastify";
import { PaycoreError } from "../kernel/errors.ts";

/**
 * Request input is checked here, in one place, before any route sees it (docs/security.md):
 * - JSON bodies are parsed strictly: a key repeated in the same object is refused (JSON.parse would
 *   keep the last one silently), and so is nesting deeper than {@link JSON_DEPTH_MAX} levels;
 * - the NUL character (U+0000) is refused in every string of the body (keys too), in query names
 *   and values and in path parameters: PostgreSQL cannot store it, and no field of the API needs it.
 * Each refusal is 400 `invalid_request` naming the field, on every merchant, admin and public route.
 */
export const JSON_DEPTH_MAX = 64;

const NUL = "\u0000";
const nulProblem = (field: string) => new PaycoreError("invalid_request", `${field}: must not contain the NUL character (\\u0000)`, field);

interface Frame {
  kind: "object" | "array";
  /** The enclosing container and this one's name in it; the path is built only for a refusal. */
  up: Frame | null;
  name: string;
  keys: Set<string> | null;
  key: string | null;
  expect_key: boolean;
  index: number;
}

const fieldName = (path: string[]) => (path.length ? path.join(".") : "body");

function pathOf(frame: Frame | null | undefined): string[] {
  const path: string[] = [];
  for (let f = frame; f && f.up; f = f.up) path.push(f.name);
  return path.reverse();
}

/** The name of the value that comes next in `frame` (a member's key or an element's index). */
function childName(frame: Frame): string {
  return frame.kind === "object" ? (frame.key ?? "") : String(frame.index);
}

function childPath(frame: Frame): string[] {
  return [...pathOf(frame), childName(frame)];
}

/**
 * Walks the JSON text once, lexically: throws on nesting past the limit at once (before parsing
 * builds anything), answers the first duplicate key or NUL found. Tolerant of invalid JSON (the
 * parse that follows refuses it). A string without a backslash is its own content (JSON.parse of
 * the token is needed only for escapes: `\u0000` is a NUL too); a raw control character in one
 * makes the whole text invalid JSON, refused before anything found here.
 */
function scan(text: string): PaycoreError | null {
  const stack: Frame[] = [];
  let first: PaycoreError | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      let escaped = false;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\") {
          escaped = true;
          j += 2;
        } else j += 1;
      }
      const start = i;
      i = j;
      if (first) continue;
      let value: string;
      if (!escaped) value = text.slice(start + 1, j);
      else {
        try {
          value = JSON.parse(text.slice(start, j + 1)) as string;
        } catch {
          continue;
        }
      }
      const top = stack.at(-1);
      if (top?.kind === "object" && top.expect_key) {
        if (top.keys!.has(value)) first = new PaycoreError("invalid_request", `${fieldName([...pathOf(top), value])}: duplicate key`, fieldName([...pathOf(top), value]));
        else if (value.includes(NUL)) first = nulProblem(fieldName([...pathOf(top), value]));
        top.keys!.add(value);
        top.key = value;
        top.expect_key = false;
      } else if (value.includes(NUL)) {
        first = nulProblem(fieldName(top ? childPath(top) : []));
      }
    } else if (c === "{" || c === "[") {
      if (stack.length >= JSON_DEPTH_MAX) throw new PaycoreError("invalid_request", `body: nested deeper than ${JSON_DEPTH_MAX} levels`, "body");
      const parent = stack.at(-1);
      const object = c === "{";
      stack.push({ kind: object ? "object" : "array", up: parent ?? null, name: parent ? childName(parent) : "", keys: object ? new Set() : null, key: null, expect_key: object, index: 0 });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === ",") {
      const top = stack.at(-1);
      if (top?.kind === "object") top.expect_key = true;
      else if (top) top.index += 1;
    }
  }
  return first;
}

/** A JSON body, strictly: depth first, then validity, then duplicate keys and NUL. */
export function parseStrictJson(text: string): unknown {
  const problem = scan(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PaycoreError("invalid_request", "body: not valid JSON", "body");
  }
  if (problem) throw problem;
  return value;
}

function checkStrings(root: string, value: unknown): void {
  if (value === null || typeof value !== "object") return;
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    const field = `${root}.${name}`;
    if (name.includes(NUL)) throw nulProblem(field);
    for (const item of Array.isArray(v) ? v : [v]) {
      if (typeof item === "string" && item.includes(NUL)) throw nulProblem(field);
    }
  }
}

/** Path parameters and query names and values: no NUL. */
export function checkUrlInput(request: Pick<FastifyRequest, "params" | "query">): void {
  checkStrings("path", request.params);
  checkStrings("query", request.query);
}

/** Installs the body parsers and the URL check on the app (src/api/server.ts). */
export function installRequestInput(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  // JSON bodies are kept as the exact bytes received: the request signature covers them.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body as string;
    request.raw_body = text;
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, parseStrictJson(text));
    } catch (err) {
      done(err as PaycoreError, undefined);
    }
  });
  // Other bodies (the networks' XML and form callbacks) stay text: a JSON route's schema refuses them.
  app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
    const text = body as string;
    request.raw_body = text;
    if (text.includes(NUL)) return done(nulProblem("body"), undefined);
    done(null, text.length === 0 ? undefined : text);
  });
  app.addHook("preValidation", async (request) => {
    checkUrlInput(request);
  });
}
