import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { businessDate } from "../../src/ledger/index.ts";
import { startNotifier, type Notifier } from "../../src/notify/index.ts";
import { Receiver } from "../notify/receiver.ts";
import { scoreMerchant } from "../../src/risk/index.ts";
import { createOperator } from "../../src/operators/index.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { ARTIFACTS, browserAvailable, ensureConsoleBuilt, launchBrowser } from "../support/browser.ts";

type Json = Record<string, unknown>;
// Evaluated in the page (waitForFunction): the page's document, not Node's.
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): { length: number } };


describe.skipIf(!browserAvailable())("operations console in Chromium", () => {
  let app: TestApp;
  let shop: PaycoreClient;
  let merchant_id = "";
  let channel = "";
  let receiver: Receiver;
  let notifier: Notifier;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];

  beforeAll(async () => {
    await ensureConsoleBuilt();
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startTestApp({ label: "console", sandbox: true });
    receiver = await Receiver.start();
    // Deliveries run when the test says (runOnce), so what the page shows is known.
    notifier = startNotifier(app.ctx, { background: false });
    const m = await createTestMerchant(app, { name: "Tea House", notify_url: receiver.url });
    merchant_id = m.merchant.merchant_id as string;
    shop = app.merchantClient(m.creds);
    const agreement_id = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "console-sign");
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "console-order-1", agreement_id, amount: 10_000, currency: "CNY", description: "tea" });
    expect(paid.body.status).toBe("succeeded");
    channel = paid.body.channel as string;
    await shop.post<Json>("/v1/payments", { out_trade_no: "console-order-2", agreement_id, amount: 2_500, currency: "CNY", description: "more tea" });
    browser = await launchBrowser();
    const context = await browser.browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 900 } });
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
    await notifier?.stop();
    await app?.close();
    await receiver?.close();
  });

  async function signIn(token: string): Promise<void> {
    await page.goto(`${app.url}/console/`);
    await page.fill("#token", token);
    await page.click("#signin");
    await page.waitForSelector("#nav-payments");
  }

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it("signs in with an operator token, in Chinese, and switches to English", async () => {
    await page.goto(`${app.url}/console/`);
    await page.fill("#token", "not-a-real-operator-token");
    await page.click("#signin");
    await page.waitForSelector(".signin .error");
    await signIn(app.admin_token);
    expect(await page.textContent("#nav-payments")).toBe("支付与退款");
    await page.waitForSelector("#overview-chart canvas");
    await page.waitForFunction(() => document.querySelector("#stats strong")?.textContent === "2");
    expect(await page.textContent("#stats")).toContain("¥125.00");
    await shot("overview-zh");
    await page.click("#lang");
    expect(await page.textContent("#nav-payments")).toBe("Payments & refunds");
  });

  it("finds a payment by out_trade_no, refunds part of it, and the merchant's balance changes", async () => {
    await notifier.runOnce(); // payment.succeeded reaches the merchant's URL
    await receiver.waitFor(1);
    await page.click("#nav-payments");
    // The other filters: the page shows what the API lists for this merchant ID and each status.
    const count = async (status: string) => ((await app.admin("GET", `/admin/v1/payments?merchant_id=${merchant_id}&status=${status}`)).body.data as Json[]).length;
    const [failed_n, succeeded_n] = [await count("failed"), await count("succeeded")];
    expect(succeeded_n).toBeGreaterThanOrEqual(1);
    await page.fill("#search-merchant", merchant_id);
    await page.selectOption("#search-status", "succeeded");
    await page.click("#search");
    await page.waitForFunction((n) => document.querySelectorAll(".payment-row").length === n, succeeded_n);
    await page.selectOption("#search-status", "failed");
    await page.click("#search");
    await page.waitForFunction((n) => document.querySelectorAll(".payment-row").length === n, failed_n);
    await page.selectOption("#search-status", "");
    await page.fill("#search-out-trade-no", "console-order-1");
    await page.click("#search");
    await page.waitForFunction(() => document.querySelectorAll(".payment-row").length === 1);
    await page.click(".payment-row");
    await page.waitForSelector("#balance li");
    expect(await page.textContent("#detail-amount")).toBe("¥100.00");
    const before = await page.textContent("#balance");
    await page.fill("#refund-amount", "12.34");
    await page.click("#refund");
    await page.waitForSelector("#refund-message");
    await page.waitForFunction(() => document.querySelector("#detail-refunded")?.textContent === "¥12.34");
    await page.waitForFunction((b) => document.querySelector("#balance")?.textContent !== b, before);
    await shot("payment-detail");
    // The network messages summary: paycore's and the network's transaction ids, the final state.
    const summary = await page.textContent("#network-summary");
    const found = await app.admin("GET", "/admin/v1/payments?out_trade_no=console-order-1");
    const history = await app.admin("GET", `/admin/v1/payments/${found.body.data[0].payment_id}/history`);
    expect(summary).toContain(history.body.network.txn_id);
    expect(summary).toContain(history.body.network.network_txn_id);
    expect(summary).toContain("final");
    // Notification deliveries, and a redelivery from the page that reaches the merchant's URL again.
    const event = page.locator('#notifications .event:has-text("payment.succeeded")');
    await event.locator(".delivery").first().waitFor();
    const deliveries_before = await event.locator(".delivery").count();
    await notifier.runOnce(); // refund.succeeded too: the redelivery is then the only one pending
    const received_before = receiver.received.length;
    await event.locator(".redeliver").click();
    await page.waitForSelector("#redeliver-message");
    await expect.poll(() => event.locator(".delivery").count()).toBe(deliveries_before + 1);
    expect(await event.locator('.delivery[data-origin="redeliver"]').count()).toBe(1);
    await notifier.runOnce();
    const again = await receiver.waitFor(received_before + 1);
    expect(again.slice(received_before).map((r) => r.json.type)).toEqual(["payment.succeeded"]);
    await shot("payment-notifications");
    const payments = await app.admin("GET", "/admin/v1/payments?out_trade_no=console-order-1");
    expect(payments.body.data[0].refunded_amount).toBe(1_234);
    const audit = await app.admin("GET", "/admin/v1/audit-log?action=payment.refund");
    expect(audit.body.data).toHaveLength(1);
  });

  it("suspends a merchant ID from the tree, and its API calls are refused", async () => {
    await page.click("#nav-merchants");
    const node = page.locator(`[data-merchant="${merchant_id}"]`);
    await node.locator(".toggle-status").click();
    await page.waitForFunction((id) => document.querySelector(`[data-merchant="${id}"] .status`)?.textContent === "suspended", merchant_id);
    await shot("merchants");
    const refused = await shop.get<Json>("/v1/balance");
    expect(refused.status).toBe(403);
    expect((refused.body.error as Json).code).toBe("merchant_suspended");
    await node.locator(".toggle-status").click();
    await page.waitForFunction((id) => document.querySelector(`[data-merchant="${id}"] .status`)?.textContent === "active", merchant_id);
    expect((await shop.get<Json>("/v1/balance")).status).toBe(200);
    // Rotate, then revoke the new key from the key list; the old key (the shop's) works through its grace period.
    await node.locator(".rotate").click();
    await node.locator(".note").waitFor();
    const keys = (await app.admin("GET", `/admin/v1/merchants/${merchant_id}/keys`)).body.data as Json[];
    const fresh = String(keys.filter((k) => k.status === "active").sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))[0]!.key_id);
    await node.locator(".show-keys").click();
    await node.locator(`[data-key="${fresh}"] .revoke-key`).click();
    await page.waitForFunction((k) => document.querySelector(`[data-key="${k}"] .key-status`)?.textContent === "revoked", fresh);
    const after = (await app.admin("GET", `/admin/v1/merchants/${merchant_id}/keys`)).body.data as Json[];
    expect(after.find((k) => k.key_id === fresh)!.status).toBe("revoked");
    expect((await shop.get<Json>("/v1/balance")).status).toBe(200);
  });

  it("proposes a settlement-account change that another operator approves", async () => {
    const node = page.locator(`[data-merchant="${merchant_id}"]`);
    await node.locator(".change-account").click();
    await node.locator("input[name=account_name]").fill("Tea House Ltd.");
    await node.locator("input[name=account_number]").fill("6222020200119876543");
    await node.locator("input[name=bank_code]").fill("102290000012");
    await node.locator(".account-form button[type=submit]").click();
    // The node's note says what the last action did (the key revocation above left one).
    await page.waitForFunction((id) => /another operator|另一位/.test(document.querySelector(`[data-merchant="${id}"] .note`)?.textContent ?? ""), merchant_id);
    expect((await app.admin("GET", `/admin/v1/merchants/${merchant_id}`)).body.settlement.account.account_number_last4).not.toBe("6543");

    // The proposer is offered no approval of their own change (the API would refuse it).
    await page.click("#nav-proposals");
    await page.waitForSelector(".proposal");
    expect(await page.locator(".proposal .approve").count()).toBe(0);
    const { token } = await createOperator(app.ctx, { name: "checker", role: "operator" });
    await page.click("#signout");
    await signIn(token);
    await page.click("#nav-proposals");
    await page.waitForSelector(".proposal");
    await shot("proposals");
    await page.click(".proposal .approve");
    await page.waitForFunction(() => document.querySelectorAll(".proposal").length === 0);
    expect((await app.admin("GET", `/admin/v1/merchants/${merchant_id}`)).body.settlement.account.account_number_last4).toBe("6543");
    // An operator (not admin) is offered no channel switch and no key rotation: both are admin-only.
    expect(await page.textContent("#whoami")).toContain("checker");
    await page.click("#nav-channels");
    await page.waitForSelector("#channels tbody tr");
    expect(await page.locator(".toggle-channel").count()).toBe(0);
    await page.click("#nav-merchants");
    await page.locator(`[data-merchant="${merchant_id}"] .toggle-status`).waitFor();
    expect(await page.locator(".rotate").count()).toBe(0);
  });

  it("runs a channel's day from the reconciliation page and resolves an exception with a note", async () => {
    const settings = await app.admin("GET", "/admin/v1/reconciliation-settings");
    const cutoff = (settings.body.data as Json[]).find((s) => s.channel_id === channel)!.cutoff_minutes as number;
    const day = businessDate(new Date(), cutoff);
    // Two debits in the network's file that paycore never saw (长款): network-only exceptions.
    const fault = await app.sandbox!.send("POST", "/sandbox/v1/statement-faults", { channel, date: day, kind: "extra", count: 2 });
    expect(fault.status).toBe(201);
    await page.click("#nav-reconciliation");
    await page.selectOption("#recon-channel", channel);
    await page.fill("#recon-date", day);
    await page.click("#run-reconciliation");
    await page.waitForFunction(() => /^(Done|完成)/.test(document.querySelector("#recon-state")?.textContent ?? ""));
    await page.waitForSelector(`[data-run="${channel}/${day}"]`);
    expect(await page.textContent(`[data-run="${channel}/${day}"] .run-status`)).toBe("done");
    await page.waitForFunction(() => document.querySelectorAll('.exception[data-kind="network_only"][data-status="open"]').length === 2);
    // The finished run's progress, as its row recorded it: the last phase, a full bar, its lines.
    const recon_bar = page.locator(`[data-run="${channel}/${day}"] .run-progress`);
    expect(await recon_bar.getAttribute("data-phase")).toBe("done");
    expect(await recon_bar.locator("progress").evaluate((el: { value: number; max: number }) => [el.value, el.max])).toEqual([4, 4]);
    await shot("reconciliation");
    const row = page.locator('.exception[data-kind="network_only"]').first();
    const exception_id = (await row.getAttribute("data-exception"))!;
    await row.locator("select[name=action]").selectOption("accept_network");
    await row.locator("input[name=note]").fill("extra debit confirmed with the network");
    await row.locator("button.resolve").click();
    // The open queue loses it; the resolved filter shows it with the action and the note.
    await page.waitForFunction(() => document.querySelectorAll('.exception[data-status="open"]').length === 1);
    await page.selectOption("#exc-status", "resolved");
    const resolved = page.locator(`[data-exception="${exception_id}"]`);
    await resolved.waitFor();
    expect(await resolved.getAttribute("data-status")).toBe("resolved");
    expect(await resolved.locator(".exc-resolution").textContent()).toContain("extra debit confirmed with the network");
    await shot("reconciliation-resolved");
    const after = await app.admin("GET", `/admin/v1/reconciliation-exceptions?status=resolved&channel=${channel}&date=${day}`);
    const done = (after.body.data as Json[]).find((e) => e.exception_id === exception_id)!;
    expect(done.resolution).toBe("accept_network");
    expect(done.resolution_note).toBe("extra debit confirmed with the network");
    await page.selectOption("#exc-status", "open");
  }, 60_000);

  it("runs the day's settlement from the settlement page and shows each long operation's progress: settlement runs, payout batches", async () => {
    const calendar = await app.admin("GET", "/admin/v1/settlement-calendar");
    const [h, m] = String(calendar.body.cutoff).split(":").map(Number);
    const date = businessDate(new Date(), h! * 60 + m!);
    await page.click("#nav-settlement");
    await page.fill("#settle-date", date);
    await page.click("#run-settlement");
    await page.waitForFunction(() => /^(Done|完成)/.test(document.querySelector("#settle-state")?.textContent ?? ""));
    const runs = await app.admin("GET", `/admin/v1/settlements/runs?date=${date}`);
    const run = (runs.body.data as Json[])[0]!;
    expect(run.status).toBe("done");
    const bar = page.locator(`.settlement-run[data-run="${String(run.run_id)}"] .run-progress`);
    await bar.waitFor();
    expect(await bar.getAttribute("data-phase")).toBe("done");
    const [value, max] = await bar.locator("progress").evaluate((el: { value: number; max: number }) => [el.value, el.max]);
    expect(value).toBe(max);
    await shot("settlement-run");
    // A batch whose two lines are both refused (amount 0) is finished at once: both lines have their outcome.
    const line = (n: number) => ({ out_payout_no: `console-batch-${n}`, amount: 0, payee: { account_name: "上海某某贸易有限公司", account_number: "6222000000000001", bank_code: "105100000017" }, purpose: "货款" });
    const batch = await shop.post<Json>("/v1/payout-batches", { out_batch_no: "console-batch", payouts: [line(1), line(2)] });
    expect(batch.status).toBe(201);
    await page.click("#nav-payouts");
    const batch_bar = page.locator(`.payout-batch[data-batch="${String(batch.body.batch_id)}"] .run-progress`);
    await batch_bar.waitFor();
    expect(await batch_bar.getAttribute("data-phase")).toBe("done");
    expect(await batch_bar.locator("progress").evaluate((el: { value: number; max: number }) => [el.value, el.max])).toEqual([2, 2]);
    await shot("payout-batches");
  }, 60_000);

  it("shows a flagged merchant ID with each signal's contribution, and holds its settlement from the page", async () => {
    // The monitor scores a merchant ID only from 20 payments in its window; this suite has two, so
    // the score row the monitor would write is written here, from the real scoring function.
    const { score, signals } = scoreMerchant({
      payments: 400, night: 220, weekend: 120, round: 300, top_amounts: 350, failed: 60, refunded: 40, distinct_cards: 12, distinct_holders: 10,
      holders_sharing_phone: 6, avg_ticket_fen: 480_000, previous_weekly: 20, recent_weekly: 200, settlement_cycle_days: 1, category_ticket_fen: 6_000, business_category: "5812",
    });
    expect(score).toBeGreaterThan(60);
    const now = new Date();
    await app.ctx.db
      .insertInto("risk_merchant_scores")
      .values({ merchant_id, score, flagged: true, signals: JSON.stringify(signals), payments: 400, window_start: new Date(now.getTime() - 14 * 86_400_000), window_end: now, run_id: "rmr_console_test", scored_at: now })
      .execute();
    await page.click("#nav-risk");
    const card = page.locator(`.risk-merchant[data-merchant="${merchant_id}"]`);
    await card.waitFor();
    expect(await card.locator(".risk-score").textContent()).toBe(String(score));
    const top = signals[0]!;
    expect(await card.locator(`[data-signal="${top.name}"] .contribution`).textContent()).toBe(`${top.contribution} / ${top.weight}`);
    expect(await card.locator(".signal").count()).toBe(signals.length);
    await card.locator("select[name=action]").selectOption("settlement_hold");
    await card.locator("input[name=reason]").fill("night traffic and round amounts");
    await card.locator("button.risk-act").click();
    await card.locator(".risk-msg").waitFor();
    await shot("risk-hold");
    const audit = await app.admin("GET", `/admin/v1/audit-log?action=settlement.hold&target_id=${merchant_id}`);
    const hold = (audit.body.data as Json[])[0];
    expect(hold, "the hold is audited").toBeTruthy();
    expect(JSON.stringify(hold!.after)).toContain("night traffic and round amounts");
    // The merchant page shows the hold; releasing it is a proposal for a second operator.
    await page.click("#nav-merchants");
    const node = page.locator(`.merchant[data-merchant="${merchant_id}"]`);
    await node.locator(".settlement-hold").waitFor();
    expect(await node.locator(".settlement-hold").textContent()).toContain("night traffic and round amounts");
    expect((await app.admin("GET", "/admin/v1/merchants?held=true")).body.data.map((m: Json) => m.merchant_id)).toEqual([merchant_id]);
    await node.locator("button.release-hold").click();
    await node.locator(".note").waitFor();
    expect(await node.locator(".note").textContent()).toMatch(/prp_/);
    const pending = await app.admin("GET", `/admin/v1/proposals?status=pending&kind=settlement.hold_release&target_id=${merchant_id}`);
    expect(pending.body.data).toHaveLength(1);
    expect((await app.admin("GET", `/admin/v1/merchants/${merchant_id}`)).body.settlement_hold.reason).toContain("night traffic and round amounts");
  }, 60_000);

  it("an auditor sees every page and is offered no change", async () => {
    const { token } = await createOperator(app.ctx, { name: "auditor", role: "auditor" });
    await page.click("#signout");
    await signIn(token);
    await page.click("#nav-merchants");
    await page.locator(`[data-merchant="${merchant_id}"]`).waitFor();
    await page.locator(`[data-merchant="${merchant_id}"] .show-keys`).click();
    await page.locator(`[data-merchant="${merchant_id}"] .keys`).waitFor();
    expect(await page.locator(".revoke-key").count()).toBe(0);
    await page.click("#nav-payments");
    await page.fill("#search-out-trade-no", "console-order-1");
    await page.click("#search");
    await page.click(".payment-row");
    await page.waitForSelector("#detail-amount");
    await page.waitForSelector("#notifications .event");
    expect(await page.locator(".redeliver").count()).toBe(0);
    expect(await page.locator("#refund").count()).toBe(0);
    await page.click("#nav-channels");
    await page.waitForSelector("#channels tbody tr");
    await page.click("#nav-settlement");
    await page.waitForSelector("#settlements", { state: "attached" });
    await shot("auditor-settlement");
    await page.click("#nav-reconciliation");
    await page.waitForSelector('.exception[data-status="open"]');
    await shot("auditor-reconciliation");
    await page.click("#nav-risk");
    await page.locator(`.risk-merchant[data-merchant="${merchant_id}"] .signal`).first().waitFor();
    for (const changing of [".toggle-status", ".rotate", ".revoke-key", ".change-account", "#refund", ".redeliver", ".toggle-channel", ".edit-cost", "#run-settlement", ".approve", ".reject", "#run-reconciliation", ".resolve", ".exc-actions", ".risk-actions", "#run-monitor", ".close-alert", ".release-hold"]) {
      expect(await page.locator(changing).count(), changing).toBe(0);
    }
    await page.click("#signout");
    await signIn(app.admin_token);
  });

  it("shows the other pages, and nothing was fetched from outside paycore", async () => {
    const shown: Record<string, string> = { payouts: "#rails tbody tr", settlement: "#settlements", channels: "#channels tbody tr", risk: "#risk-rules", audit: "#audit tbody tr", overview: "#overview-chart canvas" };
    for (const [name, selector] of Object.entries(shown)) {
      await page.click(`#nav-${name}`);
      await page.waitForSelector(selector, { state: "attached" });
      if (name === "channels") {
        expect(await page.textContent("#channels")).toContain("netsunion");
        // health.healthy from the API: a healthy channel shows ✓, not "—".
        expect(await page.textContent('[data-channel="netsunion"] .health')).toBe("✓");
      }
      if (name === "payouts") expect(await page.textContent("#rails")).toContain("hvps");
      if (name === "audit") expect(await page.textContent("#audit")).toContain("merchant");
      await shot(name);
    }
    expect(outside).toEqual([]);
  }, 90_000);
});
