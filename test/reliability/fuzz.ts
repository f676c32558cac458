import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import fc from "fast-check";
import { sql } from "kysely";
import type { Credentials } from "../../src/client/index.ts";
import type { TestApp } from "../support/app.ts";

/**
 * An OpenAPI-driven fuzzer: reads /openapi.json and, for every operation, sends generated
 * requests — wrong types, missing and extra fields, huge and negative numbers, long strings,
 * control characters, NUL, invalid UTF-8, duplicate keys, wrong content types, deep nesting,
 * query parameters with arrays and garbage, path ids of every other prefix — correctly signed
 * for merchant routes and with an operator token for admin routes. Every answer must be 2xx or
 * 4xx with the error object, never 5xx, and a 4xx must change no business table.
 */

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema?: Schema;
}
interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}
export interface Operation {
  method: string;
  path: string;
  operation_id: string;
  auth: "merchant" | "admin" | "none";
  parameters: Parameter[];
  body: Schema | null;
}

export interface FuzzRequest {
  op: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
}

export interface FuzzFinding {
  request: FuzzRequest;
  status: number;
  text: string;
  why: string;
}

/** The operations of the document, with what the fuzzer needs of each. */
export function operations(doc: { paths: Record<string, Record<string, { operationId: string; security?: Record<string, unknown>[]; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const security = op.security?.[0] ?? {};
      const auth = "merchantSignature" in security ? "merchant" : "operatorToken" in security ? "admin" : "none";
      out.push({
        method: method.toUpperCase(),
        path,
        operation_id: op.operationId,
        auth,
        parameters: op.parameters ?? [],
        body: op.requestBody?.content["application/json"]?.schema ?? null,
      });
    }
  }
  return out.sort((a, b) => a.operation_id.localeCompare(b.operation_id));
}

// ---------------------------------------------------------------------------------------------
// Values

const ID_PREFIXES = ["mch", "ent", "key", "pay", "ref", "agr", "cag", "po", "pob", "cmp", "opr", "prp", "rule", "stl", "evt", "rec", "dep", "hold"];

const nastyString = fc.oneof(
  fc.constantFrom("", " ", "\u0000", "a\u0000b", "%00", "\u0007\u001b[31m", "\r\n", "\uFEFF", "\uD800", "\uDFFF", "😀", "𠜎".repeat(40), "../../etc/passwd", "' OR 1=1 --", "<script>", "${x}", "null", "NaN", "-0", "1e309"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 200, max: 70_000 }).map((n) => "x".repeat(n)),
);

const nastyNumber = fc.oneof(
  fc.constantFrom(0, -1, 1, 0.5, -0.5, 1e15, 1e16, 2 ** 53, -(2 ** 53), 1e308, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true }),
);

/** Any JSON value, nested a little. */
const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, nastyString, nastyNumber, fc.boolean(), fc.constant(null), fc.array(tie("value"), { maxLength: 4 }), fc.dictionary(nastyString, tie("value"), { maxKeys: 4 })),
})).value;

function types(schema: Schema): string[] {
  if (schema.anyOf || schema.oneOf) return [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].flatMap(types);
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/** A value meant to be valid for the schema, as far as a generator can tell without the rules. */
function plausible(schema: Schema, ids: string[], depth = 0): fc.Arbitrary<unknown> {
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  if (schema.allOf?.length) return plausible(schema.allOf[0]!, ids, depth);
  const alts = [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])];
  if (alts.length) return fc.oneof(...alts.map((s) => plausible(s, ids, depth)));
  const type = types(schema)[0];
  switch (type) {
    case "integer":
      return fc.integer({ min: Math.max(schema.minimum ?? -1000, -1e9), max: Math.min(schema.maximum ?? 100_000, 1e12) });
    case "number":
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1e6, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "array":
      return depth > 3 ? fc.constant([]) : fc.array(plausible(schema.items ?? {}, ids, depth + 1), { maxLength: 3 });
    case "object": {
      if (depth > 3) return fc.constant({});
      const props = Object.entries(schema.properties ?? {});
      if (!props.length) return fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 });
      const required = new Set(schema.required ?? []);
      return fc.record(
        Object.fromEntries(props.map(([k, s]) => [k, plausible(s, ids, depth + 1)])),
        { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) },
      );
    }
    case "string":
    default:
      if (schema.format === "date") return fc.constantFrom("2026-12-01", "2026-11-30", "2099-01-01", "2026-02-30");
      return fc.oneof(fc.constantFrom(...ids), fc.stringMatching(/^[a-z0-9_]{1,24}$/), fc.constantFrom("13800138000", "6222020200112233445", "102290000012", "100", "Test"));
  }
}

