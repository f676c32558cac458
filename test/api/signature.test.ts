import fc from "fast-check";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { echoRoutes } from "../support/echo-route.ts";

describe("Open API request signatures", () => {
  const clock = new ManualClock("2026-11-26T08:00:00Z");
  let app: TestApp;
  let a: Awaited<ReturnType<typeof createTestMerchant>>;
  let b: Awaited<ReturnType<typeof createTestMerchant>>;
  const now_s = () => Math.floor(clock.now().getTime() / 1000);

  beforeAll(async () => {
    app = await startTestApp({ label: "sig", clock, extra_routes: echoRoutes });
    a = await createTestMerchant(app);
    b = await createTestMerchant(app);
  });
  afterAll(async () => app.close());

  async function raw(method: string, path: string, authorization: string | undefined, body = "") {
    const res = await fetch(app.url + path, {
      method,
      headers: { ...(authorization ? { authorization } : {}), ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body } : {}),
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string; request_id: string } }, headers: res.headers };
  }

  it("accepts a correctly signed request and signs the answer", async () => {
    const res = await app.merchantClient(a.creds).get("/v1/balance");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pending: 0, available: 0, currency: "CNY" });
    expect(res.signature_valid).toBe(true);
    expect(res.headers.get("paycore-request-id")).toMatch(/^req_/);
  });

  it("rejects a wrong secret, a wrong key id and an unknown merchant alike", async () => {
    for (const creds of [
      { ...a.creds, secret: "sk_wrong" },
      { ...a.creds, key_id: b.creds.key_id },
      { ...a.creds, mch_id: "mch_01AAAAAAAAAAAAAAAAAAAAAAAA" },
    ]) {
      const res = await app.merchantClient(creds).get("/v1/balance");
      expect(res.status).toBe(401);
      expect((res.body as { error: { code: string } }).error.code).toBe("invalid_signature");
    }
  });

  it("rejects an altered body and an altered query", async () => {
    const body = JSON.stringify({ value: "x" });
    const signed = signRequest(a.creds, "POST", "/v1/test/echo", body, now_s(), "n-body-ok");
    expect((await raw("POST", "/v1/test/echo", signed, body)).status).toBe(201);
    const auth = signRequest(a.creds, "POST", "/v1/test/echo", body, now_s(), "n-altered");
    const res = await raw("POST", "/v1/test/echo", auth, body.replace("x", "y"));
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe("invalid_signature");
    const auth2 = signRequest(a.creds, "GET", "/v1/balance?x=1", "", now_s(), "n-altered-2");
    const res2 = await raw("GET", "/v1/balance?x=2", auth2);
    expect(res2.status).toBe(401);
    expect(res2.body.error?.code).toBe("invalid_signature");
  });

  it("rejects stale and future timestamps beyond 300 s, accepts within", async () => {
    for (const [offset, ok] of [[-301, false], [301, false], [-299, true], [299, true]] as const) {
      const auth = signRequest(a.creds, "GET", "/v1/balance", "", now_s() + offset, `ts-${offset}`);
      const res = await raw("GET", "/v1/balance", auth);
      expect(res.status, `offset ${offset}`).toBe(ok ? 200 : 401);
      if (!ok) expect(res.body.error?.code).toBe("invalid_signature");
    }
  });

  it("rejects a replayed nonce with replayed_request, per merchant ID, and forgets it after 15 minutes", async () => {
    const auth = signRequest(a.creds, "GET", "/v1/balance", "", now_s(), "nonce-replay");
    expect((await raw("GET", "/v1/balance", auth)).status).toBe(200);
    const again = await raw("GET", "/v1/balance", auth);
    expect(again.status).toBe(401);
    expect(again.body.error?.code).toBe("replayed_request");
    // The same nonce is fine for another merchant ID.
    expect((await raw("GET", "/v1/balance", signRequest(b.creds, "GET", "/v1/balance", "", now_s(), "nonce-replay"))).status).toBe(200);
    clock.advance(16 * 60 * 1000);
    const later = signRequest(a.creds, "GET", "/v1/balance", "", now_s(), "nonce-replay");
    expect((await raw("GET", "/v1/balance", later)).status).toBe(200);
  });

  it("rejects missing and malformed Authorization headers with invalid_signature, never a 5xx", async () => {
    for (const header of [undefined, "Bearer abc", "PAYCORE-HMAC-SHA256 garbage", 'PAYCORE-HMAC-SHA256 mch_id="x"', `PAYCORE-HMAC-SHA256 mch_id="${a.creds.mch_id}",key_id="k",timestamp="abc",nonce="n",signature="s"`]) {
      const res = await raw("GET", "/v1/balance", header);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe("invalid_signature");
      expect(res.body.error?.request_id).toMatch(/^req_/);
    }
  });

  it("refuses duplicate and unknown Authorization parameters, even when the signature itself verifies", async () => {
    const valid = (nonce: string) => signRequest(a.creds, "GET", "/v1/balance", "", now_s(), nonce);
    const params = (header: string) => header.slice("PAYCORE-HMAC-SHA256 ".length);
    const cases = [
      // A second mch_id in front: a last-wins parser reads the signer's, another reader the first.
      (n: string) => `PAYCORE-HMAC-SHA256 mch_id="${b.creds.mch_id}",${params(valid(n))}`,
      // The same parameter twice with the same value.
      (n: string) => `${valid(n)},key_id="${a.creds.key_id}"`,
      // A parameter the scheme does not have.
      (n: string) => `${valid(n)},realm="paycore"`,
      (n: string) => `PAYCORE-HMAC-SHA256 version="2",${params(valid(n))}`,
      // An empty parameter (trailing comma).
      (n: string) => `${valid(n)},`,
    ];
    for (const [i, make] of cases.entries()) {
      const header = make(`strict-${i}`);
      const res = await raw("GET", "/v1/balance", header);
      expect(res.status, header).toBe(401);
      expect(res.body.error?.code).toBe("invalid_signature");
    }
    // The same requests without the extra parameter are fine: the refusal is the parser's.
    expect((await raw("GET", "/v1/balance", valid("strict-control"))).status).toBe(200);
  });

  it("refuses a request that carries two Authorization headers", async () => {
    const first = signRequest(a.creds, "GET", "/v1/balance", "", now_s(), "two-headers-1");
    const second = signRequest(b.creds, "GET", "/v1/balance", "", now_s(), "two-headers-2");
    const { port } = new URL(app.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(`GET /v1/balance HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${first}\r\nauthorization: ${second}\r\nconnection: close\r\n\r\n`);
      });
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer.split("\r\n")[0]).toBe("HTTP/1.1 401 Unauthorized");
    expect(answer).toContain('"code":"invalid_signature"');
  });

  it("answers every signature failure alike: one code, one message, no server clock in it", async () => {
    const header = (creds: typeof a.creds, ts: number, nonce: string) => signRequest(creds, "GET", "/v1/balance", "", ts, nonce);
    const failures: Record<string, string | undefined> = {
      missing: undefined,
      other_scheme: "Bearer abcdefghijklmnopqrstuvwxyz",
      malformed: "PAYCORE-HMAC-SHA256 garbage",
      missing_params: 'PAYCORE-HMAC-SHA256 mch_id="x"',
      bad_timestamp: `PAYCORE-HMAC-SHA256 mch_id="${a.creds.mch_id}",key_id="k",timestamp="abc",nonce="n",signature="s"`,
      unknown_merchant: header({ ...a.creds, mch_id: "mch_01AAAAAAAAAAAAAAAAAAAAAAAA" }, now_s(), "alike-1"),
      unknown_key: header({ ...a.creds, key_id: "key_01AAAAAAAAAAAAAAAAAAAAAAAA" }, now_s(), "alike-2"),
      other_merchants_key: header({ ...a.creds, key_id: b.creds.key_id }, now_s(), "alike-3"),
      wrong_secret: header({ ...a.creds, secret: "sk_wrong" }, now_s(), "alike-4"),
      stale: header(a.creds, now_s() - 3_600, "alike-5"),
      future: header(a.creds, now_s() + 86_400, "alike-6"),
      unknown_param: `${header(a.creds, now_s(), "alike-7")},realm="x"`,
      duplicate_param: `${header(a.creds, now_s(), "alike-8")},nonce="alike-8"`,
    };
    const answers = new Map<string, { status: number; code: string | undefined; message: string | undefined }>();
    for (const [name, h] of Object.entries(failures)) {
      const res = await raw("GET", "/v1/balance", h);
      answers.set(name, { status: res.status, code: res.body.error?.code, message: res.body.error?.message });
    }
    const first = answers.get("missing")!;
    expect(first.status).toBe(401);
    expect(first.code).toBe("invalid_signature");
    for (const [name, answer] of answers) expect(answer, name).toEqual(first);
    // Neither the server's time nor a distance from it: 3600 s and 86400 s stale/future answer the same text.
    const server_s = String(now_s());
    expect(first.message).not.toContain(server_s.slice(0, 6));
    expect(first.message).not.toMatch(/\d{3,}/);
    expect(first.message).not.toMatch(/clock \(|away from|server clock/i);
  });

  it("answers merchant_suspended for a suspended merchant ID and for the stores of a suspended parent", async () => {
    const sub = await createTestMerchant(app, { parent_merchant_id: a.creds.mch_id, settlement: { mode: "parent" } }, a.entity_id);
    expect((await app.admin("PATCH", `/admin/v1/merchants/${a.creds.mch_id}`, { status: "suspended" })).status).toBe(200);
    for (const creds of [a.creds, sub.creds]) {
      const res = await app.merchantClient(creds).get("/v1/balance");
      expect(res.status).toBe(403);
      expect((res.body as { error: { code: string } }).error.code).toBe("merchant_suspended");
    }
    expect((await app.admin("PATCH", `/admin/v1/merchants/${a.creds.mch_id}`, { status: "active" })).status).toBe(200);
    expect((await app.merchantClient(sub.creds).get("/v1/balance")).status).toBe(200);
  });

  it("breaks the signature on any change of method, path, body, timestamp or nonce (property)", async () => {
    const base = { method: "POST", path: "/v1/balance?x=1", body: '{"amount":100}', timestamp: now_s(), nonce: "abcdef" };
    const sign = (p: typeof base) => /signature="([^"]+)"/.exec(signRequest(a.creds, p.method, p.path, p.body, p.timestamp, p.nonce))![1];
    const reference = sign(base);
    const fields = ["method", "path", "body", "nonce"] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields, "timestamp" as const), fc.nat(), fc.integer({ min: 1, max: 255 }), (field, position, delta) => {
        const changed = { ...base };
        if (field === "timestamp") changed.timestamp = base.timestamp + delta;
        else {
          const text = base[field];
          const i = position % text.length;
          const code = (text.charCodeAt(i) + delta) % 256;
          changed[field] = text.slice(0, i) + String.fromCharCode(code === text.charCodeAt(i) ? (code + 1) % 256 : code) + text.slice(i + 1);
        }
        expect(sign(changed)).not.toBe(reference);
      }),
      { numRuns: 500, seed: 20261126 },
    );
    // And the server agrees for a sample of them: a byte change in the path is rejected.
    const auth = signRequest(a.creds, "GET", "/v1/balance", "", now_s(), "prop-sample");
    expect((await raw("GET", "/v1/balancf", auth)).status).toBe(404);
    expect((await raw("GET", "/v1/balance?a=1", auth)).status).toBe(401);
  });
});
