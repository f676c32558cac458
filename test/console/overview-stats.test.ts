import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CCB = "105100000017";

/**
 * GET /admin/v1/stats/overview (the console's overview) against payments, refunds and payouts
 * made through the live sandbox: exact counts and amounts per hour, per network and per rail,
 * and the period's bounds (from inclusive, to exclusive).
 */
describe("overview statistics", () => {
  const clock = new ManualClock("2026-12-01T02:10:00Z"); // a Tuesday, 10:10 in Beijing
  let app: TestApp;
  let shop: PaycoreClient;
  let merchant_id = "";
  let auditor = "";
  let n = 0;
  const paid: Json[] = [];
  let refund: Json;
  let payout: Json;

  const pay = async (agreement_id: string, amount: number) => {
    const res = await shop.post<Json>("/v1/payments", { out_trade_no: `ov-${++n}`, agreement_id, amount, currency: "CNY", description: "overview" });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    paid.push(res.body);
    return res.body;
  };
  const stats = (query: string, token?: string) => app.admin("GET", `/admin/v1/stats/overview?${query}`, undefined, token);

  beforeAll(async () => {
    app = await startTestApp({ label: "overview-stats", clock, sandbox: true });
    const legal_name = `上海概览科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: 500 }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    shop = app.merchantClient(m.creds);
    auditor = (await createOperator(app.ctx, { name: "aud", role: "auditor" })).token;
    const agreement_id = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "ov-sign");

    // 02:xx: two succeeded on NetsUnion, one declined, a refund of part of the first.
    expect(await pay(agreement_id, 10_000)).toMatchObject({ status: "succeeded", channel: "netsunion", fee: 60 });
    expect(await pay(agreement_id, 20_050)).toMatchObject({ status: "succeeded", channel: "netsunion", fee: 120 });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: "*", operation: "pay", kind: "decline", rate: 1, seed: 1 });
    expect(await pay(agreement_id, 7_000)).toMatchObject({ status: "failed" });
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    const r = await shop.post<Json>(`/v1/payments/${paid[0]!.payment_id}/refunds`, { out_refund_no: "ov-r1", amount: 2_500 });
    expect(r.body).toMatchObject({ status: "succeeded" });
    refund = r.body;

    // 03:30: NetsUnion off, the same agreement pays by UnionPay no-card; a payout and an alert.
    clock.set(new Date("2026-12-01T03:30:00Z"));
    expect((await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: false })).status).toBe(200);
    expect(await pay(agreement_id, 30_000)).toMatchObject({ status: "succeeded", channel: "unionpay_nocard", fee: 180 });
    expect((await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: true })).status).toBe(200);
    const deposit = await app.sandbox!.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", {
      merchant_id, amount: 1_000_000, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" },
    });
    expect(deposit.status).toBe(201);
    await waitFor(async () => (await shop.get<Json>("/v1/balance")).body.available >= 1_000_000);
    const po = await shop.post<Json>("/v1/payouts", {
      out_payout_no: "ov-po1", amount: 300_000, payee: { account_name: "上海某某贸易有限公司", account_number: "6222000012345678", bank_code: CCB }, purpose: "货款", urgency: "normal",
    });
    expect(po.status, JSON.stringify(po.body)).toBe(201);
    payout = po.body;
    const alert = await app.admin("POST", `/admin/v1/risk/merchants/${merchant_id}/actions`, { action: "alert", reason: "overview test" });
    expect(alert.status).toBe(200);

    // 05:00 exactly: outside a period that ends at 05:00.
    clock.set(new Date("2026-12-01T05:00:00Z"));
    await pay(agreement_id, 99_900);
  }, 120_000);
  afterAll(async () => app?.close());

  it("sums each hour per network, refunds, payouts per rail and status, and alerts (an auditor may read it)", async () => {
    const res = await stats("from=2026-12-01T02:00:00Z&to=2026-12-01T05:00:00Z&bucket=hour", auditor);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const s = res.body;
    expect(s).toMatchObject({ from: "2026-12-01T02:00:00.000Z", to: "2026-12-01T05:00:00.000Z", bucket: "hour" });
    expect(s.bucket_starts).toEqual(["2026-12-01T02:00:00.000Z", "2026-12-01T03:00:00.000Z", "2026-12-01T04:00:00.000Z"]);
    const failed_network = paid[2]!.channel ?? null;
    const hour2 = [
      { network: "netsunion", count: 2, succeeded_count: 2, failed_count: 0, succeeded_amount: 30_050, fee_amount: 180 },
      ...(failed_network === "netsunion" ? [] : [{ network: failed_network, count: 1, succeeded_count: 0, failed_count: 1, succeeded_amount: 0, fee_amount: 0 }]),
    ];
    if (failed_network === "netsunion") Object.assign(hour2[0]!, { count: 3, failed_count: 1 });
    expect(s.payments.filter((c: Json) => c.bucket_start === "2026-12-01T02:00:00.000Z").map(pick)).toEqual(hour2.sort(byNetwork));
    expect(s.payments.filter((c: Json) => c.bucket_start === "2026-12-01T03:00:00.000Z").map(pick)).toEqual([
      { network: "unionpay_nocard", count: 1, succeeded_count: 1, failed_count: 0, succeeded_amount: 30_000, fee_amount: 180 },
    ]);
    expect(s.payments.some((c: Json) => c.bucket_start === "2026-12-01T04:00:00.000Z")).toBe(false);
    expect(s.totals.payments).toMatchObject({ count: 4, succeeded_count: 3, failed_count: 1, alert_count: 0, succeeded_amount: 60_050, fee_amount: 360 });
    const netsunion = s.totals.by_network.find((x: Json) => x.network === "netsunion");
    expect(netsunion).toMatchObject({ succeeded_count: 2, succeeded_amount: 30_050, fee_amount: 180, refund_count: 1, refunded_amount: 2_500 });
    expect(s.refunds).toEqual([{ bucket_start: "2026-12-01T02:00:00.000Z", network: refund.channel ?? "netsunion", count: 1, succeeded_count: 1, succeeded_amount: 2_500 }]);
    expect(s.totals.refunds).toEqual({ count: 1, succeeded_count: 1, succeeded_amount: 2_500 });
    expect(s.payouts).toEqual([{ bucket_start: "2026-12-01T03:00:00.000Z", rail: payout.rail, status: payout.status, count: 1, amount: 300_000, fee_amount: payout.fee }]);
    expect(s.totals.payouts).toEqual([{ rail: payout.rail, status: payout.status, count: 1, amount: 300_000, fee_amount: payout.fee }]);
    expect(s.risk_alerts).toEqual([{ bucket_start: "2026-12-01T03:00:00.000Z", count: 1 }]);
    expect(s.totals.risk_alerts).toBe(1);
    expect(s.open).toMatchObject({ risk_alerts: 1, reconciliation_exceptions: 0, payment_alerts: 0 });
  });

  it("buckets by day from the period's start (a Beijing day here) and takes `to` as exclusive", async () => {
    const day = (await stats("from=2026-11-30T16:00:00%2B00:00&to=2026-12-01T16:00:00Z&bucket=day")).body;
    expect(day.bucket_starts).toEqual(["2026-11-30T16:00:00.000Z"]);
    expect(day.totals.payments).toMatchObject({ count: 5, succeeded_count: 4, succeeded_amount: 159_950 });
    const beijing = (await stats("from=2026-12-01T00:00:00%2B08:00&to=2026-12-02T00:00:00%2B08:00&bucket=day")).body;
    expect(beijing.totals.payments).toEqual(day.totals.payments);
    const early = (await stats("from=2026-12-01T04:00:00Z&to=2026-12-01T05:00:00Z")).body;
    expect(early.bucket).toBe("hour");
    expect(early.payments).toEqual([]);
    expect(early.totals.payments).toMatchObject({ count: 0, succeeded_amount: 0 });
  });

  it("answers 400 invalid_request naming the field for a bad period", async () => {
    const cases: [string, string][] = [
      ["to=2026-12-01T05:00:00Z", "query.from"],
      ["from=yesterday&to=2026-12-01T05:00:00Z", "query.from"],
      ["from=2026-12-01T05:00:00Z&to=2026-12-01T05:00:00Z", "query.to"],
      ["from=2026-12-01T05:00:00Z&to=2026-12-01T04:00:00Z", "query.to"],
      ["from=2026-08-01T00:00:00Z&to=2026-11-03T00:00:00Z&bucket=day", "query.to"],
      ["from=2026-10-01T00:00:00Z&to=2026-11-03T00:00:00Z&bucket=hour", "query.bucket"],
      ["from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&bucket=week", "query.bucket"],
      ["from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&network=netsunion", "query.network"],
    ];
    for (const [query, field] of cases) {
      const res = await stats(query);
      expect([res.status, res.body.error?.code, res.body.error?.field], query).toEqual([400, "invalid_request", field]);
    }
    expect((await stats("from=2026-08-02T00:00:00Z&to=2026-11-03T00:00:00Z&bucket=day")).status).toBe(200);
    expect((await stats("from=2026-10-03T00:00:00Z&to=2026-11-03T00:00:00Z&bucket=hour")).status).toBe(200);
    expect((await stats("from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", "not-a-token")).status).toBe(401);
  });

  it("is in the OpenAPI document, for operators only", async () => {
    const doc = (await app.admin("GET", "/openapi.json")).body;
    expect(doc.paths["/admin/v1/stats/overview"]?.get).toBeTruthy();
  });
});

const pick = (c: Json) => ({ network: c.network, count: c.count, succeeded_count: c.succeeded_count, failed_count: c.failed_count, succeeded_amount: c.succeeded_amount, fee_amount: c.fee_amount });
const byNetwork = (a: Json, b: Json) => String(a.network).localeCompare(String(b.network));

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("condition never held");
}
