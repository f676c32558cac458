import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { CHANNEL_LIMITS } from "./support.ts";

/** The part of `fetch` the adapters use: injectable, so a caller can route or instrument it. */
export type FetchLike = (
  url: string,
  init: { method: "POST"; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

export type PostResult =
  | { kind: "response"; status: number; body: string }
  | { kind: "timeout" }
  | { kind: "transport_error"; message: string };

export interface Transport {
  fetch: FetchLike;
  timeout_ms: number;
}

/** POSTs text and reads the answer; never throws: a timeout and a transport failure are results. */
export async function postText(transport: Transport, url: string, content_type: string, body: string, bytes_max: number = CHANNEL_LIMITS.response_bytes_max): Promise<PostResult> {
  // A plain timer, cleared with the answer (AbortSignal.timeout's timer fires later all the same).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), transport.timeout_ms);
  const signal = controller.signal;
  try {
    const response = await transport.fetch(url, { method: "POST", headers: { "content-type": content_type }, body, signal });
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > bytes_max) return { kind: "transport_error", message: `answer of ${declared} bytes exceeds ${bytes_max}` };
    const text = await response.text();
    if (Buffer.byteLength(text) > bytes_max) return { kind: "transport_error", message: `answer exceeds ${bytes_max} bytes` };
    return { kind: "response", status: response.status, body: text };
  } catch (error) {
    if (signal.aborted) return { kind: "timeout" };
    return { kind: "transport_error", message: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** Limits of the node:http transport. */
const NODE_HTTP_LIMITS = {
  /** Above every `bytes_max` a caller of postText passes: the transport stops reading past it. */
  answer_bytes_max: 1024 * 1024,
  sockets_per_host_max: 64,
  idle_sockets_per_host_max: 16,
} as const;

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: NODE_HTTP_LIMITS.sockets_per_host_max, maxFreeSockets: NODE_HTTP_LIMITS.idle_sockets_per_host_max }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: NODE_HTTP_LIMITS.sockets_per_host_max, maxFreeSockets: NODE_HTTP_LIMITS.idle_sockets_per_host_max }),
};

/**
 * `FetchLike` over node:http with keep-alive agents: the networks' transport. The global `fetch`
 * (undici, web streams, a Headers object per message) cost about six times the client CPU per
 * message on the payment path (docs/performance.md).
 */
export const nodeHttpFetch: FetchLike = (url, init) =>
  new Promise((resolve, reject) => {
    if (init.signal.aborted) return reject(new Error("aborted"));
    const target = new URL(url);
    const https = target.protocol === "https:";
    const body = Buffer.from(init.body, "utf8");
    const request = (https ? httpsRequest : httpRequest)(target, {
      method: init.method,
      agent: https ? agents.https : agents.http,
      headers: { ...init.headers, "content-length": String(body.length) },
    });
    const abort = () => request.destroy(new Error("aborted"));
    init.signal.addEventListener("abort", abort, { once: true });
    request.on("error", (error) => {
      init.signal.removeEventListener("abort", abort);
      reject(error);
    });
    request.on("response", (response: IncomingMessage) => {
      const text = readText(response).finally(() => init.signal.removeEventListener("abort", abort));
      text.catch(() => {});
      resolve({
        status: response.statusCode ?? 0,
        headers: { get: (name) => headerValue(response, name) },
        text: () => text,
      });
    });
    request.end(body);
  });

function headerValue(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name.toLowerCase()];
  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    response.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > NODE_HTTP_LIMITS.answer_bytes_max) {
        response.destroy(new Error(`answer exceeds ${NODE_HTTP_LIMITS.answer_bytes_max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", reject);
    // Closed before its end (the connection dropped, or the caller gave up): no answer.
    response.on("close", () => {
      if (!response.complete) reject(new Error("answer cut off"));
    });
  });
}
