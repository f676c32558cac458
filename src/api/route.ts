import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Ctx } from "../context.ts";
import { PaycoreError, type ErrorCode } from "../kernel/errors.ts";
import type { Operator, OperatorRole } from "../operators/index.ts";
import { errorResponse, zodToPaycoreError } from "./errors.ts";
import { runIdempotent, type StoredResponse } from "./idempotency.ts";
import { toJson } from "./json.ts";
import { claimBeforeAnswer, type MerchantPrincipal } from "./merchant-auth.ts";
import { observeConfigVersion, type StatementCounts } from "../db/index.ts";
import { StaleConfiguration } from "../db/request-nonce.ts";

/**
 * Routes are declared once with their Zod schemas: the same declaration validates requests and
 * generates the OpenAPI document. Handlers are thin: parse, call a domain module, shape the answer.
 */
export type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
export type Auth = "merchant" | "admin" | "public";

export interface Reply {
  status?: number;
  body: unknown;
  /** Defaults to JSON. */
  content_type?: string;
  /** Extra answer headers (not kept for idempotent replays). */
  headers?: Record<string, string>;
}

interface Input<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  request_id: string;
  request: FastifyRequest;
}

export type MerchantInput<B, Q, P> = Input<B, Q, P> & { merchant: MerchantPrincipal };
export type AdminInput<B, Q, P> = Input<B, Q, P> & { operator: Operator };

interface Common<B, Q, P> {
  method: Method;
  url: string;
  summary: string;
  description?: string;
  tags: string[];
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  response?: z.ZodType;
  success_status?: 200 | 201;
  /** Answer content type other than JSON, for the docs. */
  produces?: string;
  /** The OpenAPI operationId, when the one derived from method and path (src/api/openapi.ts) does not read well. */
  operation_id?: string;
  /** Domain error codes this operation can answer, beyond those every operation of its kind can (openapi.ts). */
  errors?: readonly ErrorCode[];
  /** This route's body limit when it is not the server's (a batch of 1,000 lines). */
  body_limit_bytes?: number;
  /**
   * Merchant routes whose one write can claim the request's nonce in its own statement (the
   * payment's intent: src/db/request-nonce.ts). The handler passes `merchant.nonce` on; whatever
   * the route answers without having claimed it, it claims before the answer leaves.
   */
  defer_nonce?: true;
}

export type RouteDef =
  | (Common<unknown, unknown, unknown> & { auth: "merchant"; handler: (input: MerchantInput<unknown, unknown, unknown>) => Promise<Reply> })
  | (Common<unknown, unknown, unknown> & { auth: "admin"; roles: readonly OperatorRole[]; handler: (input: AdminInput<unknown, unknown, unknown>) => Promise<Reply> })
  | (Common<unknown, unknown, unknown> & { auth: "public"; handler: (input: Input<unknown, unknown, unknown>) => Promise<Reply> });

export function merchantRoute<B = undefined, Q = undefined, P = undefined>(
  def: Common<B, Q, P> & { handler: (input: MerchantInput<B, Q, P>) => Promise<Reply> },
): RouteDef {
  return { ...def, auth: "merchant" } as unknown as RouteDef;
}

export const READ_ROLES: readonly OperatorRole[] = ["admin", "operator", "auditor"];
export const WRITE_ROLES: readonly OperatorRole[] = ["admin", "operator"];
export const ADMIN_ONLY: readonly OperatorRole[] = ["admin"];

export function adminRoute<B = undefined, Q = undefined, P = undefined>(
  def: Common<B, Q, P> & { roles?: readonly OperatorRole[]; handler: (input: AdminInput<B, Q, P>) => Promise<Reply> },
): RouteDef {
  const roles = def.roles ?? (def.method === "GET" ? READ_ROLES : WRITE_ROLES);
  return { ...def, roles, auth: "admin" } as unknown as RouteDef;
}

export function publicRoute<B = undefined, Q = undefined, P = undefined>(
  def: Common<B, Q, P> & { handler: (input: Input<B, Q, P>) => Promise<Reply> },
): RouteDef {
  return { ...def, auth: "public" } as unknown as RouteDef;
}

function parsePart<T>(schema: z.ZodType<T> | undefined, value: unknown, root: string): T {
  if (!schema) return undefined as T;
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw zodToPaycoreError(parsed.error, root);
  return parsed.data;
}

/** The body: a JSON object sent as `application/json`; anything else is told what is wrong with it as a whole. */
function parseBody<T>(schema: z.ZodType<T> | undefined, request: FastifyRequest): T {
  if (!schema) return undefined as T;
  const value = request.body;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new PaycoreError("invalid_request", bodyShapeProblem(request, value), "body");
  throw zodToPaycoreError(parsed.error, "");
}

