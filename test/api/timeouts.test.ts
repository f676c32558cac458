import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { Settings } from "../../src/context.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { echoRoutes } from "../support/echo-route.ts";

/**
 * Slow clients are cut off (docs/security.md "Timeouts"): a raw socket sends the headers of a
 * POST, then its body one byte at a time. With a small timeout the server answers 408 or closes
 * the connection before the client has sent everything; without one, the whole body went through.
 * Nothing here asserts how fast the cut-off comes, only that it comes before the client is done.
 */
const BODY_BYTES = 40;
const DRIBBLE_INTERVAL_MS = 100;
const LONG_MS = 60_000;

interface Dribbled {
  /** Body bytes the client had written when the server answered or closed. */
  bytes_sent: number;
  /** The status line the server sent, if any. */
  status_line: string | null;
  answer: string;
  closed_by_server: boolean;
}

function dribble(url: string, options: { stop_after_bytes?: number } = {}): Promise<Dribbled> {
  const { port } = new URL(url);
  const body = `{"value":"${"x".repeat(BODY_BYTES - 12)}"}`;
  expect(body.length).toBe(BODY_BYTES);
  return new Promise((resolve) => {
    let bytes_sent = 0;
    let answer = "";
    let stopped_at: number | null = null;
    let closed_by_server = true;
    const socket = connect(Number(port), "127.0.0.1", () => {
      socket.write(`POST /v1/test/echo HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${BODY_BYTES}\r\nconnection: close\r\n\r\n`);
      tick();
    });
    // The guard: a server that never cuts off is seen as such after the whole body and 5 s more.
    const guard = setTimeout(() => {
      closed_by_server = false;
      socket.destroy();
    }, BODY_BYTES * DRIBBLE_INTERVAL_MS + 5_000);
    const tick = () => {
      if (socket.destroyed || answer || bytes_sent >= BODY_BYTES) return;
      if (options.stop_after_bytes !== undefined && bytes_sent >= options.stop_after_bytes) return;
      socket.write(body[bytes_sent]!);
      bytes_sent += 1;
      setTimeout(tick, DRIBBLE_INTERVAL_MS);
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      stopped_at ??= bytes_sent;
      answer += chunk;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(guard);
      resolve({ bytes_sent: stopped_at ?? bytes_sent, status_line: answer ? answer.split("\r\n")[0]! : null, answer, closed_by_server });
    });
  });
}

async function appWith(label: string, settings: Partial<Settings>): Promise<TestApp> {
  return startTestApp({ label, extra_routes: echoRoutes, settings: { connection_timeout_ms: LONG_MS, request_timeout_ms: LONG_MS, body_timeout_ms: LONG_MS, ...settings } });
}

describe("request timeouts: a slow-body client is cut off", () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it("reads the timeouts from PAYCORE_*_TIMEOUT_MS, with defaults, and refuses 0", () => {
    expect(loadConfig({})).toMatchObject({ connection_timeout_ms: 60_000, request_timeout_ms: 60_000, body_timeout_ms: 30_000 });
    const c = loadConfig({ PAYCORE_CONNECTION_TIMEOUT_MS: "1500", PAYCORE_REQUEST_TIMEOUT_MS: "2500", PAYCORE_BODY_TIMEOUT_MS: "500" });
    expect(c).toMatchObject({ connection_timeout_ms: 1500, request_timeout_ms: 2500, body_timeout_ms: 500 });
    expect(() => loadConfig({ PAYCORE_BODY_TIMEOUT_MS: "0" })).toThrow(/PAYCORE_BODY_TIMEOUT_MS/);
  });

  it("the body-read timeout answers 408 before the body is all sent", async () => {
    const app = await appWith("body-timeout", { body_timeout_ms: 300 });
    apps.push(app);
    const r = await dribble(app.url);
    expect(r.closed_by_server).toBe(true);
    expect(r.bytes_sent).toBeLessThan(BODY_BYTES);
    expect(r.status_line).toBe("HTTP/1.1 408 Request Timeout");
    expect(r.answer).toContain('"code":"invalid_request"');
    expect(r.answer).toContain("body not received in time");
  }, 120_000);

  it("the request timeout (Fastify requestTimeout) answers 408 or closes before the body is all sent", async () => {
    const app = await appWith("request-timeout", { request_timeout_ms: 400 });
    apps.push(app);
    const r = await dribble(app.url);
    expect(r.closed_by_server).toBe(true);
    expect(r.bytes_sent).toBeLessThan(BODY_BYTES);
    if (r.status_line !== null) expect(r.status_line).toBe("HTTP/1.1 408 Request Timeout");
  }, 120_000);

  describe("the connection timeout (Fastify connectionTimeout)", () => {
    let app: TestApp;
    let m: Awaited<ReturnType<typeof createTestMerchant>>;
    beforeAll(async () => {
      app = await appWith("connection-timeout", { connection_timeout_ms: 300 });
      apps.push(app);
      m = await createTestMerchant(app);
    });

    it("closes a connection that goes quiet in the middle of its body", async () => {
      const r = await dribble(app.url, { stop_after_bytes: 5 });
      expect(r.closed_by_server).toBe(true);
      expect(r.bytes_sent).toBe(5);
    });

    it("does not count paycore's own working time against the client", async () => {
      // The handler sleeps 1 s, longer than the 300 ms connection timeout: the answer still comes.
      const res = await app.merchantClient(m.creds).post("/v1/test/echo", { value: "slow", delay_ms: 1000 });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ value: "slow" });
    });
  });
});
