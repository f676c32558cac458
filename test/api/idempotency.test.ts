import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepExpired } from "../../src/api/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { echoEffects, echoRoutes } from "../support/echo-route.ts";

type Echo = { value: string; effect: number; request_id: string };

describe("Idempotency-Key", () => {
  const clock = new ManualClock("2026-11-26T08:00:00Z");
  let app: TestApp;
  let m: Awaited<ReturnType<typeof createTestMerchant>>;
  const effects = () => echoEffects.get(m.creds.mch_id) ?? 0;

  beforeAll(async () => {
    app = await startTestApp({ label: "idem", clock, extra_routes: echoRoutes });
    m = await createTestMerchant(app);
  });
  afterAll(async () => app.close());

  it("replays the first answer, status and body, with Idempotent-Replayed", async () => {
    const client = app.merchantClient(m.creds);
    const before = effects();
    const first = await client.post<Echo>("/v1/test/echo", { value: "a" }, { "idempotency-key": "k-replay" });
    const second = await client.post<Echo>("/v1/test/echo", { value: "a" }, { "idempotency-key": "k-replay" });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.status).toBe(201);
    expect(second.text).toBe(first.text);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.signature_valid).toBe(true);
    expect(effects()).toBe(before + 1);
  });

  it("answers idempotency_conflict for the same key with another body", async () => {
    const client = app.merchantClient(m.creds);
    await client.post("/v1/test/echo", { value: "b" }, { "idempotency-key": "k-conflict" });
    const res = await client.post<{ error: { code: string } }>("/v1/test/echo", { value: "c" }, { "idempotency-key": "k-conflict" });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("idempotency_conflict");
  });

  it("keys are per merchant ID", async () => {
    const other = await createTestMerchant(app);
    const a = await app.merchantClient(m.creds).post<Echo>("/v1/test/echo", { value: "x" }, { "idempotency-key": "k-shared" });
    const b = await app.merchantClient(other.creds).post<Echo>("/v1/test/echo", { value: "y" }, { "idempotency-key": "k-shared" });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.value).toBe("y");
  });

  it("two concurrent requests with one key produce one effect and the same answer", async () => {
    const client = app.merchantClient(m.creds);
    const before = effects();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => client.post<Echo>("/v1/test/echo", { value: "c", delay_ms: 150 }, { "idempotency-key": "k-concurrent" })),
    );
    expect(effects()).toBe(before + 1);
    for (const r of results) {
      expect(r.status).toBe(201);
      expect(r.body.effect).toBe(results[0]!.body.effect);
    }
    expect(results.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(4);
  });

  it("stores a business error answer and replays it", async () => {
    const client = app.merchantClient(m.creds);
    const first = await client.post<{ error: { code: string } }>("/v1/test/echo", { value: "e", fail: "limit" }, { "idempotency-key": "k-error" });
    const second = await client.post<{ error: { code: string } }>("/v1/test/echo", { value: "e", fail: "limit" }, { "idempotency-key": "k-error" });
    expect(first.status).toBe(422);
    expect(second.status).toBe(422);
    expect(second.text).toBe(first.text);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
  });

  it("does not keep a 5xx: the retry runs again", async () => {
    const client = app.merchantClient(m.creds);
    const first = await client.post<{ error: { code: string } }>("/v1/test/echo", { value: "i", fail: "internal" }, { "idempotency-key": "k-5xx" });
    expect(first.status).toBe(500);
    expect(first.body.error.code).toBe("internal");
    const retry = await client.post<{ error: { code: string } }>("/v1/test/echo", { value: "i", fail: "internal" }, { "idempotency-key": "k-5xx" });
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });

  it("keys expire after 24 h and are swept", async () => {
    const client = app.merchantClient(m.creds);
    const first = await client.post<Echo>("/v1/test/echo", { value: "t" }, { "idempotency-key": "k-expiry" });
    clock.advance(24 * 3600 * 1000 + 1000);
    const swept = await sweepExpired(app.ctx);
    expect(swept.idempotency_keys).toBeGreaterThan(0);
    const again = await client.post<Echo>("/v1/test/echo", { value: "t" }, { "idempotency-key": "k-expiry" });
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(again.body.effect).toBe(first.body.effect + 1);
  });

  it("rejects an unusable key", async () => {
    const res = await app.merchantClient(m.creds).post<{ error: { code: string } }>("/v1/test/echo", { value: "x" }, { "idempotency-key": "k".repeat(129) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });
});
