import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, publicUrlWarning } from "../../src/config.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { rawMerchantRequest } from "../support/raw.ts";
import { catalogue, smsFor } from "../payments/helpers.ts";

/** Issue 8.2: every absolute link comes from PAYCORE_PUBLIC_URL, never from a request's Host. */
describe("PAYCORE_PUBLIC_URL: campaign links never come from the Host header", () => {
  const clock = new ManualClock("2026-11-26T08:00:00Z");
  let app: TestApp;
  let unset: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "pubu", clock, sandbox: true, public_url: "https://pay.example.com" });
    unset = await startTestApp({ label: "pubu0", clock, public_url: null });
  });
  afterAll(async () => {
    await app.close();
    await unset.close();
  });

  it("a forged Host does not reach the SMS sent to cardholders", async () => {
    const { creds } = await createTestMerchant(app);
    const card = (await catalogue(app))[0]!;
    const body = JSON.stringify({ out_campaign_no: "host-1", invitations: [{ user_ref: "u1", holder_name: card.holder_name, phone: card.phone }] });
    const now_s = Math.floor(clock.now().getTime() / 1000);
    const res = await rawMerchantRequest(app.url, creds, now_s, { method: "POST", path: "/v1/agreement-campaigns", body, headers: { host: "evil.example" } });
    expect(res.status, res.text).toBe(201);
    const texts = (await smsFor(app, card.phone)).map((m) => m.text).join("\n");
    expect(texts).toContain("https://pay.example.com/sign/");
    expect(texts).not.toContain("evil.example");
  });

  it("without a public URL campaigns are refused with a clear error, and nothing is created", async () => {
    const { creds } = await createTestMerchant(unset);
    const client = unset.merchantClient(creds);
    const res = await client.post<{ error: { code: string; message: string } }>("/v1/agreement-campaigns", {
      out_campaign_no: "nourl-1",
      invitations: [{ user_ref: "u1", holder_name: "张三", phone: "13800138000" }],
    });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("service_unavailable");
    expect(res.body.error.message).toContain("PAYCORE_PUBLIC_URL");
    expect(await unset.ctx.db.selectFrom("agreement_campaigns").select("campaign_id").execute()).toEqual([]);
  });

  it("the OpenAPI document names the public URL as its server", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`, { headers: { host: "evil.example" } })).json()) as { servers?: { url: string }[] };
    expect(doc.servers?.[0]?.url).toBe("https://pay.example.com");
  });

  it("config: a plain base URL only; plain http off this machine is warned about", () => {
    expect(loadConfig({ PAYCORE_PUBLIC_URL: "https://pay.example.com/" }).public_url).toBe("https://pay.example.com");
    for (const bad of ["https://user:pw@pay.example.com", "https://pay.example.com/?next=x", "ftp://pay.example.com"]) {
      expect(() => loadConfig({ PAYCORE_PUBLIC_URL: bad }), bad).toThrow(/PAYCORE_PUBLIC_URL/);
    }
    expect(publicUrlWarning(null)).toMatch(/not set/);
    expect(publicUrlWarning("http://pay.example.com")).toMatch(/plain http/);
    expect(publicUrlWarning("http://10.0.0.5:3000")).toMatch(/plain http/);
    expect(publicUrlWarning("http://127.0.0.1:3000")).toBeNull();
    expect(publicUrlWarning("http://localhost:3000")).toBeNull();
    expect(publicUrlWarning("https://pay.example.com")).toBeNull();
  });
});
