import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { NOTIFY_LIMITS } from "./limits.ts";

/** How one attempt ended. `in_flight` and `abandoned` are states of the log, never an outcome. */
export type AttemptOutcome =
  | { result: "acknowledged"; http_status: number; error: null }
  | { result: "http_error"; http_status: number; error: null }
  | { result: "timeout" | "network_error" | "no_key"; http_status: null; error: string };

class AttemptTimeout extends Error {}

/**
 * One POST to the merchant on a connection of its own (no pooled socket the receiver may have
 * closed meanwhile). Any 2xx acknowledges; redirects are not followed. Connecting, sending and
 * receiving the status line are bounded by `timeout_ms`; the answer's body is not read.
 */
export async function postNotification(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeout_ms: number,
): Promise<{ outcome: AttemptOutcome; duration_ms: number }> {
  const started = performance.now();
  const duration = () => Math.max(0, Math.round(performance.now() - started));
  try {
    const status = await postOnce(new URL(url), body, headers, timeout_ms);
    const outcome: AttemptOutcome =
      status >= 200 && status <= 299 ? { result: "acknowledged", http_status: status, error: null } : { result: "http_error", http_status: status, error: null };
    return { outcome, duration_ms: duration() };
  } catch (err) {
    const outcome: AttemptOutcome =
      err instanceof AttemptTimeout
        ? { result: "timeout", http_status: null, error: `no answer within ${timeout_ms} ms` }
        : { result: "network_error", http_status: null, error: describeNetworkError(err) };
    return { outcome, duration_ms: duration() };
  }
}

function postOnce(url: URL, body: string, headers: Record<string, string>, timeout_ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      reject(new Error(`unsupported protocol ${url.protocol}`));
      return;
    }
    const transport = url.protocol === "https:" ? https : http;
    const request = transport.request(url, { method: "POST", agent: false, headers: { ...headers, "content-length": String(Buffer.byteLength(body, "utf8")) } }, (response) => {
      resolve(response.statusCode ?? 0);
      // Only the status matters: drop the body and the connection.
      response.destroy();
    });
    const timer = setTimeout(() => request.destroy(new AttemptTimeout()), timeout_ms);
    request.on("error", reject);
    request.on("close", () => clearTimeout(timer));
    request.end(body);
  });
}

/** The error's code and message (never the URL's path or query, or a header), kept short. */
function describeNetworkError(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : null;
  const message = err instanceof Error ? err.message : String(err);
  const text = code && !message.includes(code) ? `${code}: ${message}` : message;
  return text.slice(0, NOTIFY_LIMITS.attempt_error_chars_max);
}
