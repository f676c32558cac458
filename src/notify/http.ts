import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import { INTERNAL_MESSAGE, internalKind, urlProblem, type AllowList } from "../kernel/net-guard.ts";
import { NOTIFY_LIMITS } from "./limits.ts";

/** How one attempt ended. `in_flight` and `abandoned` are states of the log, never an outcome. */
export type AttemptOutcome =
  | { result: "acknowledged"; http_status: number; error: null }
  | { result: "http_error"; http_status: number; error: null }
  | { result: "timeout" | "network_error" | "no_key" | "refused"; http_status: null; error: string };

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
  allow: AllowList,
): Promise<{ outcome: AttemptOutcome; duration_ms: number }> {
  const started = performance.now();
  const duration = () => Math.max(0, Math.round(performance.now() - started));
  try {
    const target = await vetDestination(url, allow, timeout_ms);
    if ("refused" in target) return { outcome: { result: "refused", http_status: null, error: `refused: ${target.refused}` }, duration_ms: duration() };
    const status = await postOnce(new URL(url), body, headers, timeout_ms, target.address);
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

/**
 * Resolves the host now (at delivery, not when the URL was given: DNS can change) and refuses
 * internal addresses unless allowlisted. The connection then goes to the address judged here, so a
 * second lookup cannot answer differently (DNS rebinding). An allowlisted host name is not pinned.
 */
async function vetDestination(url: string, allow: AllowList, timeout_ms: number): Promise<{ address: LookupAddress | null } | { refused: string }> {
  const problem = urlProblem(url, allow);
  if (problem) return { refused: problem };
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (allow.allowsHost(host)) return { address: null };
  const family = isIP(host);
  const addresses = family !== 0 ? [{ address: host, family }] : await resolveAll(host, timeout_ms);
  for (const a of addresses) {
    if (internalKind(a.address) !== null && !allow.allowsAddress(a.address)) return { refused: INTERNAL_MESSAGE };
  }
  return { address: addresses[0]! };
}

class ResolveFailed extends Error {}

function resolveAll(host: string, timeout_ms: number): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new AttemptTimeout()), timeout_ms);
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err || addresses.length === 0) reject(new ResolveFailed(`the host name did not resolve (${err?.code ?? "no address"})`));
      else resolve(addresses);
    });
  });
}

/** A `lookup` for http.request that answers the address already judged, whatever is asked. */
function pinnedLookup(pinned: LookupAddress) {
  return (_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
}

function postOnce(url: URL, body: string, headers: Record<string, string>, timeout_ms: number, pinned: LookupAddress | null): Promise<number> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      reject(new Error(`unsupported protocol ${url.protocol}`));
      return;
    }
    const transport = url.protocol === "https:" ? https : http;
    const options = {
      method: "POST",
      agent: false,
      headers: { ...headers, "content-length": String(Buffer.byteLength(body, "utf8")) },
      ...(pinned ? { lookup: pinnedLookup(pinned) as unknown as typeof dnsLookup } : {}),
    };
    const request = transport.request(url, options, (response) => {
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