/** A body for the schema, most of the time broken in one or more ways. */
function body(schema: Schema | null, ids: string[]): fc.Arbitrary<unknown> {
  const base = schema ? plausible(schema, ids) : fc.constant({});
  const props = Object.keys(schema?.properties ?? {});
  const mutate = fc.oneof(
    base,
    // One field with a value of the wrong kind.
    props.length
      ? fc.tuple(base, fc.constantFrom(...props), anyJson).map(([b, k, v]) => ({ ...(b as object), [k]: v }))
      : base,
    // A required field missing.
    props.length ? fc.tuple(base, fc.constantFrom(...props)).map(([b, k]) => Object.fromEntries(Object.entries(b as object).filter(([key]) => key !== k))) : base,
    // Extra fields.
    fc.tuple(base, fc.dictionary(nastyString, anyJson, { minKeys: 1, maxKeys: 3 })).map(([b, extra]) => ({ ...(b as object), ...extra })),
    anyJson,
  );
  return mutate;
}

/** Nested arrays and objects `depth` deep. */
function deep(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** The body's bytes and content type: JSON mostly, sometimes text that is not what it claims. */
function encodedBody(schema: Schema | null, ids: string[]): fc.Arbitrary<{ bytes: Buffer | null; type: string | null }> {
  const json = body(schema, ids).map((v) => JSON.stringify(v) ?? "null");
  return fc.oneof(
    { weight: 8, arbitrary: json.map((t) => ({ bytes: Buffer.from(t, "utf8"), type: "application/json" })) },
    // Duplicate keys: the last one would win in JSON.parse.
    { weight: 2, arbitrary: fc.tuple(json, fc.constantFrom(...(Object.keys(schema?.properties ?? {}).length ? Object.keys(schema!.properties!) : ["amount"])), anyJson).map(([t, k, v]) => ({ bytes: Buffer.from(t.startsWith("{") && t !== "{}" ? `{"${k}":${JSON.stringify(v) ?? "1"},${t.slice(1)}` : `{"${k}":1,"${k}":2}`, "utf8"), type: "application/json" })) },
    // Invalid UTF-8 inside a string.
    { weight: 1, arbitrary: json.map((t) => ({ bytes: Buffer.concat([Buffer.from(t.startsWith("{") && t !== "{}" ? `{"x":"` : `["`), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]), Buffer.from(t.startsWith("{") && t !== "{}" ? `",${t.slice(1)}` : `"]`)]), type: "application/json" })) },
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 5000 }).map((d) => ({ bytes: Buffer.from(deep(d)), type: "application/json" })) },
    { weight: 1, arbitrary: json.map((t) => ({ bytes: Buffer.from(t), type: null })) },
    { weight: 1, arbitrary: fc.tuple(json, fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/xml", "application/json-patch+json")).map(([t, type]) => ({ bytes: Buffer.from(t), type })) },
    { weight: 1, arbitrary: fc.constantFrom("", "{", "nul", "[]", "123", '"x"', "{}".repeat(3), "\u0000").map((t) => ({ bytes: Buffer.from(t), type: "application/json" })) },
  );
}

