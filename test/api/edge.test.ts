import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { echoRoutes } from "../support/echo-route.ts";

describe("the HTTP edge: errors, limits, OpenAPI, docs, health, logs", () => {
  let app: TestApp;
  let m: Awaited<ReturnType<typeof createTestMerchant>>;

  beforeAll(async () => {
    app = await startTestApp({ label: "edge", extra_routes: echoRoutes, settings: { rate_limit_per_minute: 30, body_limit_bytes: 4096 } });
    m = await createTestMerchant(app);
  });
  afterAll(async () => app.close());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(app.url + path, { method: "POST", headers: { authorization: `Bearer ${app.admin_token}`, "content-type": "application/json", ...headers }, body });

  it("answers /healthz when the database answers", async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: "ok" });
  });

  it("publishes OpenAPI 3.1 generated from the request schemas", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: { "application/json": { schema: { properties: Record<string, unknown>; required: string[] } } } } }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    const create = doc.paths["/admin/v1/merchants"]!.post!.requestBody!.content["application/json"].schema;
    expect(Object.keys(create.properties)).toEqual(expect.arrayContaining(["entity_id", "parent_merchant_id", "products", "settlement", "limits"]));
    expect(create.required).toEqual(expect.arrayContaining(["entity_id", "name", "products", "settlement"]));
    expect(doc.paths["/v1/balance"]!.get).toBeDefined();
    expect(doc.paths["/admin/v1/merchants/{merchant_id}"]!.patch).toBeDefined();
  });

  it("serves a readable /docs page", async () => {
    const res = await fetch(`${app.url}/docs`);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("Signing a request");
    expect(html).toContain("/admin/v1/merchants");
  });

  it("answers bad JSON, wrong content type and oversize bodies with 400 invalid_request", async () => {
    const bad = await post("/admin/v1/entities", "{not json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    const text = await post("/admin/v1/entities", "legal_name=x", { "content-type": "application/x-www-form-urlencoded" });
    expect(text.status).toBe(400);
    const big = await post("/admin/v1/entities", JSON.stringify({ legal_name: "x".repeat(5000), uscc: "1" }));
    expect(big.status).toBe(400);
    const body = (await big.json()) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.request_id).toMatch(/^req_/);
  });

  it("answers an unknown route with 404 not_found", async () => {
    const res = await fetch(`${app.url}/v1/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("never answers bad input of any shape with a 5xx (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.string({ maxLength: 200 })), fc.constantFrom("/admin/v1/entities", "/admin/v1/merchants", "/admin/v1/operators"), async (body, path) => {
        const res = await post(path, body);
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 150, seed: 7 },
    );
    await fc.assert(
      fc.asyncProperty(fc.json(), async (body) => {
        const res = await app.merchantClient(m.creds).post("/v1/test/echo", body);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 25, seed: 11 },
    );
  });

  it("rate-limits per merchant ID with rate_limited", async () => {
    const limited = await createTestMerchant(app);
    const other = await createTestMerchant(app);
    const client = app.merchantClient(limited.creds);
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await client.get("/v1/balance")).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(4);
    const res = await client.get<{ error: { code: string } }>("/v1/balance");
    expect(res.body.error.code).toBe("rate_limited");
    expect((await app.merchantClient(other.creds).get("/v1/balance")).status).toBe(200);
  });

  it("logs one line per request without secrets, tokens, card numbers or phones", async () => {
    const before = app.log_lines.length;
    const card = "6222021234567890123";
    const phone = "13812345678";
    await app.merchantClient(m.creds).post("/v1/test/echo", { value: `card ${card} phone ${phone}` });
    await app.admin("GET", `/admin/v1/merchants?entity_id=${card}`);
    await fetch(`${app.url}/v1/nope?card=${card}`);
    const lines = app.log_lines.slice(before);
    expect(lines.filter((l) => l.includes('"msg":"request"'))).toHaveLength(3);
    const text = lines.join("\n");
    for (const secret of [card, phone, m.creds.secret, app.admin_token]) expect(text).not.toContain(secret);
  });
});
