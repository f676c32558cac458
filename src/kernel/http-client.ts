import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { urlToHttpOptions } from "node:url";
import { assert } from "./assert.ts";

/**
 * The one HTTP POST client of paycore and of the sandbox: paycore's calls to the payment networks
 * (src/channels) and the sandbox's notifications and pushes to paycore (src/sandbox). node:http
 * with a keep-alive agent per origin: `fetch` (undici) cost several times the client CPU per
 * message (docs/performance.md).
 *
 * Stale sockets. A keep-alive socket that the server closes while idle can be picked for a
 * request at the very instant the server's close is on its way: the request then fails before any
 * byte of an answer, and nobody can tell whether the server read it. Two defences:
 * - The client closes idle sockets first: `idle_socket_ms` is below the server's keep-alive
 *   timeout, so the server never closes an idle connection to this client. Both of our servers
 *   are Fastify with its default `keepAliveTimeout` of 72 s (paycore: src/api/server.ts; the
 *   sandbox: src/sandbox/index.ts); Node's own default is 5 s; our clients use 4 s. A server that
 *   announces a shorter one (`Keep-Alive: timeout=N`) gets N − 1 s: Node's agent applies the hint
 *   when the agent has a timeout of its own, as here (without one it keeps idle sockets forever
 *   and ignores the hint, which is how paycore's channel transport used to run).
 *   Sockets are reused last-in first-out: the one picked is the most recently used.
 * - Each call says whether it may be sent twice. `once_on_stale_socket` (notifications, status
 *   queries, statement requests: the receiver deduplicates, or the call changes nothing) is sent
 *   again once, on a new connection, when it failed on a reused socket before any byte of the
 *   answer arrived. `never` (debits, refunds, payouts) is not: the failure is the caller's unknown
 *   outcome, settled later by a status query. For these the idle timeout is the defence.
 * Either way, a stale socket makes the origin's other idle sockets suspect (older than it): they
 * are closed, so the next call opens a new connection.
 */
export type ResendPolicy = "once_on_stale_socket" | "never";

export interface PostRequest {
  url: string;
  content_type: string;
  body: string;
  /** From the call to the answer's last byte, a resend included. */
  timeout_ms: number;
  /** An answer declaring or sending more is cut off and is a `transport_error`. */
  answer_bytes_max: number;
  resend: ResendPolicy;
}

/** Never an exception: no answer in time and a failed exchange are results. */
export type PostResult =
  | { kind: "response"; status: number; body: string }
  | { kind: "timeout" }
  | { kind: "transport_error"; message: string };

export type HttpPost = (request: PostRequest) => Promise<PostResult>;

export interface HttpClientOptions {
  sockets_per_origin_max: number;
  idle_sockets_per_origin_max: number;
  /** Below every server's keep-alive timeout (see above). */
  idle_socket_ms: number;
}

export const HTTP_CLIENT_LIMITS = {
  /** Agents kept; past it the oldest is dropped (its calls finish, its idle sockets time out). */
  origins_max: 64,
  /** Parsed URLs kept (src/kernel/http-client.ts `targetOf`). */
  targets_max: 256,
  idle_socket_ms_max: 60_000,
  timeout_ms_max: 120_000,
} as const;

type Attempt = PostResult | { kind: "stale_socket"; message: string };

/** A URL as node:http takes it, parsed once: a client posts to the same few URLs all day. */
interface Target {
  origin: string;
  https: boolean;
  /** `urlToHttpOptions` of the URL: what node:http itself derives from a URL on every request. */
  options: ReturnType<typeof urlToHttpOptions>;
}

export class HttpClient {
  private readonly agents = new Map<string, HttpAgent>();
  /**
   * Parsed URLs by their text (bounded like the agents: past the bound it starts over). Parsing
   * the URL and converting it for node:http on every call was about 1 % of paycore's CPU per
   * payment (docs/performance.md, fourth round).
   */
  private readonly targets = new Map<string, Target>();

  constructor(private readonly options: HttpClientOptions) {
    assert(options.idle_socket_ms > 0 && options.idle_socket_ms <= HTTP_CLIENT_LIMITS.idle_socket_ms_max, "idle_socket_ms must be positive and bounded");
    assert(options.sockets_per_origin_max > 0 && options.idle_sockets_per_origin_max > 0, "socket limits must be positive");
  }

