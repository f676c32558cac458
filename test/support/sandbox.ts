import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { startSandbox, type RailOptions, type WorldOptions } from "../../src/sandbox/index.ts";

/** A fixed start for suites: 2026-05-02 11:00 Beijing time. */
export const SUITE_START = "2026-05-02T03:00:00Z";
const WAIT_MS_MAX = 10_000;
const WAIT_STEP_MS = 10;
const BODY_BYTES_MAX = 1024 * 1024;

export interface TestSandbox {
  url: string;
  data_dir: string;
  clock: ManualClock;
  /** JSON helpers for the control endpoints. */
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  send<T = unknown>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** A sandbox on 127.0.0.1:0 with its own data directory and a manual clock; close it in afterAll. */
export async function startTestSandbox(
  options: { seed?: number; clock?: ManualClock; data_dir?: string; rails?: RailOptions; keep_state?: boolean; world?: WorldOptions } = {},
): Promise<TestSandbox> {
  const owned_dir = options.data_dir === undefined;
  const data_dir = options.data_dir ?? mkdtempSync(join(tmpdir(), "paycore-sandbox-"));
  const clock = options.clock ?? new ManualClock(SUITE_START);
  const sandbox = await startSandbox({
    port: 0, data_dir, seed: options.seed ?? 1, clock, log: createLogger("silent"),
    ...(options.rails ? { rails: options.rails } : {}), ...(options.keep_state === false ? { keep_state: false } : {}),
    ...(options.world ? { world: options.world } : {}),
  });
  const json = async <T>(response: Response) => {
    const text = await response.text();
    return { status: response.status, body: (text.startsWith("{") ? JSON.parse(text) : text) as T };
  };
  return {
    url: sandbox.url,
    data_dir,
    clock,
    get: async (path) => json(await fetch(`${sandbox.url}${path}`)),
    send: async (method, path, body) =>
      json(await fetch(`${sandbox.url}${path}`, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) })),
    async close() {
      await sandbox.close();
      if (owned_dir) rmSync(data_dir, { recursive: true, force: true });
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_BYTES_MAX) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Waits (bounded) until `check` returns a value; fails the test when it never does. */
export async function eventually<T>(check: () => T | undefined | null | false, what: string): Promise<T> {
  for (let waited = 0; waited <= WAIT_MS_MAX; waited += WAIT_STEP_MS) {
    const value = check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
  throw new Error(`gave up waiting for ${what}`);
}

export interface ReceivedCallback {
  channel_id: string;
  content_type: string;
  body: string;
}

/**
 * Stands in for paycore's `POST /callbacks/channels/:channel_id` until it exists: a 127.0.0.1
 * server that records what the sandbox POSTs and answers 200.
 */
export async function startCallbackReceiver(): Promise<{ url: string; received: ReceivedCallback[]; close(): Promise<void> }> {
  const received: ReceivedCallback[] = [];
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      received.push({ channel_id: (request.url ?? "").split("/").pop() ?? "", content_type: request.headers["content-type"] ?? "", body });
      response.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  const url = await listen(server);
  return { url, received, close: () => closeServer(server) };
}

export type Tamper = (text: string) => string;

/**
 * A man in the middle between an adapter and the sandbox: forwards requests and answers, and can
 * rewrite either on the way. It remembers the last request and answer it forwarded.
 */
export async function startTamperingProxy(target: string): Promise<{
  url: string;
  tamper_request: Tamper | null;
  tamper_response: Tamper | null;
  last_request: string | null;
  last_response: string | null;
  close(): Promise<void>;
}> {
  const state = {
    url: "",
    tamper_request: null as Tamper | null,
    tamper_response: null as Tamper | null,
    last_request: null as string | null,
    last_response: null as string | null,
    close: async () => {},
  };
  const server = createServer((request, response) => {
    void (async () => {
      const original = await readBody(request);
      const body = state.tamper_request ? state.tamper_request(original) : original;
      state.last_request = body;
      const upstream = await fetch(`${target}${request.url ?? ""}`, { method: "POST", headers: { "content-type": request.headers["content-type"] ?? "text/plain" }, body });
      const text = await upstream.text();
      const answer = state.tamper_response ? state.tamper_response(text) : text;
      state.last_response = text;
      response.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "text/plain" }).end(answer);
    })().catch(() => response.destroy());
  });
  state.url = await listen(server);
  state.close = () => closeServer(server);
  return state;
}

// --- test cards ------------------------------------------------------------------------------

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** A resident ID with a valid check character (ISO 7064 MOD 11-2), computed independently of the sandbox. */
export function residentId(serial: number): string {
  const body = `110101199003${String(1 + (serial % 28)).padStart(2, "0")}${String(serial % 1000).padStart(3, "0")}`;
  const sum = [...body].reduce((acc, d, i) => acc + Number(d) * ID_WEIGHTS[i]!, 0);
  return body + "10X98765432"[sum % 11]!;
}

export { luhnValid } from "../../src/kernel/checks.ts";

export interface SandboxCard {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  bank_code: string;
  bank_name: string;
  card_type: "debit" | "credit";
  unified: boolean;
  status: "normal" | "frozen" | "lost";
  balance: number;
  daily_limit: number;
  cvn2?: string;
  expiry?: string;
}

let card_serial = 0;

/** Adds a fresh test card to the sandbox (unique phone and ID per call). */
export async function addCard(sandbox: TestSandbox, fields: Partial<SandboxCard> & { bank_code?: string } = {}): Promise<SandboxCard> {
  card_serial += 1;
  const body = {
    holder_name: "测试持卡人", id_number: residentId(card_serial), phone: `1390${String(card_serial).padStart(7, "0")}`,
    bank_code: "ICBC", card_type: "debit", balance: 10_000_000, ...fields,
  };
  const response = await sandbox.send<SandboxCard>("POST", "/sandbox/v1/cards", body);
  if (response.status !== 201) throw new Error(`adding a card failed: ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function latestOtp(sandbox: TestSandbox, phone: string): Promise<string> {
  const response = await sandbox.get<{ data: { otp: string | null }[] }>(`/sandbox/v1/sms?phone=${phone}`);
  const otp = response.body.data.at(-1)?.otp;
  if (!otp) throw new Error(`no OTP for ${phone}`);
  return otp;
}
