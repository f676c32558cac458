import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";
import { ARTIFACTS, browserAvailable, ensureConsoleBuilt, launchBrowser } from "../support/browser.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
// Evaluated in the page (waitForFunction): the page's document, not Node's.
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };


/**
 * The overview page over a chosen period: payments on two networks, a refund, a payout and a risk
 * alert made on 2026-11-10 (Beijing) through the live sandbox; the browser runs in Beijing time
 * and picks that day, and sees the figures GET /admin/v1/stats/overview sums.
 */
describe.skipIf(!browserAvailable())("console overview in Chromium", () => {
  const clock = new ManualClock("2026-11-10T02:10:00Z"); // 10:10 in Beijing, a Tuesday
  let app: TestApp;
  let shop: PaycoreClient;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let payout: Json;
  const outside: string[] = [];

  beforeAll(async () => {
    await ensureConsoleBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startTestApp({ label: "console-overview", clock, sandbox: true });
    const legal_name = `上海概览茶馆有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: 500 }] }, entity.body.entity_id);
    shop = app.merchantClient(m.creds);
    const agreement_id = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "ov-sign");
    let n = 0;
    const pay = async (amount: number, channel: string) => {
      const res = await shop.post<Json>("/v1/payments", { out_trade_no: `ov-${++n}`, agreement_id, amount, currency: "CNY", description: "tea" });
      expect(res.body).toMatchObject({ status: "succeeded", channel });
      return res.body;
    };
    const first = await pay(10_000, "netsunion");
    await pay(2_550, "netsunion");
    expect((await shop.post<Json>(`/v1/payments/${first.payment_id}/refunds`, { out_refund_no: "ov-r1", amount: 1_000 })).body.status).toBe("succeeded");
    clock.set(new Date("2026-11-10T06:20:00Z"));
    await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: false });
    await pay(30_000, "unionpay_nocard");
    await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: true });
    const deposit = await app.sandbox!.send("POST", "/sandbox/v1/deposits", {
      merchant_id: m.merchant.merchant_id, amount: 1_000_000, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" },
    });
    expect(deposit.status).toBe(201);
    for (let i = 0; i < 400 && (await shop.get<Json>("/v1/balance")).body.available < 1_000_000; i++) await new Promise((r) => setTimeout(r, 25));
    const po = await shop.post<Json>("/v1/payouts", {
      out_payout_no: "ov-po1", amount: 200_000, payee: { account_name: "上海某某贸易有限公司", account_number: "6222000012345678", bank_code: "105100000017" }, purpose: "货款", urgency: "normal",
    });
    expect(po.status, JSON.stringify(po.body)).toBe(201);
    payout = po.body;
    expect((await app.admin("POST", `/admin/v1/risk/merchants/${m.merchant.merchant_id}/actions`, { action: "alert", reason: "overview" })).status).toBe(200);

    browser = await launchBrowser();
    const context = await browser.browser.newContext({ locale: "zh-CN", timezoneId: "Asia/Shanghai", viewport: { width: 1280, height: 1400 } });
    // The console must work with no network: anything not served by paycore itself is refused and recorded.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === new URL(app.url).origin) return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    page = await context.newPage();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const text = async (selector: string) => (await page.textContent(selector))?.trim();

  it("picks a day and sees payments, volume per network, fees, refunds, payouts and alerts", async () => {
    await page.goto(`${app.url}/console/`);
    await page.fill("#token", app.admin_token);
    await page.click("#signin");
    await page.waitForSelector("#stats");
    await page.fill("#from-date", "2026-11-10");
    await page.fill("#to-date", "2026-11-10");
    await page.click("#apply-period");
    await page.waitForFunction(() => document.querySelector("#stats strong")?.textContent === "3");
    await page.waitForSelector("#overview-chart canvas");
    await page.waitForSelector("#amount-chart canvas");
    expect(await text("#stat-volume")).toBe("¥425.50");
    expect(await text("#stat-success")).toBe("100.0%");
    expect(await text("#stat-fees")).toBe("¥2.55"); // 60 + 15 + 180 fen
    expect(await text("#stat-refunds")).toBe("¥10.00");
    expect(await text('#by-network [data-network="netsunion"] .volume')).toBe("¥125.50");
    expect(await text('#by-network [data-network="netsunion"] .count')).toBe("2");
    expect(await text('#by-network [data-network="netsunion"] .refunded')).toBe("1 / ¥10.00");
    expect(await text('#by-network [data-network="unionpay_nocard"] .volume')).toBe("¥300.00");
    expect(await text(`#payouts-by-rail [data-rail="${payout.rail}"][data-status="${payout.status}"] .amount`)).toBe("¥2,000.00");
    expect(await text("#open-risk")).toBe("1");
    expect(await text("#stat-alerts")).toContain("1");
    // What the page shows is what the API sums for the same Beijing day.
    const api = (await app.admin("GET", "/admin/v1/stats/overview?from=2026-11-09T16:00:00Z&to=2026-11-10T16:00:00Z&bucket=hour")).body;
    expect(api.totals.payments).toMatchObject({ count: 3, succeeded_amount: 42_550, fee_amount: 255 });
    await shot("overview-period");

    // Per day over the two days around it, in English.
    await page.fill("#from-date", "2026-11-09");
    await page.click("#apply-period");
    await page.waitForFunction(() => (document.querySelector("#bucket") as unknown as { value: string }).value === "hour");
    await page.selectOption("#bucket", "day");
    await page.waitForFunction(() => document.querySelector("#stat-volume")?.textContent === "¥425.50");
    await page.click("#lang");
    await page.waitForSelector("text=Open risk alerts");
    await shot("overview-period-en");

    // A preset: the last 24 hours of the browser's clock hold none of these (they are on 2026-11-10).
    await page.click("#preset-24h");
    await page.waitForFunction(() => document.querySelector("#stats strong")?.textContent === "0");
    expect(await text("#stat-volume")).toBe("¥0.00");
    expect(outside).toEqual([]);
  });
});
