import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from "fastify";
import type { Ctx } from "../context.ts";
import { hmacSha256Base64 } from "../kernel/crypto/index.ts";
import { PaycoreError, type ErrorCode } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { authenticateOperator, type OperatorRole } from "../operators/index.ts";
import { randomBase64urlText } from "../kernel/random.ts";
import { errorBody, errorResponse } from "./errors.ts";
import { isDatabaseUnavailable } from "../db/availability.ts";
import { onClientError, onFrameworkError } from "./framework-errors.ts";
import { toJson } from "./json.ts";
import { authenticateMerchant, responseStringToSign, SignatureFailure, singleAuthorization } from "./merchant-auth.ts";
import { buildOpenApi } from "./openapi.ts";
import { renderDocsPage } from "./docs-page.ts";
import { RateLimitedError, RateLimiter } from "./rate-limit.ts";
import { installRequestInput } from "./request-input.ts";
import { runCounted } from "../db/index.ts";
import { mountRoute, type RouteDef, type RouteHooks } from "./route.ts";
import type { Metrics } from "../metrics/index.ts";
import { metricsRoute } from "./routes/metrics.ts";
import { installConsole } from "./console.ts";
import { installTimeouts, serverTimeoutOptions } from "./timeouts.ts";

export interface ServerOptions {
  routes: readonly RouteDef[];
  /** When given: GET /metrics, and every answer is timed into it. */
  metrics?: Metrics;
  version: string;
}

/** The HTTP edge: one Fastify instance carrying the Open API, the admin API, docs and health. */
export function buildServer(ctx: Ctx, options: ServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.settings.body_limit_bytes,
    genReqId: () => newId("req"),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 128 },
    frameworkErrors: onFrameworkError,
    clientErrorHandler: onClientError,
    ...serverTimeoutOptions(ctx.settings),
  });
  const limiter = new RateLimiter(ctx.settings.rate_limit_per_minute);
  installRequestInput(app);
  installTimeouts(app, ctx.settings);
  installLogging(app, ctx);
  installErrors(app, ctx);
  installResponseSigning(app);
  const hooks: RouteHooks = {
    authenticateMerchant: (request, options) => merchantFor(ctx, request, limiter, options),
    authenticateOperator: (request, roles) => operatorFor(ctx, request, roles),
  };
  const routes = options.metrics ? [...options.routes, metricsRoute(options.metrics)] : options.routes;
  if (options.metrics) installRequestMetrics(app, options.metrics);
  for (const route of routes) mountRoute(app, ctx, hooks, route);
  // Built on first use: the demo learns its public URL (its own address) only once it listens.
  let docs: { json: string; html: string } | null = null;
  const builtDocs = () => {
    if (docs) return docs;
    const public_url = ctx.settings.public_url;
    const openapi = buildOpenApi(routes, { version: options.version, ...(public_url ? { server_url: public_url } : {}) });
    docs = { json: JSON.stringify(openapi), html: renderDocsPage(openapi) };
    return docs;
  };
  app.get("/openapi.json", async (_req, reply) => reply.type("application/json; charset=utf-8").send(builtDocs().json));
  installConsole(app);
  app.get("/docs", async (_req, reply) => reply.type("text/html; charset=utf-8").send(builtDocs().html));
  return app;
}

async function merchantFor(ctx: Ctx, request: FastifyRequest, limiter: RateLimiter, options: { defer_nonce: boolean }) {
  try {
    const authorization = singleAuthorization(request.raw.rawHeaders);
    return await authenticateMerchant(ctx, { method: request.method, url: request.url, authorization, body: request.raw_body ?? "" }, (merchant_id) => {
      const now_ms = Date.now();
      if (!limiter.take(merchant_id, now_ms)) throw new RateLimitedError(limiter.retryAfterS(merchant_id, now_ms));
    }, options);
  } catch (err) {
    // The caller gets one message for every signature failure; the operator gets the reason.
    if (err instanceof SignatureFailure) ctx.log.info({ request_id: request.id, reason: err.reason }, "request signature refused");
    throw err;
  }
}

async function operatorFor(ctx: Ctx, request: FastifyRequest, roles: readonly OperatorRole[]) {
  const header = request.headers.authorization ?? "";
  const m = /^Bearer ([\x21-\x7e]{16,256})$/.exec(header);
  if (!m) throw new PaycoreError("unauthorized", "Authorization: Bearer <operator token> required");
  const operator = await authenticateOperator(ctx.db, m[1]!);
  if (!operator) throw new PaycoreError("unauthorized", "unknown or disabled operator token");
  if (!roles.includes(operator.role)) throw new PaycoreError("forbidden", `role '${operator.role}' may not do this (needs ${roles.join(" or ")})`);
  return operator;
}

