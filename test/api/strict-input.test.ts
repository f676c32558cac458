import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { rawMerchantRequest, rawRequest } from "../support/raw.ts";

type ErrorBody = { error: { code: string; message: string; field?: string } };

/**
 * Request input is checked in one place (src/api/request-input.ts) before any route sees it:
 * duplicate JSON keys, nesting past 64 levels and the NUL character anywhere (body, query, path)
 * answer 400 invalid_request naming the field, on merchant and admin endpoints alike.
 */
describe("strict request input", () => {
  let app: TestApp;
  let m: Awaited<ReturnType<typeof createTestMerchant>>;
  const now_s = () => Math.floor(app.ctx.clock.now().getTime() / 1000);
  const admin = (method: string, path: string, body?: string) =>
    rawRequest(app.url, {
      method,
      path,
      headers: { authorization: `Bearer ${app.admin_token}`, ...(body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
  const merchant = (method: string, path: string, body?: string) => rawMerchantRequest(app.url, m.creds, now_s(), { method, path, ...(body !== undefined ? { body } : {}) });
  const expectRefused = (res: { status: number; body: ErrorBody }, field: string, message: RegExp) => {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.field).toBe(field);
    expect(res.body.error.message).toMatch(message);
  };

  beforeAll(async () => {
    app = await startTestApp({ label: "strictin" });
    m = await createTestMerchant(app);
  });
  afterAll(async () => app.close());

  it("refuses duplicate JSON keys on merchant and admin endpoints, naming the key path", async () => {
    const before = await app.ctx.db.selectFrom("entities").select((e) => e.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    const dup_admin = await admin("POST", "/admin/v1/entities", '{"legal_name":"A Co., Ltd.","legal_name":"B Co., Ltd.","uscc":"x"}');
    expectRefused(dup_admin, "legal_name", /^legal_name: duplicate key$/);
    const dup_nested = await merchant("POST", "/v1/payments", '{"out_trade_no":"dup-1","amount":100,"metadata":{"a":"1","a":"2"}}');
    expectRefused(dup_nested, "metadata.a", /^metadata\.a: duplicate key$/);
    const dup_top = await merchant("POST", "/v1/payments", '{"amount":100,"amount":200}');
    expectRefused(dup_top, "amount", /duplicate key/);
    // The same key in sibling objects is not a duplicate.
    const siblings = await admin("POST", "/admin/v1/entities", '{"x":{"a":1},"y":{"a":2}}');
    expect(siblings.status).toBe(400);
    expect(siblings.body.error.message).not.toMatch(/duplicate/);
    const after = await app.ctx.db.selectFrom("entities").select((e) => e.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it("refuses JSON nested deeper than 64 levels", async () => {
    const deep = (n: number) => `{"metadata":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`;
    expectRefused(await merchant("POST", "/v1/payments", deep(65)), "body", /^body: nested deeper than 64 levels$/);
    expectRefused(await admin("POST", "/admin/v1/entities", "[".repeat(5000) + "]".repeat(5000)), "body", /nested deeper than 64 levels/);
    // 64 levels is still parsed (and refused by the schema for other reasons, not for depth).
    const ok_depth = await merchant("POST", "/v1/payments", deep(64));
    expect(ok_depth.status).toBe(400);
    expect(ok_depth.body.error.message).not.toMatch(/nested/);
  });

  it("refuses the NUL character in body strings and keys, naming the field", async () => {
    expectRefused(await merchant("POST", "/v1/payments", '{"out_trade_no":"n-1","description":"a\\u0000b"}'), "description", /^description: must not contain the NUL character/);
    expectRefused(await merchant("POST", "/v1/payments", '{"metadata":{"k":["x","y\\u0000"]}}'), "metadata.k.1", /NUL/);
    expectRefused(await merchant("POST", "/v1/payments", '{"metadata":{"k\\u0000":"v"}}'), "metadata.k\u0000", /NUL/);
    expectRefused(await admin("POST", "/admin/v1/entities", '{"legal_name":"A\\u0000 Co."}'), "legal_name", /NUL/);
  });

  it("refuses the NUL character in path parameters and query parameters (answered 500 before)", async () => {
    expectRefused(await merchant("GET", "/v1/payments/pay_%00"), "path.payment_id", /^path\.payment_id: must not contain the NUL character/);
    expectRefused(await merchant("GET", "/v1/payments?cursor=%00"), "query.cursor", /^query\.cursor: must not contain the NUL character/);
    expectRefused(await merchant("GET", "/v1/payments?cursor=a&cursor=b%00"), "query.cursor", /NUL/);
    expectRefused(await admin("GET", `/admin/v1/merchants/${m.merchant.merchant_id as string}%00`), "path.merchant_id", /NUL/);
    expectRefused(await admin("GET", "/admin/v1/payments?cursor=x%00y"), "query.cursor", /NUL/);
    expectRefused(await admin("GET", "/admin/v1/payments?a%00=1"), "query.a\u0000", /NUL/);
  });

  it("still accepts ordinary input", async () => {
    const res = await merchant("GET", "/v1/payments?limit=5");
    expect(res.status).toBe(200);
    const ent = await admin("GET", `/admin/v1/merchants/${m.merchant.merchant_id as string}`);
    expect(ent.status).toBe(200);
  });
});