function bodyShapeProblem(request: FastifyRequest, value: unknown): string {
  const type = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    return `body: send a JSON object with Content-Type: application/json (${type ? `got ${type}` : "no Content-Type was sent"})`;
  }
  if (value === undefined) return "body: required: a JSON object";
  return `body: must be a JSON object, not ${Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`}`;
}

function serialize(reply: Reply, success_status: number): StoredResponse & { content_type: string; headers?: Record<string, string> } {
  const content_type = reply.content_type ?? "application/json; charset=utf-8";
  const body = typeof reply.body === "string" && reply.content_type ? reply.body : toJson(reply.body);
  return { status: reply.status ?? success_status, body, content_type, ...(reply.headers ? { headers: reply.headers } : {}) };
}

/** Runs a handler and turns a PaycoreError into its answer, so an idempotent replay can repeat it. */
async function execute(def: RouteDef, request: FastifyRequest, extra: Record<string, unknown>): Promise<StoredResponse & { content_type: string; headers?: Record<string, string> }> {
  try {
    const input = {
      body: parseBody(def.body, request),
      query: parsePart(def.query, request.query, "query"),
      params: parsePart(def.params, request.params, "path"),
      request_id: request.id,
      request,
      ...extra,
    };
    const reply = await (def.handler as (i: typeof input) => Promise<Reply>)(input);
    return serialize(reply, def.success_status ?? 200);
  } catch (err) {
    if (!(err instanceof PaycoreError) || err.httpStatus >= 500) throw err;
    const { status, body } = errorResponse(err, request.id);
    request.paycore_error_code = err.code;
    return { status, body: toJson(body), content_type: "application/json; charset=utf-8" };
  }
}

/** How many times a request whose deferred nonce found the configuration moved is run (then it answers 500). */
const STALE_RUNS_MAX = 3;

async function executeForMerchant(ctx: Ctx, hooks: RouteHooks, def: RouteDef, request: FastifyRequest): Promise<StoredResponse & { content_type: string; replayed?: boolean; headers?: Record<string, string> }> {
  const key = request.headers["idempotency-key"];
  const idempotent = def.method === "POST" && typeof key === "string";
  for (let run = 1; ; run++) {
    const merchant = await hooks.authenticateMerchant(request, { defer_nonce: def.defer_nonce === true && !idempotent });
    request.paycore_merchant = merchant;
    try {
      if (idempotent) {
        const stored = await runIdempotent(ctx, { merchant_id: merchant.merchant_id, key, method: def.method, path: request.url, body: request.raw_body ?? "" }, () => execute(def, request, { merchant }));
        return { ...stored, content_type: "application/json; charset=utf-8" };
      }
      const result = await execute(def, request, { merchant });
      await claimBeforeAnswer(ctx, merchant);
      return result;
    } catch (err) {
      if (!(err instanceof StaleConfiguration) || run >= STALE_RUNS_MAX) throw err;
      // Nothing was written: run the request again on the configuration as it is now.
      observeConfigVersion(ctx.db, err.config_version);
    }
  }
}

export interface RouteHooks {
  /** Checks the signature, then the merchant ID's rate, then stores the nonce unless deferred (src/api/merchant-auth.ts). */
  authenticateMerchant(request: FastifyRequest, options: { defer_nonce: boolean }): Promise<MerchantPrincipal>;
  authenticateOperator(request: FastifyRequest, roles: readonly OperatorRole[]): Promise<Operator>;
}

export function mountRoute(app: FastifyInstance, ctx: Ctx, hooks: RouteHooks, def: RouteDef): void {
  app.route({
    method: def.method,
    url: def.url,
    ...(def.body_limit_bytes ? { bodyLimit: def.body_limit_bytes } : {}),
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      let result: StoredResponse & { content_type: string; replayed?: boolean; headers?: Record<string, string> };
      if (def.auth === "merchant") {
        result = await executeForMerchant(ctx, hooks, def, request);
      } else if (def.auth === "admin") {
        const operator = await hooks.authenticateOperator(request, def.roles);
        request.paycore_operator = operator;
        result = await execute(def, request, { operator });
      } else {
        result = await execute(def, request, {});
      }
      if (result.replayed) reply.header("Idempotent-Replayed", "true");
      for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
      return reply.code(result.status).type(result.content_type).send(result.body);
    },
  });
}

declare module "fastify" {
  interface FastifyRequest {
    raw_body?: string;
    paycore_merchant?: MerchantPrincipal;
    paycore_operator?: Operator;
    paycore_error_code?: string;
    /** SQL statements and commits this request caused (logged with it; src/db/stats.ts). */
    paycore_counts?: StatementCounts;
  }
}