/** Percent-encodes the UTF-8 bytes of `s` (lone surrogates become U+FFFD, as on any wire). */
function pct(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function pathValue(param: Parameter, ids: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ids).map(pct) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ID_PREFIXES), fc.stringMatching(/^[0-9A-Z]{26}$/)).map(([p, s]) => `${p}_${s}`) },
    { weight: 2, arbitrary: nastyString.map((s) => pct(s.slice(0, 300))).filter((s) => s.length > 0) },
    { weight: 1, arbitrary: fc.constantFrom("%00", "a%00b", "%E0%A4%A", "%FF%FE", "%", "%zz", "..", "%2F", "x".repeat(2000), param.name) },
  );
}

function queryPart(params: Parameter[], ids: string[]): fc.Arbitrary<string> {
  const names = params.map((p) => p.name);
  const one = fc.tuple(
    fc.oneof({ weight: 5, arbitrary: names.length ? fc.constantFrom(...names) : fc.constant("limit") }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z_[\]]{1,12}$/) }),
    fc.oneof(
      { weight: 3, arbitrary: params.length ? fc.constantFrom(...params).chain((p) => plausible(p.schema ?? {}, ids)).map((v) => pct(String(v))) : fc.constant("1") },
      { weight: 2, arbitrary: nastyString.map((s) => pct(s.slice(0, 500))) },
      { weight: 2, arbitrary: nastyNumber.map(String) },
      { weight: 1, arbitrary: fc.constantFrom("%00", "%E0%A4%A", "%", "%zz", "", "2026-13-45", "2099-01-01", "99999999999999999999", "-1", "1.5", "true") },
    ),
  ).map(([k, v]) => `${k}=${v}`);
  // Repeated names make arrays.
  return fc.array(one, { maxLength: 5 }).map((parts) => (parts.length ? `?${parts.join("&")}` : ""));
}

export function requestFor(op: Operation, ids: string[]): fc.Arbitrary<{ path: string; body: Buffer | null; type: string | null; idempotency: string | null }> {
  const path_params = op.parameters.filter((p) => p.in === "path");
  const query_params = op.parameters.filter((p) => p.in === "query");
  const path = fc.tuple(...path_params.map((p) => pathValue(p, ids))).map((values) => {
    let out = op.path;
    path_params.forEach((p, i) => (out = out.replace(`{${p.name}}`, values[i]!)));
    return out;
  });
  const has_body = op.method !== "GET" && op.method !== "DELETE";
  return fc.record({
    path: fc.tuple(path, queryPart(query_params, ids)).map(([p, q]) => p + q),
    encoded: has_body ? encodedBody(op.body, ids) : fc.constant({ bytes: null, type: null }),
    idempotency: fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/), nastyString.map((s) => s.replace(/[^\x20-\x7e]/g, "").slice(0, 300))), { nil: null }),
  }).map((r) => ({ path: r.path, body: r.encoded.bytes, type: r.encoded.type, idempotency: r.idempotency }));
}

// ---------------------------------------------------------------------------------------------
// Sending

function signBytes(creds: Credentials, method: string, path: string, body: Buffer, ts: number, nonce: string): string {
  const h = createHmac("sha256", Buffer.from(creds.secret, "utf8"));
  h.update(`${method}\n${path}\n${ts}\n${nonce}\n`, "utf8");
  h.update(body);
  h.update("\n", "utf8");
  return `PAYCORE-HMAC-SHA256 mch_id="${creds.mch_id}",key_id="${creds.key_id}",timestamp="${ts}",nonce="${nonce}",signature="${h.digest("base64")}"`;
}

