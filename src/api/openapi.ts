import { z } from "zod";
import { ERROR_STATUS } from "../kernel/errors.ts";
import type { RouteDef } from "./route.ts";

/** OpenAPI 3.1, generated from the same Zod schemas that validate the requests. */
export function buildOpenApi(routes: readonly RouteDef[], info: { version: string; server_url?: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([a-z_]+)/g, "{$1}");
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = operation(r);
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

function operation(r: RouteDef) {
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
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: r.tags,
    security: r.auth === "merchant" ? [{ merchantSignature: [] }] : r.auth === "admin" ? [{ operatorToken: [] }] : [],
    ...(r.auth === "admin" ? { "x-roles": r.roles } : {}),
    parameters,
    ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body, "input") } } } } : {}),
    responses: {
      [ok]: { description: "OK", content },
      default: { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    },
  };
}
