import { connect, type Socket } from "node:net";
import { HttpClient, type PostResult } from "../kernel/http-client.ts";
import { SANDBOX_LIMITS } from "./limits.ts";

/**
 * The sandbox's connections to paycore (network notifications, CNAPS pushes). Every message here
 * is at-least-once (paycore deduplicates on message ids), which allows a much smaller client than
 * node:http's: over plain HTTP, one write per message (request line, headers and body together),
 * an answer read by its Content-Length (or chunks, or to the close), and a message that failed
 * before any byte of its answer sent again once on a new connection. node:http's ClientRequest,
 * agent and parser were about a tenth of the sandbox's CPU per payment (docs/performance.md).
 * Idle connections are closed after `notify_idle_socket_ms`, below paycore's keep-alive timeout
 * (Fastify's 72 s), at most `notify_sockets_max` are open, later messages wait for one.
 * An https callback URL goes through the kernel's client (src/kernel/http-client.ts).
 */
const tls_http = new HttpClient({
  sockets_per_origin_max: SANDBOX_LIMITS.notify_sockets_max,
  idle_sockets_per_origin_max: SANDBOX_LIMITS.notify_sockets_max,
  idle_socket_ms: SANDBOX_LIMITS.notify_idle_socket_ms,
});

/** POSTs a message to paycore; a 2xx answer means delivered. Never throws. */
export function postToPaycore(url: string, content_type: string, body: string, timeout_ms: number): Promise<PostResult> {
  const target = parseTarget(url);
  if (!target) return tls_http.post({ url, content_type, body, timeout_ms, answer_bytes_max: SANDBOX_LIMITS.notify_answer_bytes_max, resend: "once_on_stale_socket" });
  return originFor(target).post(target.path, content_type, body, timeout_ms);
}

/** Why a delivery failed, for the delivery log; null when paycore answered 2xx. */
export function deliveryError(result: PostResult): string | null {
  switch (result.kind) {
    case "response":
      return result.status >= 200 && result.status < 300 ? null : `HTTP ${result.status}`;
    case "timeout":
      return "no answer in time";
    case "transport_error":
      return result.message;
  }
}

interface Target {
  host: string;
  port: number;
  /** The Host header. */
  authority: string;
  path: string;
}

const targets = new Map<string, Target | null>();
const TARGETS_MAX = 64;

function parseTarget(url: string): Target | null {
  const known = targets.get(url);
  if (known !== undefined) return known;
  const parsed = new URL(url);
  const target = parsed.protocol === "http:" ? { host: parsed.hostname.replace(/^\[|\]$/g, ""), port: Number(parsed.port || 80), authority: parsed.host, path: `${parsed.pathname}${parsed.search}` } : null;
  if (targets.size >= TARGETS_MAX) targets.clear();
  targets.set(url, target);
  return target;
}

const origins = new Map<string, Origin>();

function originFor(target: Target): Origin {
  const key = `${target.host}:${target.port}`;
  let origin = origins.get(key);
  if (!origin) {
    if (origins.size >= TARGETS_MAX) origins.clear(); // their idle sockets still time out
    origin = new Origin(target.host, target.port, target.authority);
    origins.set(key, origin);
  }
  return origin;
}

type Attempt = PostResult | { kind: "stale_socket"; message: string };

