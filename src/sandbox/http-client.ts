import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { SANDBOX_LIMITS } from "./limits.ts";

/**
 * The sandbox's outgoing POSTs to paycore (network notifications, CNAPS pushes) over node:http with
 * keep-alive agents. `fetch` (undici) cost about 12 % of the sandbox's busy time in the payments
 * benchmark for one small POST per payment (WHATWG streams, a Request and Response object, an
 * AbortSignal timer each); a plain request on a reused socket costs a fraction of that.
 *
 * Idle sockets are closed after `idle_socket_ms`, well before a Node server's default keep-alive
 * timeout (5 s; Fastify 72 s), so the sandbox, not paycore, normally closes an idle connection.
 * If paycore closed it first anyway (a race nothing can exclude), the request fails on a reused
 * socket before any answer: that one case is sent again at once on a new socket. Every caller
 * treats a POST as at-least-once (paycore deduplicates on message ids), so a repeat is harmless.
 */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: SANDBOX_LIMITS.notify_sockets_max, maxFreeSockets: SANDBOX_LIMITS.notify_sockets_max, timeout: SANDBOX_LIMITS.notify_idle_socket_ms };
const http_agent = new HttpAgent(AGENT_OPTIONS);
const https_agent = new HttpsAgent(AGENT_OPTIONS);

export interface PostResult {
  status: number;
}

/** POSTs `body` and reads the whole answer (bounded); rejects on a network error or when the
 * socket stays silent for `timeout_ms`. */
export async function postText(url: string, content_type: string, body: string, timeout_ms: number): Promise<PostResult> {
  try {
    return await postOnce(url, content_type, body, timeout_ms);
  } catch (error) {
    if (!(error instanceof StaleSocketError)) throw error;
    return postOnce(url, content_type, body, timeout_ms);
  }
}

class StaleSocketError extends Error {}

function postOnce(url: string, content_type: string, body: string, timeout_ms: number): Promise<PostResult> {
  const target = new URL(url);
  const https = target.protocol === "https:";
  const payload = Buffer.from(body, "utf8");
  return new Promise<PostResult>((resolve, reject) => {
    const options = {
      method: "POST",
      agent: https ? https_agent : http_agent,
      timeout: timeout_ms,
      headers: { "content-type": content_type, "content-length": payload.length },
    };
    const req = (https ? httpsRequest : httpRequest)(target, options, (res) => readAnswer(res, resolve, reject));
    req.once("timeout", () => req.destroy(new Error(`no answer within ${timeout_ms} ms`)));
    req.once("error", (error: NodeJS.ErrnoException) => {
      const stale = req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE");
      reject(stale ? new StaleSocketError(error.message) : error);
    });
    req.end(payload);
  });
}

function readAnswer(res: IncomingMessage, resolve: (r: PostResult) => void, reject: (e: Error) => void): void {
  let bytes = 0;
  res.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > SANDBOX_LIMITS.notify_answer_bytes_max) res.destroy(new Error("answer too large"));
  });
  res.once("error", reject);
  res.once("end", () => resolve({ status: res.statusCode ?? 0 }));
  res.once("close", () => reject(new Error("answer cut short"))); // no effect after "end"
}