export function send(base: string, r: FuzzRequest): Promise<{ status: number; text: string; type: string }> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), type: String(res.headers["content-type"] ?? "") }));
      res.on("error", (e) => resolve({ status: 0, text: String(e), type: "" }));
    });
    // A request Node itself refuses to send (e.g. an invalid path) is not the server's answer.
    req.on("error", (e) => resolve({ status: -1, text: String(e), type: "" }));
    req.end(r.body ?? undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// State

const BUSINESS_TABLES = ["entities", "merchants", "merchant_products", "api_keys", "payments", "refunds", "agreements", "card_agreements", "cards", "sign_requests", "payouts", "payout_batches", "payout_batch_imports", "deposits", "proposals", "operators", "risk_rules", "risk_blocklist", "agreement_campaigns", "settlement_holds", "settlements"];

export async function tableCounts(app: TestApp): Promise<Record<string, number>> {
  const existing = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema()`.execute(app.ctx.db);
  const present = new Set(existing.rows.map((r) => r.table_name));
  const out: Record<string, number> = {};
  for (const t of BUSINESS_TABLES.filter((x) => present.has(x))) {
    const r = await sql<{ n: string | number | bigint }>`select count(*) as n from ${sql.table(t)}`.execute(app.ctx.db);
    out[t] = Number(r.rows[0]!.n);
  }
  return out;
}

export interface FuzzTarget {
  app: TestApp;
  merchant: Credentials;
  /** Real ids to put into paths and bodies now and then. */
  ids: string[];
  /** Operations not to send (e.g. those that would revoke the fuzzer's own credentials). */
  skip?: (op: Operation) => boolean;
}

/**
 * Sends `requests` generated requests, spread over every operation, with the given seed. Answers
 * the findings (empty when every answer was as it must be).
 */
export async function fuzz(target: FuzzTarget, opts: { seed: number; requests: number; onProgress?: (done: number) => void }): Promise<FuzzFinding[]> {
  const doc = (await (await fetch(`${target.app.url}/openapi.json`)).json()) as Parameters<typeof operations>[0];
  const ops = operations(doc).filter((op) => !target.skip?.(op));
  const per_op = Math.max(1, Math.ceil(opts.requests / ops.length));
  const findings: FuzzFinding[] = [];
  let done = 0;
  for (const [index, op] of ops.entries()) {
    const samples = fc.sample(requestFor(op, target.ids), { seed: opts.seed + index, numRuns: per_op });
    for (const s of samples) {
      const headers: Record<string, string> = {};
      const bytes = s.body ?? Buffer.alloc(0);
      if (s.type) headers["content-type"] = s.type;
      if (s.body) headers["content-length"] = String(bytes.length);
      if (s.idempotency && op.method === "POST") headers["idempotency-key"] = s.idempotency;
      if (op.auth === "merchant") headers.authorization = signBytes(target.merchant, op.method, s.path, bytes, Math.floor(target.app.ctx.clock.now().getTime() / 1000), randomBytes(16).toString("hex"));
      if (op.auth === "admin") headers.authorization = `Bearer ${target.app.admin_token}`;
      const request: FuzzRequest = { op: op.operation_id, method: op.method, path: s.path, headers, body: s.body };
      const before = await tableCounts(target.app);
      const res = await send(target.app.url, request);
      done += 1;
      opts.onProgress?.(done);
      if (res.status === -1) continue;
      const finding = (why: string) => findings.push({ request, status: res.status, text: res.text.slice(0, 500), why });
      if (res.status >= 500 || res.status < 200) {
        finding("not 2xx/4xx");
        continue;
      }
      if (res.status >= 400) {
        // The API answers the error object; the hosted signing page answers the cardholder's browser
        // in HTML and the networks' callbacks answer in the networks' own terms.
        const api = op.path.startsWith("/v1/") || op.path.startsWith("/admin/");
        if (api && !isErrorObject(res.text)) finding("4xx without the error object");
        const after = await tableCounts(target.app);
        const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
        if (changed.length) finding(`4xx changed ${changed.join(", ")}`);
      }
    }
  }
  return findings;
}

function isErrorObject(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null;
    return typeof parsed?.error?.code === "string" && typeof parsed.error.message === "string";
  } catch {
    return false;
  }
}

/** One line per finding, with what replays it. */
export function describeFinding(f: FuzzFinding): string {
  const body = f.request.body ? JSON.stringify(f.request.body.toString("latin1").slice(0, 200)) : "-";
  return `${f.why}: ${f.status} ${f.request.op} ${f.request.method} ${f.request.path.slice(0, 200)} type=${f.request.headers["content-type"] ?? "-"} body=${body} → ${f.text.slice(0, 200)}`;
}