class Origin {
  /** Most recently used last (reused first). */
  private readonly idle: Socket[] = [];
  private open = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly authority: string,
  ) {}

  async post(path: string, content_type: string, body: string, timeout_ms: number): Promise<PostResult> {
    const deadline_ms = performance.now() + timeout_ms;
    const head = `POST ${path} HTTP/1.1\r\nHost: ${this.authority}\r\nContent-Type: ${content_type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const message = head + body;
    const first = await this.attempt(message, deadline_ms, false);
    if (first.kind !== "stale_socket") return first;
    for (const socket of this.idle.splice(0)) socket.destroy(); // older than the stale one: suspect too
    if (performance.now() >= deadline_ms) return { kind: "transport_error", message: first.message };
    const second = await this.attempt(message, deadline_ms, true);
    return second.kind === "stale_socket" ? { kind: "transport_error", message: second.message } : second;
  }

  private async attempt(message: string, deadline_ms: number, fresh: boolean): Promise<Attempt> {
    while (this.open >= SANDBOX_LIMITS.notify_sockets_max && this.idle.length === 0) {
      if (performance.now() >= deadline_ms) return { kind: "timeout" };
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    let socket = fresh ? undefined : this.idle.pop();
    const reused = socket !== undefined;
    if (!socket) {
      if (fresh && this.open >= SANDBOX_LIMITS.notify_sockets_max) this.idle.pop()?.destroy();
      socket = this.connect();
    }
    socket.setTimeout(0);
    return exchange(socket, message, reused, deadline_ms, (keep) => this.release(socket, keep));
  }

  private connect(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.open += 1;
    socket.on("error", () => {}); // reported by the exchange in progress; an idle socket is just dropped
    // One listener for the socket's life: the idle timeout is armed by release() and disarmed when
    // the socket is taken again (setTimeout with a callback would add a listener at every reuse).
    socket.on("timeout", () => socket.destroy());
    socket.once("close", () => {
      this.open -= 1;
      const at = this.idle.indexOf(socket);
      if (at >= 0) this.idle.splice(at, 1);
      this.waiting.shift()?.();
    });
    return socket;
  }

  private release(socket: Socket, keep: boolean): void {
    if (!keep || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.setTimeout(SANDBOX_LIMITS.notify_idle_socket_ms);
    this.idle.push(socket);
    this.waiting.shift()?.();
  }
}

/** One request and its answer on `socket`; `done(keep)` hands the socket back (kept alive or not). */
function exchange(socket: Socket, message: string, reused: boolean, deadline_ms: number, done: (keep: boolean) => void): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    const answer = new AnswerReader(SANDBOX_LIMITS.notify_answer_bytes_max);
    let settled = false;
    const settle = (result: Attempt, keep: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      done(keep);
      resolve(result);
    };
    const timer = setTimeout(() => settle({ kind: "timeout" }, false), Math.max(0, deadline_ms - performance.now()));
    const onData = (chunk: Buffer) => {
      const state = answer.push(chunk);
      if (state.kind === "error") settle({ kind: "transport_error", message: state.message }, false);
      else if (state.kind === "done") settle({ kind: "response", status: state.status, body: state.body }, state.keep_alive);
    };
    const failed = (message: string) => {
      if (answer.started) return settle({ kind: "transport_error", message }, false);
      settle(reused ? { kind: "stale_socket", message } : { kind: "transport_error", message }, false);
    };
    const onError = (error: Error) => failed(error.message);
    const onClose = () => {
      const state = answer.end();
      if (state.kind === "done") settle({ kind: "response", status: state.status, body: state.body }, false);
      else failed(state.kind === "error" ? state.message : "socket hang up");
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.write(message);
  });
}

type ReadState = { kind: "more" } | { kind: "error"; message: string } | { kind: "done"; status: number; body: string; keep_alive: boolean };

const HEAD_BYTES_MAX = 16 * 1024;
const CHUNK_SIZE_LINE = /^([0-9a-fA-F]+)(?:;[^\r\n]*)?$/;

/** The answer to one request: status line, headers, and a body by Content-Length, chunks, or the close. */
class AnswerReader {
  started = false;
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  private framing: { kind: "length"; bytes: number } | { kind: "chunked" } | { kind: "close" } | null = null;
  private keep_alive = true;
  private body_at = 0;

  constructor(private readonly bytes_max: number) {}

  push(chunk: Buffer): ReadState {
    this.started = true;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.buffer.length > this.bytes_max + HEAD_BYTES_MAX) return { kind: "error", message: `answer exceeds ${this.bytes_max} bytes` };
    if (!this.framing) {
      const head_end = this.buffer.indexOf("\r\n\r\n");
      if (head_end < 0) return this.buffer.length > HEAD_BYTES_MAX ? { kind: "error", message: "answer head too large" } : { kind: "more" };
      const problem = this.readHead(this.buffer.toString("latin1", 0, head_end));
      if (problem) return { kind: "error", message: problem };
      this.body_at = head_end + 4;
    }
    return this.body(false);
  }

  /** The connection closed: an answer read to the close ends here. */
  end(): ReadState {
    if (this.framing?.kind === "close") return this.body(true);
    return { kind: "error", message: this.started ? "answer cut off" : "socket hang up" };
  }

  private readHead(head: string): string | null {
    const lines = head.split("\r\n");
    const status_line = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
    if (!status_line) return "malformed status line";
    this.status = Number(status_line[2]);
    if (this.status < 200) return `unexpected interim answer ${this.status}`;
    this.keep_alive = status_line[1] === "1";
    let length: number | null = null;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) return "malformed header";
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === "content-length") {
        if (!/^\d+$/.test(value) || (length !== null && length !== Number(value))) return "bad content-length";
        length = Number(value);
      } else if (name === "transfer-encoding") chunked = value.split(",").some((v) => v.trim() === "chunked");
      else if (name === "connection") {
        if (value.includes("close")) this.keep_alive = false;
        else if (value.includes("keep-alive")) this.keep_alive = true;
      }
    }
    if (length !== null && length > this.bytes_max) return `answer of ${length} bytes exceeds ${this.bytes_max}`;
    if (this.status === 204 || this.status === 304) this.framing = { kind: "length", bytes: 0 }; // never a body
    else if (chunked) this.framing = { kind: "chunked" };
    else if (length !== null) this.framing = { kind: "length", bytes: length };
    else {
      this.framing = { kind: "close" };
      this.keep_alive = false;
    }
    return null;
  }

  private body(closed: boolean): ReadState {
    const framing = this.framing!;
    const available = this.buffer.length - this.body_at;
    if (framing.kind === "length") {
      if (available < framing.bytes) return { kind: "more" };
      // Bytes after the answer were never asked for: the connection is not reused.
      const keep = this.keep_alive && available === framing.bytes;
      return { kind: "done", status: this.status, body: this.buffer.toString("utf8", this.body_at, this.body_at + framing.bytes), keep_alive: keep };
    }
    if (framing.kind === "close") {
      if (available > this.bytes_max) return { kind: "error", message: `answer exceeds ${this.bytes_max} bytes` };
      return closed ? { kind: "done", status: this.status, body: this.buffer.toString("utf8", this.body_at), keep_alive: false } : { kind: "more" };
    }
    return this.chunks();
  }

  private chunks(): ReadState {
    const parts: Buffer[] = [];
    let at = this.body_at;
    for (;;) {
      const line_end = this.buffer.indexOf("\r\n", at);
      if (line_end < 0) return { kind: "more" };
      const size_line = CHUNK_SIZE_LINE.exec(this.buffer.toString("latin1", at, line_end));
      if (!size_line) return { kind: "error", message: "malformed chunk" };
      const size = parseInt(size_line[1]!, 16);
      if (size === 0) {
        const trailer_end = this.buffer.indexOf("\r\n\r\n", line_end);
        const empty_trailer = this.buffer.length >= line_end + 4 && this.buffer[line_end + 2] === 13 && this.buffer[line_end + 3] === 10;
        const end = empty_trailer ? line_end + 4 : trailer_end < 0 ? -1 : trailer_end + 4;
        if (end < 0) return { kind: "more" };
        return { kind: "done", status: this.status, body: Buffer.concat(parts).toString("utf8"), keep_alive: this.keep_alive && end === this.buffer.length };
      }
      if (this.buffer.length < line_end + 2 + size + 2) return { kind: "more" };
      parts.push(this.buffer.subarray(line_end + 2, line_end + 2 + size));
      at = line_end + 2 + size + 2;
    }
  }
}
