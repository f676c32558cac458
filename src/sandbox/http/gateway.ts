import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { FastifyServerOptions } from "fastify";
import type { Logger } from "../../kernel/log.ts";
import type { WireAnswer } from "../context.ts";
import { SANDBOX_LIMITS } from "../limits.ts";

/** A network's gateway: the wire text in, the network's answer (or none, a `timeout` fault) out. */
export type GatewayHandler = (raw: string) => Promise<WireAnswer>;

export interface GatewayServing {
  /** Exact paths (a query string is ignored) and their handlers. */
  routes: ReadonlyMap<string, GatewayHandler>;
  /** Runs before any answer leaves: the journal lines of what it may report (src/sandbox/persistence.ts). */
  beforeAnswer: () => void;
  /** Connections of `timeout` faults, held unanswered until dropped (cleared on close). */
  held: Set<NodeJS.Timeout>;
  log: Logger;
}

/** The media types the gateways read as text, as the Fastify routes registered them (src/sandbox/index.ts). */
const TEXT_MEDIA_TYPES = new Set(["application/xml", "text/xml", "application/x-www-form-urlencoded", "text/plain"]);

/**
 * The server under Fastify (its `serverFactory`), serving the network gateways' ordinary messages
 * itself: a POST to a gateway path with a text media type and a declared length within the
 * message limit. Every other request — the control API, and any gateway request outside that
 * shape (no length, chunked, too large, another media type) — goes to Fastify, which answers it as
 * before. A payment's message took Fastify's routing, content-type parser, hooks and reply (about
 * 5 % of the sandbox's CPU at the payments bench, and more code for the JIT to compile); what is
 * kept is what the gateways need: the body limit, the journal written before the answer leaves,
 * the held connection of a `timeout` fault, and Fastify's answers to an internal error.
 */
export function gatewayServerFactory(serving: GatewayServing): (fastify: RequestListener, options: FastifyServerOptions) => Server {
  return (fastify, options) => {
    const server = createServer((request, response) => {
      const handler = gatewayFor(serving, request);
      if (handler) serveGateway(serving, handler, request, response);
      else fastify(request, response);
    });
    // What Fastify sets on the server it creates itself (fastify/lib/server.js).
    server.keepAliveTimeout = options.keepAliveTimeout!;
    server.requestTimeout = options.requestTimeout!;
    server.setTimeout(options.connectionTimeout!);
    return server;
  };
}

function gatewayFor(serving: GatewayServing, request: IncomingMessage): GatewayHandler | null {
  if (request.method !== "POST" || request.headers["transfer-encoding"] !== undefined) return null;
  const url = request.url ?? "";
  const query_at = url.indexOf("?");
  const handler = serving.routes.get(query_at < 0 ? url : url.slice(0, query_at));
  if (!handler) return null;
  const declared = Number(request.headers["content-length"] ?? NaN);
  if (!Number.isInteger(declared) || declared < 1 || declared > SANDBOX_LIMITS.message_bytes_max) return null;
  const type = request.headers["content-type"];
  if (type === undefined) return null;
  const semicolon = type.indexOf(";");
  return TEXT_MEDIA_TYPES.has((semicolon < 0 ? type : type.slice(0, semicolon)).trim().toLowerCase()) ? handler : null;
}

function serveGateway(serving: GatewayServing, handler: GatewayHandler, request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const raw = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
    handler(raw).then(
      (answer) => answerWith(serving, answer, response),
      (error: unknown) => internalError(serving, error, response),
    );
  });
}

function answerWith(serving: GatewayServing, answer: WireAnswer, response: ServerResponse): void {
  if (answer.kind === "no_answer") {
    // A `timeout` fault: the request was processed but no answer ever comes; the socket is dropped later.
    const timer = setTimeout(() => {
      serving.held.delete(timer);
      response.destroy();
    }, SANDBOX_LIMITS.timeout_hold_ms);
    timer.unref();
    serving.held.add(timer);
    return;
  }
  try {
    serving.beforeAnswer();
  } catch (error) {
    return internalError(serving, error, response);
  }
  response.writeHead(answer.status, { "content-type": answer.content_type, "content-length": Buffer.byteLength(answer.body) });
  response.end(answer.body);
}

/** As the sandbox's Fastify error handler answers an unexpected failure (src/sandbox/index.ts). */
function internalError(serving: GatewayServing, error: unknown, response: ServerResponse): void {
  serving.log.error({ err: error }, "sandbox request failed");
  const body = JSON.stringify({ error: { code: "internal", message: "internal error" } });
  response.writeHead(500, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  response.end(body);
}
