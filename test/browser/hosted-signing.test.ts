import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { browserAvailable, launchBrowser } from "../support/browser.ts";
import { catalogue, lastOtp, pickCard, type SandboxCard } from "../payments/helpers.ts";
import { invitationLink, invitee } from "../campaigns/helpers.ts";

type Json = Record<string, unknown>;

/**
 * A cardholder signs from a campaign's SMS link in a real browser with JavaScript switched off:
 * the four elements, the bank's code, the success page; the merchant then holds the agreement.
 */
describe.skipIf(!browserAvailable())("hosted signing page in Chromium, without JavaScript", () => {
  const clock = new ManualClock("2026-05-04T02:00:00Z");
  let app: TestApp;
  let shop: PaycoreClient;
  let card: SandboxCard;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  beforeAll(async () => {
    app = await startTestApp({ label: "browser", clock, sandbox: true });
    const m = await createTestMerchant(app, { name: "Tea House" });
    shop = app.merchantClient(m.creds);
    card = pickCard(await catalogue(app), { unified: false });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it("signs through the page, and the merchant holds the agreement", async () => {
    const created = await shop.post<Json>("/v1/agreement-campaigns", { out_campaign_no: "browser-1", invitations: [invitee(card, "tea-fan")] });
    expect(created.status).toBe(201);
    const link = await invitationLink(app, card.phone);

    const context = await browser.browser.newContext({ javaScriptEnabled: false, locale: "zh-CN" });
    const page = await context.newPage();
    await page.goto(link);
    expect(await page.textContent("body")).toContain("Tea House");
    await page.fill("#holder_name", card.holder_name);
    await page.fill("#id_number", card.id_number);
    await page.fill("#card_number", card.card_number);
    await page.click("button[type=submit]");
    await page.waitForSelector("#otp");
    await page.fill("#otp", await lastOtp(app, card.phone));
    await page.click("form:has(#otp) button[type=submit]");
    await page.waitForLoadState();
    const html = await page.content();
    expect(html).not.toContain(card.card_number);
    expect(html).not.toContain(card.id_number);
    await context.close();

    const agreements = await shop.get<{ data: Json[] }>("/v1/agreements?user_ref=tea-fan");
    expect(agreements.body.data).toHaveLength(1);
    expect(agreements.body.data[0]).toMatchObject({ status: "active", card: { last4: card.card_number.slice(-4) } });
    const campaign = await shop.get<{ counts: Record<string, number> }>(`/v1/agreement-campaigns/${created.body.campaign_id as string}`);
    expect(campaign.body.counts.signed).toBe(1);
  });
});
