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

/**
 * Issue 16, point 3: moving the cut-off later re-opened a settled day (new payments fell into it).
 * The cut-off is a history; a change applies from the next open day, so day D, closed and settled,
 * reads exactly as before, byte for byte, through every answer that shows it.
 */
describe("moving the cut-off never changes a closed or settled day", () => {
  const clock = new ManualClock(bj("2026-05-11T10:00:00")); // Monday
  const D = "2026-05-11";
  let app: TestApp;
  let shop: PaycoreClient;
  let shop_id = "";
  let agreement = "";
  const previous_sandbox_url = process.env.SANDBOX_URL;

  beforeAll(async () => {
    app = await startTestApp({ label: "stlcutoff", clock, sandbox: true });
    process.env.SANDBOX_URL = app.sandbox!.url;
    const m = await createTestMerchant(app, { name: "D+0 shop", settlement: { mode: "own", cycle_days: 0, account: { account_name: "D0 Co.", account_number: "6222020200155554444", bank_code: "102290000012" } } });
    shop = app.merchantClient(m.creds);
    shop_id = m.merchant.merchant_id;
    agreement = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "c-s1");
  });
  afterAll(async () => {
    if (previous_sandbox_url === undefined) delete process.env.SANDBOX_URL;
    else process.env.SANDBOX_URL = previous_sandbox_url;
    await app.close();
  });

  const pay = async (out_trade_no: string, at: Date) => {
    clock.set(at);
    const res = await shop.post<Json>("/v1/payments", { out_trade_no, agreement_id: agreement, amount: 10_000, currency: "CNY", description: "tea" });
    expect(res.body.status).toBe("succeeded");
    const journal = await app.admin("GET", `/admin/v1/ledger/journal?reference_id=${res.body.payment_id as string}`);
    return journal.body.data[0].business_date as string;
  };
  /** Every answer that shows day D, as the exact text served (JSON as it came over the wire). */
  const dayD = async () => {
    const text = async (path: string) => JSON.stringify((await app.admin("GET", path)).body);
    return {
      statement: (await shop.get<string>(`/v1/statements?date=${D}`)).text,
      merchant_records: (await shop.get<Json>(`/v1/settlements?date=${D}`)).text,
      admin_records: await text(`/admin/v1/settlements?date=${D}`),
      payouts: await text(`/admin/v1/settlement-payouts?date=${D}`),
      journal: await text(`/admin/v1/ledger/journal?merchant_id=${shop_id}&business_date_from=${D}&business_date_to=${D}`),
    };
  };

  it("settle D, move the cut-off from 23:00 to 23:30, pay at 23:10: D reads byte for byte as before", async () => {
    expect(await pay("c-1", bj(`${D}T10:00:00`))).toBe(D);
    clock.set(bj(`${D}T23:05:00`)); // D closed at 23:00
    const run = await app.admin("POST", "/admin/v1/settlements/run", { date: D });
    expect(run.body).toMatchObject({ records_created: 1, payouts_created: 1, amount_instructed: 9_940 });
    const before = await dayD();
    expect(before.statement).toMatch(/^payment,/m);
    expect(JSON.parse(before.merchant_records).data).toEqual([expect.objectContaining({ settlement_date: D, net: 9_940, status: "paid" })]);

    clock.set(bj(`${D}T23:06:00`)); // business day 2026-05-12 is open: the change starts on the 13th
    const moved = await app.admin("PATCH", "/admin/v1/settlement-calendar", { cutoff: "23:30" });
    expect(moved.status).toBe(200);
    expect(moved.body).toEqual({
      cutoff: "23:00",
      cutoff_history: [
        { effective_from: "1970-01-01", cutoff: "23:00" },
        { effective_from: "2026-05-13", cutoff: "23:30" },
      ],
      holidays: [],
      working_days: [],
    });
    expect(await pay("c-2", bj(`${D}T23:10:00`))).toBe("2026-05-12"); // before the change: D
    const again = await app.admin("POST", "/admin/v1/settlements/run", { date: D });
    expect(again.body).toMatchObject({ records_created: 0, payouts_created: 0 });
    expect(await dayD()).toEqual(before);
  });

  it("the new cut-off holds from the next open day on, and only from then", async () => {
    expect(await pay("c-3", bj("2026-05-12T23:10:00"))).toBe("2026-05-13"); // the 12th keeps 23:00
    expect(await pay("c-4", bj("2026-05-13T23:10:00"))).toBe("2026-05-13"); // the 13th closes at 23:30
    expect((await app.admin("GET", "/admin/v1/settlement-calendar")).body).toMatchObject({ cutoff: "23:30" });
    clock.set(bj("2026-05-13T23:29:00"));
    const early = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-14" });
    expect(early.body.error.message).toContain("business day 2026-05-13 closes at 2026-05-13 23:30 Beijing time (2026-05-13T15:30:00.000Z)");
    const open = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-13" });
    expect(open.body).toMatchObject({ records_created: 0, not_closed: 1 });
    expect(await pay("c-5", bj("2026-05-13T23:30:00"))).toBe("2026-05-14");
    const closed = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-13" });
    expect(closed.body).toMatchObject({ records_created: 1 });
    const records = (await shop.get<Json>("/v1/settlements?date=2026-05-13")).body.data as { gross: number; covers_through: string }[];
    expect(records.map((r) => [r.gross, r.covers_through])).toEqual([[30_000, "2026-05-13"]]); // c-2, c-3, c-4; not c-5
  });
});
