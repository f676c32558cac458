import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../kernel/errors.ts";
import type { RouteDef } from "./route.ts";

/** OpenAPI 3.1, generated from the same Zod schemas that validate the requests. */
export function buildOpenApi(routes: readonly RouteDef[], info: { version: string; server_url?: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  const ids = new Map<string, string>();
  for (const r of routes) {
    const path = r.url.replace(/:([a-z_]+)/g, "{$1}");
    const id = r.operation_id ?? operationId(r.method, r.url);
    const clash = ids.get(id);
    if (clash) throw new Error(`operationId ${id} of ${r.method} ${r.url} is also ${clash}'s: give one an operation_id`);
    ids.set(id, `${r.method} ${r.url}`);
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = operation(r, id);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "paycore API",
      version: info.version,
      description:
        "Merchant Open API (HMAC-SHA256 signed requests), operator admin API (bearer tokens). Money is integer fen. " +
        "Errors: {error: {code, message, request_id}} with codes " +
        Object.keys(ERROR_STATUS).join(", ") +
        ".",
    },
    ...(info.server_url ? { servers: [{ url: info.server_url }] } : {}),
    components: {
      securitySchemes: {
        merchantSignature: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description: 'PAYCORE-HMAC-SHA256 mch_id="…",key_id="…",timestamp="…",nonce="…",signature="…" — see /docs.',
        },
        operatorToken: { type: "http", scheme: "bearer" },
      },
      schemas: {
        Error: {
          type: "object",
          properties: {
            error: {
              type: "object",
              properties: { code: { type: "string", enum: Object.keys(ERROR_STATUS) }, message: { type: "string" }, request_id: { type: "string" }, field: { type: "string" } },
              required: ["code", "message", "request_id"],
            },
          },
          required: ["error"],
        },
      },
    },
    paths,
  };
}

function jsonSchema(schema: z.ZodType, io: "input" | "output") {
  return z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
}

/** Words that name what a POST does, when they end its path (`/agreements/{id}/unbind`). */
const ACTIONS = new Set(["unbind", "revoke", "confirm", "run", "execute", "redeliver", "approve", "reject", "check", "resolve", "close", "override"]);

/** Where the derived name reads badly (one-of-a-kind resources, pages, callbacks). Never rename one. */
const OPERATION_IDS: Record<string, string> = {
  "POST /v1/agreements/resend-otp": "resendAgreementOtp",
  "POST /v1/sign-and-pay": "signAndPay",
  "GET /v1/balance": "getBalance",
  "GET /v1/statements": "getStatement",
  "GET /sign/:token": "getHostedSigningPage",
  "POST /sign/:token": "submitHostedSigningPage",
  "GET /admin/v1/ledger/trial-balance": "adminGetTrialBalance",
  "GET /admin/v1/ledger/check": "adminCheckLedger",
  "GET /admin/v1/ledger/margin": "adminGetLedgerMargin",
  "GET /admin/v1/settlement-calendar": "adminGetSettlementCalendar",
  "POST /callbacks/channels/:channel_id": "receiveChannelCallback",
  "GET /healthz": "getHealth",
  "GET /admin/v1/reconciliations/:reconciliation_id/report.csv": "adminGetReconciliationReportCsv",
};

function singular(word: string): string {
  if (word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.endsWith("ses") || word.endsWith("xes")) return word.slice(0, -2);
  return word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word;
}

const camel = (words: string[]) => words.flatMap((w) => w.split(/[-_]/)).map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join("");

/**
 * A stable operationId from method and path, for SDK generators: `listPayments`, `getPayment`,
 * `createPaymentRefund`, `unbindAgreement`, `adminUpdateMerchant`. It changes only when the path does.
 */
export function operationId(method: string, url: string): string {
  const named = OPERATION_IDS[`${method} ${url}`];
  if (named) return named;
  const segments = url.split("/").filter((s) => s !== "" && s !== "v1");
  const admin = segments[0] === "admin";
  const parts = admin ? segments.slice(1) : segments;
  const last = parts.at(-1) ?? "";
  const item = last.startsWith(":");
  const action = method === "POST" && ACTIONS.has(last) ? last : null;
  const nouns = parts.filter((s) => !s.startsWith(":") && s !== action);
  // A noun followed by its id is one thing (singular); the last noun of a list stays plural.
  const words = nouns.map((noun, i) => (i < nouns.length - 1 || item || action || method === "POST" ? singular(noun) : noun));
  const verb = action ?? (method === "GET" ? (item ? "get" : "list") : method === "POST" ? "create" : method === "PATCH" ? "update" : method === "PUT" ? "put" : "delete");
  return camel([...(admin ? ["admin", verb] : [verb]), ...words]);
}

