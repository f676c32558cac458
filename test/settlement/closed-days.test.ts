import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/** Beijing wall-clock time as an instant. */
const bj = (local: string) => new Date(`${local}+08:00`);

/**
 * Issue 16, point 2: a settlement run for a date that has not begun paid money early. A run for
 * settlement date X is refused until the business day before X has closed (X − 1's cut-off).
 */
describe("a settlement run waits until its date has begun", () => {
  const clock = new ManualClock(bj("2026-05-04T10:00:00")); // Monday
  let app: TestApp;
  let t1: PaycoreClient, t2: PaycoreClient;
  let t1_id = "", t2_id = "";
  const previous_sandbox_url = process.env.SANDBOX_URL;

  beforeAll(async () => {
    app = await startTestApp({ label: "stlgate", clock, sandbox: true });
    process.env.SANDBOX_URL = app.sandbox!.url;
    const a = await createTestMerchant(app, { name: "T+1 shop" });
    const b = await createTestMerchant(app, { name: "T+2 shop", settlement: { mode: "own", cycle_days: 2, account: { account_name: "T2 Co.", account_number: "6222020200198765432", bank_code: "102290000012" } } });
    [t1, t2] = [app.merchantClient(a.creds), app.merchantClient(b.creds)];
    [t1_id, t2_id] = [a.merchant.merchant_id, b.merchant.merchant_id];
    const cards = await catalogue(app);
    const card1 = pickCard(cards, { unified: true });
    const card2 = pickCard(cards, { unified: true, skip: [card1.card_number] });
    const pay1 = await t1.post<Json>("/v1/payments", { out_trade_no: "g-1", agreement_id: await signCard(app, t1, card1, "g-s1"), amount: 10_000, currency: "CNY", description: "tea" });
    const pay2 = await t2.post<Json>("/v1/payments", { out_trade_no: "g-2", agreement_id: await signCard(app, t2, card2, "g-s2"), amount: 20_000, currency: "CNY", description: "cake" });
    expect([pay1.body.status, pay2.body.status]).toEqual(["succeeded", "succeeded"]);
  });
  afterAll(async () => {
    if (previous_sandbox_url === undefined) delete process.env.SANDBOX_URL;
    else process.env.SANDBOX_URL = previous_sandbox_url;
    await app.close();
  });

  const records = async (date: string) => (await app.admin("GET", `/admin/v1/settlements?date=${date}`)).body.data as { merchant_id: string; covers_through: string; net: number }[];

  it("a run for today is accepted: the T+1 shop gets Monday's money on Tuesday, the T+2 shop waits", async () => {
    clock.set(bj("2026-05-05T10:00:00")); // Tuesday
    const run = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-05" });
    expect(run.status).toBe(200);
    expect((await records("2026-05-05")).map((r) => [r.merchant_id, r.covers_through, r.net])).toEqual([[t1_id, "2026-05-04", 9_940]]);
    expect((await t2.get<Json>("/v1/balance")).body).toEqual({ pending: 19_880, available: 0, currency: "CNY" });
  });

  it("a run for tomorrow answers 422 business_day_not_closed with the close time, and settles nothing", async () => {
    const tomorrow = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-06" });
    expect(tomorrow.status).toBe(422);
    expect(tomorrow.body.error.code).toBe("business_day_not_closed");
    expect(tomorrow.body.error.message).toContain("settlement date 2026-05-06 has not begun: business day 2026-05-05 closes at 2026-05-05 23:00 Beijing time (2026-05-05T15:00:00.000Z)");
    clock.set(new Date(bj("2026-05-05T23:00:00").getTime() - 1)); // the last instant of Tuesday
    const last_instant = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-06" });
    expect(last_instant.body.error?.code).toBe("business_day_not_closed");
    // The T+2 shop's Monday money would have matured for Wednesday: it is still pending, unpaid.
    expect(await records("2026-05-06")).toEqual([]);
    expect((await t2.get<Json>("/v1/balance")).body).toEqual({ pending: 19_880, available: 0, currency: "CNY" });
    const audit = await app.admin("GET", "/admin/v1/audit-log?target_id=2026-05-06");
    expect(audit.body.data).toEqual([]);
  });

  it("at Tuesday's close the run for Wednesday is accepted and pays the T+2 shop its Monday money", async () => {
    clock.set(bj("2026-05-05T23:00:00"));
    const run = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-06" });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ records_created: 1, payouts_created: 1, amount_instructed: 19_880 });
    expect((await records("2026-05-06")).map((r) => [r.merchant_id, r.covers_through, r.net])).toEqual([[t2_id, "2026-05-04", 19_880]]);
    expect((await t2.get<Json>("/v1/balance")).body).toEqual({ pending: 0, available: 0, currency: "CNY" });
  });

  it("the OpenAPI document lists business_day_not_closed for the run", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>> };
    expect(doc.paths["/admin/v1/settlements/run"]!.post!.responses["422"]!.description).toContain("business_day_not_closed");
  });
});