  /** POSTs `body` and reads the whole answer; an arrow function, to be passed as an `HttpPost`. */
  readonly post: HttpPost = async (request) => {
    assert(request.timeout_ms > 0 && request.timeout_ms <= HTTP_CLIENT_LIMITS.timeout_ms_max, "timeout_ms must be positive and bounded");
    const target = this.targetOf(request.url);
    const deadline_ms = performance.now() + request.timeout_ms;
    const payload = Buffer.from(request.body, "utf8");
    const first = await this.attempt(target, request, payload, deadline_ms);
    if (first.kind !== "stale_socket") return first;
    this.closeIdleSockets(target);
    if (request.resend === "never" || performance.now() >= deadline_ms) return { kind: "transport_error", message: first.message };
    const second = await this.attempt(target, request, payload, deadline_ms);
    return second.kind === "stale_socket" ? { kind: "transport_error", message: second.message } : second;
  };

  /** Closes every socket (tests, shutdown); calls in flight fail. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private targetOf(url: string): Target {
    const known = this.targets.get(url);
    if (known) return known;
    const parsed = new URL(url); // throws on a bad URL, as before: nothing is cached
    const target: Target = { origin: parsed.origin, https: parsed.protocol === "https:", options: urlToHttpOptions(parsed) };
    if (this.targets.size >= HTTP_CLIENT_LIMITS.targets_max) this.targets.clear();
    this.targets.set(url, target);
    return target;
  }

  private attempt(target: Target, request: PostRequest, payload: Buffer, deadline_ms: number): Promise<Attempt> {
    const https = target.https;
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      const settle = (result: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req: ClientRequest = (https ? httpsRequest : httpRequest)({
        ...target.options,
        method: "POST",
        agent: this.agentFor(target, https),
        headers: { "content-type": request.content_type, "content-length": payload.length },
      });
      const timer = setTimeout(() => {
        settle({ kind: "timeout" });
        req.destroy();
      }, Math.max(0, deadline_ms - performance.now()));
      // What the socket had read before this request: more at a failure means an answer began.
      let socket: Socket | null = null;
      let bytes_read_before = 0;
      req.once("socket", (s: Socket) => {
        socket = s;
        bytes_read_before = s.bytesRead;
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        const silent = socket !== null && (socket as Socket).bytesRead === bytes_read_before;
        const stale = req.reusedSocket && silent && (error.code === "ECONNRESET" || error.code === "EPIPE");
        settle(stale ? { kind: "stale_socket", message: error.message } : { kind: "transport_error", message: error.message });
      });
      req.once("response", (res: IncomingMessage) => readAnswer(res, request.answer_bytes_max, settle));
      req.end(payload);
    });
  }

  private agentFor(target: Target, https: boolean): HttpAgent {
    const origin = target.origin;
    const known = this.agents.get(origin);
    if (known) return known;
    if (this.agents.size >= HTTP_CLIENT_LIMITS.origins_max) this.agents.delete(this.agents.keys().next().value!);
    const options = {
      keepAlive: true,
      maxSockets: this.options.sockets_per_origin_max,
      maxFreeSockets: this.options.idle_sockets_per_origin_max,
      timeout: this.options.idle_socket_ms,
      scheduling: "lifo" as const,
    };
    const agent = https ? new HttpsAgent(options) : new HttpAgent(options);
    this.agents.set(origin, agent);
    return agent;
  }

  private closeIdleSockets(target: Target): void {
    const agent = this.agents.get(target.origin);
    if (!agent) return;
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }
}

function readAnswer(res: IncomingMessage, bytes_max: number, settle: (result: Attempt) => void): void {
  const declared = Number(res.headers["content-length"] ?? "0");
  if (declared > bytes_max) {
    settle({ kind: "transport_error", message: `answer of ${declared} bytes exceeds ${bytes_max}` });
    res.destroy();
    return;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  res.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > bytes_max) {
      settle({ kind: "transport_error", message: `answer exceeds ${bytes_max} bytes` });
      res.destroy();
      return;
    }
    chunks.push(chunk);
  });
  res.once("end", () => settle({ kind: "response", status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
  res.on("error", (error) => settle({ kind: "transport_error", message: error.message }));
  // Closed before its end (the connection dropped): no answer. No effect after "end".
  res.once("close", () => settle({ kind: "transport_error", message: "answer cut off" }));
}