/** The domain codes of the money path's operations (a route may also declare its own `errors`). */
const DOMAIN_ERRORS: Record<string, readonly ErrorCode[]> = {
  "POST /v1/agreements": ["duplicate_out_trade_no", "risk_rejected", "channel_unavailable", "otp_attempts_exceeded"],
  "POST /v1/agreements/confirm": ["otp_invalid", "otp_expired", "otp_attempts_exceeded", "agreement_inactive", "channel_unavailable"],
  "POST /v1/agreements/resend-otp": ["otp_expired", "otp_attempts_exceeded", "limit_exceeded", "channel_unavailable"],
  "POST /v1/agreements/:agreement_id/unbind": ["channel_unavailable"],
  "POST /v1/sign-and-pay": ["duplicate_out_trade_no", "risk_rejected", "channel_unavailable", "limit_exceeded"],
  "POST /v1/sign-and-pay/confirm": ["otp_invalid", "otp_expired", "otp_attempts_exceeded", "agreement_inactive", "resign_required", "limit_exceeded", "risk_rejected", "channel_unavailable"],
  "POST /v1/payments": ["duplicate_out_trade_no", "agreement_inactive", "resign_required", "limit_exceeded", "risk_rejected", "channel_unavailable"],
  "POST /v1/payments/:payment_id/refunds": ["duplicate_out_refund_no", "payment_not_refundable", "amount_exceeds_refundable", "channel_unavailable"],
  "POST /admin/v1/merchants": ["invalid_request"],
  "GET /v1/statements": ["date_in_future"],
  "POST /admin/v1/settlements/run": ["business_day_not_closed"],
  "POST /v1/payouts": ["duplicate_out_trade_no", "insufficient_balance", "payouts_held", "rail_unavailable", "forbidden"],
};

/** Codes an operation can answer by its kind (auth, input, method); its own `errors` add the domain ones. */
function errorCodes(r: RouteDef): ErrorCode[] {
  const codes = new Set<ErrorCode>(["internal", "service_unavailable"]);
  if (r.body || r.query || r.params) codes.add("invalid_request");
  if (r.params) codes.add("not_found");
  if (r.auth === "merchant") for (const c of ["invalid_signature", "replayed_request", "merchant_suspended", "rate_limited"] as const) codes.add(c);
  if (r.auth === "merchant" && r.method === "POST") codes.add("idempotency_conflict");
  if (r.auth === "admin") for (const c of ["unauthorized", "forbidden"] as const) codes.add(c);
  for (const c of [...(DOMAIN_ERRORS[`${r.method} ${r.url}`] ?? []), ...(r.errors ?? [])]) codes.add(c);
  return [...codes];
}

function errorResponses(r: RouteDef): Record<string, unknown> {
  const by_status = new Map<number, ErrorCode[]>();
  for (const code of errorCodes(r)) by_status.set(ERROR_STATUS[code], [...(by_status.get(ERROR_STATUS[code]) ?? []), code]);
  const out: Record<string, unknown> = {};
  for (const [status, codes] of [...by_status].sort(([a], [b]) => a - b)) {
    const schema = { allOf: [{ $ref: "#/components/schemas/Error" }, { type: "object", properties: { error: { type: "object", properties: { code: { type: "string", enum: codes } } } } }] };
    out[String(status)] = { description: codes.join(", "), content: { "application/json": { schema } } };
  }
  return out;
}

function operation(r: RouteDef, operation_id: string) {
  const parameters: unknown[] = [];
  for (const [where, schema] of [["path", r.params], ["query", r.query]] as const) {
    if (!schema) continue;
    const js = jsonSchema(schema, "input") as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, s] of Object.entries(js.properties ?? {})) {
      parameters.push({ name, in: where, required: where === "path" || (js.required ?? []).includes(name), schema: s });
    }
  }
  if (r.auth === "merchant" && r.method === "POST") {
    parameters.push({ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: 128 } });
  }
  const ok = String(r.success_status ?? 200);
  const content = r.produces
    ? { [r.produces]: { schema: { type: "string" } } }
    : { "application/json": { schema: r.response ? jsonSchema(r.response, "output") : {} } };
  return {
    operationId: operation_id,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: r.tags,
    security: r.auth === "merchant" ? [{ merchantSignature: [] }] : r.auth === "admin" ? [{ operatorToken: [] }] : [],
    ...(r.auth === "admin" ? { "x-roles": r.roles } : {}),
    parameters,
    ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body, "input") } } } } : {}),
    responses: {
      [ok]: { description: "OK", content },
      ...errorResponses(r),
      default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    },
  };
}
