import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createOperator } from "../../src/operators/index.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { ARTIFACTS, browserAvailable, ensureConsoleBuilt, launchBrowser } from "../support/browser.ts";

type Json = Record<string, unknown>;
// Evaluated in the page (waitForFunction): the page's document, not Node's.
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };


/** The console's editing pages: risk rules and the blocklist, statements, fee rates. */
describe.skipIf(!browserAvailable())("operations console in Chromium: changes", () => {
  let app: TestApp;
  let shop: PaycoreClient;
  let merchant_id = "";
  let agreement_id = "";
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];

  beforeAll(async () => {
    await ensureConsoleBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startTestApp({ label: "console-edit", sandbox: true });
    const m = await createTestMerchant(app, { name: "Noodle Bar" });
    merchant_id = m.merchant.merchant_id as string;
    shop = app.merchantClient(m.creds);
    agreement_id = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "console-edit-sign");
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "console-edit-1", agreement_id, amount: 8_800, currency: "CNY", description: "noodles" });
    expect(paid.body.status).toBe("succeeded");
    browser = await launchBrowser();
    const context = await browser.browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
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

  async function signIn(token: string): Promise<void> {
    await page.goto(`${app.url}/console/`);
    await page.fill("#token", token);
    await page.click("#signin");
    await page.waitForSelector("#nav-payments");
  }

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it("creates a risk rule from the form, sees the API's refusal naming the field, then disables and changes the rule", async () => {
    await signIn(app.admin_token);
    await page.click("#nav-risk");
    await page.waitForSelector("#rule-form");
    // A velocity rule without max_count: the API's 400 names the field, shown beside the form.
    await page.fill("#rule-form input[name=name]", "cards-per-hour-edit");
    await page.fill("#rule-form input[name=max_count]", "");
    await page.click("#rule-create");
    await page.waitForSelector("#rule-error");
    expect(await page.textContent("#rule-error")).toContain("max_count");
    await page.fill("#rule-form input[name=max_count]", "5");
    await page.fill("#rule-form input[name=window_seconds]", "600");
    await page.fill("#rule-form input[name=merchant_id]", merchant_id);
    await page.click("#rule-create");
    await page.waitForSelector("#rule-msg");
    const row = page.locator('.risk-rule[data-name="cards-per-hour-edit"]');
    await row.waitFor();
    const rule_id = (await row.getAttribute("data-rule"))!;
    const created = await app.admin("GET", `/admin/v1/risk/rules/${rule_id}`);
    expect(created.body).toMatchObject({ kind: "velocity", scope: "card", max_count: 5, window_seconds: 600, action: "reject", mode: "enforce", merchant_id, enabled: true });
    await shot("risk-rule-created");
    // Disable, then change its limit and mode in place.
    await row.locator(".rule-toggle").click();
    await page.waitForSelector(`.risk-rule[data-rule="${rule_id}"][data-enabled="false"]`);
    expect((await app.admin("GET", `/admin/v1/risk/rules/${rule_id}`)).body.enabled).toBe(false);
    await row.locator(".rule-edit").click();
    await row.locator("input[name=max_count]").fill("7");
    await row.locator("select[name=mode]").selectOption("shadow");
    await row.locator(".rule-save").click();
    await page.waitForFunction((id) => document.querySelector(`.risk-rule[data-rule="${id}"] td:nth-child(5)`)?.textContent === "7", rule_id);
    expect((await app.admin("GET", `/admin/v1/risk/rules/${rule_id}`)).body).toMatchObject({ max_count: 7, mode: "shadow", enabled: false });
  });

  it("adds a card number to the blocklist (only its last four are shown) and removes it", async () => {
    const card_number = "6222020200112233445";
    await page.selectOption("#blocklist-form select[name=kind]", "card_number");
    await page.fill("#blocklist-form input[name=value]", "12345");
    await page.click("#blocklist-add");
    await page.waitForSelector("#blocklist-error");
    expect(await page.textContent("#blocklist-error")).toContain("value");
    await page.fill("#blocklist-form input[name=value]", card_number);
    await page.fill("#blocklist-form input[name=reason]", "reported stolen");
    await page.click("#blocklist-add");
    const entry = page.locator('.block-entry[data-kind="card_number"]').first();
    await entry.waitFor();
    expect(await entry.locator(".hint").textContent()).toBe("…3445");
    // Never the full number: not in the list, not left in the form.
    expect(await page.content()).not.toContain(card_number);
    expect(await page.inputValue("#blocklist-form input[name=value]")).toBe("");
    const entry_id = (await entry.getAttribute("data-entry"))!;
    expect(((await app.admin("GET", "/admin/v1/risk/blocklist")).body.data as Json[]).map((e) => e.entry_id)).toContain(entry_id);
    await shot("risk-blocklist");
    await entry.locator(".block-remove").click();
    await page.waitForFunction((id) => document.querySelector(`.block-entry[data-entry="${id}"]`) === null, entry_id);
    expect(((await app.admin("GET", "/admin/v1/risk/blocklist")).body.data as Json[]).map((e) => e.entry_id)).not.toContain(entry_id);
  });

  it("an auditor sees rules and the blocklist with no edit controls", async () => {
    await app.admin("POST", "/admin/v1/risk/blocklist", { kind: "phone", value: "13800138000", reason: "fraud ring" });
    const { token } = await createOperator(app.ctx, { name: "edit-auditor", role: "auditor" });
    await page.click("#signout");
    await signIn(token);
    await page.click("#nav-risk");
    await page.waitForSelector(".risk-rule");
    await page.waitForSelector(".block-entry");
    expect(await page.locator("#rule-form").count()).toBe(0);
    expect(await page.locator(".rule-toggle, .rule-edit").count()).toBe(0);
    expect(await page.locator("#blocklist-form").count()).toBe(0);
    expect(await page.locator(".block-remove").count()).toBe(0);
    await page.click("#signout");
    await signIn(app.admin_token);
  });

  it("shows a merchant ID's statement for the day of its payment, in yuan, with totals, beside the settlement payout instructions table", async () => {
    const payment = ((await app.admin("GET", `/admin/v1/payments?out_trade_no=console-edit-1&merchant_id=${merchant_id}`)).body.data as Json[])[0]!;
    // The business date the payment was booked on (after the day's cut-off it is tomorrow's).
    const booked = await app.ctx.db
      .selectFrom("pending_items")
      .innerJoin("journal_lines", "journal_lines.entry_id", "pending_items.entry_id")
      .select("journal_lines.business_date")
      .where("pending_items.payment_id", "=", payment.payment_id as string)
      .executeTakeFirstOrThrow();
    const day = String(booked.business_date);
    const api = (await app.admin("GET", `/admin/v1/merchants/${merchant_id}/statements?date=${day}`)).body as Json;
    await page.click("#nav-settlement");
    await page.waitForSelector("#settlement-payouts");
    await page.fill("#statement-merchant", merchant_id);
    await page.fill("#statement-date", day);
    await page.click("#statement-load");
    await page.waitForSelector(`#statement[data-date="${day}"]`);
    const line = page.locator(`.statement-line[data-type="payment"][data-payment="${payment.payment_id as string}"]`);
    expect(await line.locator(".amount").textContent()).toBe("¥88.00");
    expect(await page.locator(".statement-line").count()).toBe((api.lines as Json[]).length);
    const yuanOf = (fen: number) => `${fen < 0 ? "-" : ""}¥${Math.floor(Math.abs(fen) / 100).toLocaleString("en-US")}.${String(Math.abs(fen) % 100).padStart(2, "0")}`;
    expect(await page.textContent("#statement-totals .net")).toBe(yuanOf((api.totals as Json).net as number));
    expect(await page.textContent('#statement-balances [data-account="pending"] .closing')).toBe(yuanOf((api.accounts as Json[]).find((a) => a.account === "pending")!.closing as number));
    await shot("settlement-statement");
    // A far-future day: the API's refusal is shown beside the form.
    await page.fill("#statement-date", "2099-01-01");
    await page.click("#statement-load");
    await page.waitForSelector("#statement-error");
    expect(await page.textContent("#statement-error")).toContain("2099-01-01");
  });

  it("shows each product's minimum fee and changes a fee rate and minimum from the merchants tree", async () => {
    const before = (await app.admin("GET", `/admin/v1/merchants/${merchant_id}`)).body.products as Json[];
    const pay = before.find((p) => p.product === "agreement_pay")!;
    await page.click("#nav-merchants");
    const node = page.locator(`.merchant[data-merchant="${merchant_id}"]`);
    await node.waitFor();
    expect(await node.locator('.product[data-product="agreement_pay"] .fee-rate').textContent()).toBe(`${pay.fee_rate_bps as number}bps`);
    expect(await node.locator('.product[data-product="agreement_pay"] .fee-min').textContent()).toMatch(/^¥\d+\.\d\d$/);
    // Over 100%: the API's 400 names the field, shown in the merchant's card.
    await node.locator(".fee-form select[name=product]").selectOption("agreement_pay");
    await node.locator(".fee-form input[name=fee_rate_bps]").fill("20000");
    await node.locator(".change-fee").click();
    await node.locator(".error").waitFor();
    expect(await node.locator(".error").textContent()).toContain("fee_rate_bps");
    await node.locator(".fee-form input[name=fee_rate_bps]").fill("45");
    await node.locator(".fee-form input[name=fee_min]").fill("0.50");
    await node.locator(".change-fee").click();
    await page.waitForFunction((id) => document.querySelector(`.merchant[data-merchant="${id}"] .product[data-product="agreement_pay"] .fee-rate`)?.textContent === "45bps", merchant_id);
    expect(await node.locator('.product[data-product="agreement_pay"] .fee-min').textContent()).toBe("¥0.50");
    const after = (await app.admin("GET", `/admin/v1/merchants/${merchant_id}`)).body.products as Json[];
    expect(after.find((p) => p.product === "agreement_pay")).toMatchObject({ fee_rate_bps: 45, fee_min: 50 });
    // The other products are sent back unchanged (the PATCH replaces the list).
    expect(after.filter((p) => p.product !== "agreement_pay")).toEqual(before.filter((p) => p.product !== "agreement_pay"));
    await shot("merchants-fee-change");
    // The next payment is charged at the new rate: 45 bps of 200.00 yuan is 0.90 yuan (over the 0.50 minimum).
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "console-edit-fee", agreement_id, amount: 20_000, currency: "CNY", description: "noodles for ten" });
    expect(paid.body.status).toBe("succeeded");
    expect(paid.body.fee).toBe(90);
  });

  it("an auditor sees the fees and no fee form", async () => {
    const { token } = await createOperator(app.ctx, { name: "edit-auditor-2", role: "auditor" });
    await page.click("#signout");
    await signIn(token);
    await page.click("#nav-merchants");
    await page.locator(`.merchant[data-merchant="${merchant_id}"] .fee-min`).first().waitFor();
    expect(await page.locator(".fee-form").count()).toBe(0);
    await page.click("#signout");
    await signIn(app.admin_token);
  });

  it("fetched nothing from outside paycore", () => {
    expect(outside).toEqual([]);
  });
});