/** Every route the app serves, to tell "no such path" (404) from "not with this method" (405 + Allow). */
function routeTable(app: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook("onRoute", (route) => {
    const source = route.url.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z0-9_]+/g, "[^/]+").replace(/\*/g, ".*");
    routes.push({ pattern: new RegExp(`^${source}$`), methods: [route.method].flat() });
  });
  return (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
}

function installErrors(app: FastifyInstance, ctx: Ctx): void {
  const methodsFor = routeTable(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!;
    const allowed = methodsFor(path);
    if (allowed.length > 0) {
      request.paycore_error_code = "method_not_allowed";
      return reply
        .code(405)
        .header("allow", allowed.join(", "))
        .type("application/json; charset=utf-8")
        .send(toJson(errorBody("method_not_allowed", `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`, request.id)));
    }
    request.paycore_error_code = "not_found";
    return reply.code(404).type("application/json; charset=utf-8").send(toJson(errorBody("not_found", `no route ${request.method} ${request.url.split("?")[0]}`, request.id)));
  });
  app.setErrorHandler((err: FastifyError | PaycoreError | Error, request, reply) => {
    let status: number;
    let body: ReturnType<typeof errorBody>;
    if (err instanceof PaycoreError) {
      ({ status, body } = errorResponse(err, request.id));
      if (err instanceof RateLimitedError) void reply.header("retry-after", String(err.retry_after_s));
    } else if ("statusCode" in err && typeof err.statusCode === "number" && err.statusCode < 500) {
      // Fastify's own 4xx (body too large, bad content length, …): bad input, never a 5xx.
      const message = err.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? `body: larger than ${request.routeOptions.bodyLimit ?? ctx.settings.body_limit_bytes} bytes` : `request: ${err.message}`;
      status = 400;
      body = errorBody("invalid_request", message, request.id, "body");
    } else if (isDatabaseUnavailable(err)) {
      // An operating condition, not a bug: the caller retries; committed work is finished by the sweeper.
      ctx.log.warn({ request_id: request.id, err: err.message }, "database unavailable");
      status = 503;
      body = errorBody("service_unavailable", "the database is unavailable; retry later", request.id);
      void reply.header("retry-after", "5");
    } else {
      ctx.log.error({ request_id: request.id, err: { message: err.message, stack: err.stack } }, "unhandled error");
      status = 500;
      body = errorBody("internal", "internal error; the request id helps support find it", request.id);
    }
    request.paycore_error_code = body.error.code as ErrorCode;
    return reply.code(status).type("application/json; charset=utf-8").send(toJson(body));
  });
}

/** Merchant answers are signed (docs/merchant-api.md): Paycore-Timestamp, Paycore-Nonce, Paycore-Signature. */
function installResponseSigning(app: FastifyInstance): void {
  // Callback hooks, here and below: an async hook costs a promise per request (and, with the
  // request's AsyncLocalStorage, a promise hook for it).
  app.addHook("onSend", (request, reply, payload, done) => {
    reply.header("Paycore-Request-Id", request.id);
    const merchant = request.paycore_merchant;
    if (!merchant) return done(null, payload);
    const body = typeof payload === "string" ? payload : payload === null || payload === undefined ? "" : String(payload);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBase64urlText(12);
    reply.header("Paycore-Timestamp", timestamp);
    reply.header("Paycore-Nonce", nonce);
    reply.header("Paycore-Signature", hmacSha256Base64(merchant.secret, responseStringToSign(timestamp, nonce, body)));
    done(null, body);
  });
}

/** Times every answer under its route pattern (bounded labels: never the raw path). */
function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", (request, reply, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

/** Paths that carry a bearer secret (a hosted signing link's token) are logged without it. */
function loggedPath(url: string): string {
  return (url.split("?")[0] ?? "").replace(/^\/sign\/[^/]+/, "/sign/[token]");
}

/** One log line per request; the logger masks card numbers, IDs, phones and secrets. */
function installLogging(app: FastifyInstance, ctx: Ctx): void {
  // Round trips per request, for the performance budget (docs/performance.md): counted at the driver.
  app.addHook("onRequest", (request, _reply, done) => {
    const counts = { statements: 0, commits: 0 };
    request.paycore_counts = counts;
    runCounted(counts, done);
  });
  app.addHook("onResponse", (request, reply, done) => {
    // Below the configured level the line and its object are not built at all (a payment is two requests).
    if (!ctx.log.isLevelEnabled("info")) return done();
    ctx.log.info(
      {
        request_id: request.id,
        method: request.method,
        path: loggedPath(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(request.paycore_merchant ? { mch_id: request.paycore_merchant.merchant_id } : {}),
        ...(request.paycore_operator ? { operator_id: request.paycore_operator.operator_id } : {}),
        ...(request.paycore_error_code ? { error_code: request.paycore_error_code } : {}),
        ...(request.paycore_counts ? { sql: request.paycore_counts.statements, commits: request.paycore_counts.commits } : {}),
      },
      "request",
    );
    done();
  });
}
