import type { ServerOptions } from "node:http";
import type { FastifyInstance } from "fastify";
import type { Settings } from "../context.ts";
import { newId } from "../kernel/ids.ts";
import { errorBody } from "./errors.ts";
import { toJson } from "./json.ts";

/**
 * How long a client may take, so a slow or silent one cannot hold a connection open (docs/security.md):
 * - `connection_timeout_ms` (`PAYCORE_CONNECTION_TIMEOUT_MS`, Fastify's `connectionTimeout`): the
 *   socket is closed after this long without a byte from or to the client. Time paycore spends on
 *   a fully received request is not the client's idleness and does not count (see below).
 * - `request_timeout_ms` (`PAYCORE_REQUEST_TIMEOUT_MS`, Fastify's `requestTimeout`): headers and
 *   body must have arrived this long after the request began; else 408 and the connection closes.
 *   Node checks it every {@link CONNECTIONS_CHECK_INTERVAL_MS_MAX} at most.
 * - `body_timeout_ms` (`PAYCORE_BODY_TIMEOUT_MS`): the body must have arrived this long after the
 *   headers, checked by a timer of its own; else 408 and the connection closes.
 */
export const CONNECTIONS_CHECK_INTERVAL_MS_MAX = 1_000;
/** Node's own bound for the headers alone; never above the whole request's. */
const HEADERS_TIMEOUT_MS_MAX = 60_000;

export interface TimeoutSettings {
  connection_timeout_ms: number;
  request_timeout_ms: number;
  body_timeout_ms: number;
}

/** The Fastify (and Node HTTP server) options for these timeouts. */
export function serverTimeoutOptions(settings: TimeoutSettings): { connectionTimeout: number; requestTimeout: number; http: ServerOptions } {
  const check_ms = Math.max(50, Math.min(CONNECTIONS_CHECK_INTERVAL_MS_MAX, Math.floor(settings.request_timeout_ms / 4)));
  return {
    connectionTimeout: settings.connection_timeout_ms,
    requestTimeout: settings.request_timeout_ms,
    http: {
      requestTimeout: settings.request_timeout_ms,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS_MAX, settings.request_timeout_ms),
      connectionsCheckingInterval: check_ms,
    },
  };
}

const hasBody = (headers: Record<string, string | string[] | undefined>) =>
  headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0");

/** The body-read timer, and the rule that paycore's own working time is not client idleness. */
export function installTimeouts(app: FastifyInstance, settings: Pick<Settings, "body_timeout_ms">): void {
  app.addHook("onRequest", (request, reply, done) => {
    if (!hasBody(request.headers)) return done();
    const timer = setTimeout(() => {
      if (request.raw.complete) return;
      const socket = request.raw.socket;
      request.paycore_error_code = "invalid_request";
      if (!reply.raw.headersSent) {
        const body = toJson(errorBody("invalid_request", "request: body not received in time", request.id ?? newId("req"), "body"));
        reply.raw.writeHead(408, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" });
        reply.raw.end(body, () => socket.destroy());
      } else {
        socket.destroy();
      }
    }, settings.body_timeout_ms);
    timer.unref();
    request.raw.once("end", () => clearTimeout(timer));
    reply.raw.once("close", () => clearTimeout(timer));
    done();
  });
  // A fully received request: while paycore works on it, a quiet socket is not the client's fault.
  // Once the answer has begun, a quiet socket is a client that does not read: it is closed.
  app.addHook("preHandler", (request, reply, done) => {
    reply.raw.on("timeout", () => {
      if (reply.raw.headersSent) request.raw.socket.destroy();
    });
    done();
  });
}
