import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { newId } from "../kernel/ids.ts";
import { toJson } from "./json.ts";
import { errorBody } from "./errors.ts";

/**
 * Errors that happen before a request reaches a route — a URL that does not decode, a path
 * parameter past its length, headers past the size limit, a client too slow to send its request —
 * answer with paycore's error object like every other refusal, never Fastify's or Node's own.
 */

/** Fastify's `frameworkErrors`: bad URL encoding, over-long path parameters. */
export function onFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const too_long = error.code === "FST_ERR_MAX_PARAM_LENGTH";
  const message = too_long ? "path: a path parameter is too long" : "path: not a valid URL (bad percent-encoding)";
  request.paycore_error_code = "invalid_request";
  void reply
    .code(too_long ? 414 : 400)
    .type("application/json; charset=utf-8")
    .send(toJson(errorBody("invalid_request", message, request.id, "path")));
}

/** Fastify's `clientErrorHandler`: the HTTP parser refused the request (no Fastify request exists). */
export function onClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, message] =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "request: not received in time"]
      : err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "request: the URL and headers are larger than allowed"]
        : [400, "request: not a well-formed HTTP request"];
  const body = toJson(errorBody("invalid_request", message, newId("req"), "request"));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
