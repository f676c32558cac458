import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createOperator } from "../../src/operators/index.ts";
import { Receiver } from "../notify/receiver.ts";
import { catalogue, pickCard, signCard, type SandboxCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The admin API the console's agreements and payment pages read (docs/console.md). */
describe("console admin API: agreement search and a payment's history", () => {
  let app: TestApp;
  let shop: PaycoreClient;
  let merchant_id = "";
  let card: SandboxCard;
  let other: SandboxCard;
  let payment_id = "";
  let auditor = "";
  let receiver: Receiver;

  beforeAll(async () => {
    app = await startTestApp({ label: "console-api", sandbox: true });
    receiver = await Receiver.start();
    const m = await createTestMerchant(app, { name: "Noodle Bar", notify_url: receiver.url });
    merchant_id = m.merchant.merchant_id as string;
    shop = app.merchantClient(m.creds);
    const cards = await catalogue(app);
    card = pickCard(cards, { unified: true });
    other = pickCard(cards, { unified: true, card_type: "credit" });
    const agreement_id = await signCard(app, shop, card, "sign-a", "user-alice");
    await signCard(app, shop, other, "sign-b", "user-bob");
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "noodles-1", agreement_id, amount: 8_800, currency: "CNY", description: "noodles" });
    expect(paid.body.status).toBe("succeeded");
    payment_id = paid.body.payment_id;
    auditor = (await createOperator(app.ctx, { name: "aud", role: "auditor" })).token;
  });
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
  });

  it("finds agreements by user_ref, last 4 digits and bank, showing only last4, bank and card type", async () => {
    const byUser = await app.admin("GET", "/admin/v1/agreements?user_ref=user-alice", undefined, auditor);
    expect(byUser.status).toBe(200);
    expect(byUser.body.data).toHaveLength(1);
    const a = byUser.body.data[0];
    expect(a).toMatchObject({ merchant_id, user_ref: "user-alice", status: "active", card: { last4: card.card_number.slice(-4), card_type: "debit" } });
    expect(a.networks.length).toBeGreaterThan(0);
    expect(JSON.stringify(byUser.body)).not.toContain(card.card_number);
    expect(JSON.stringify(byUser.body)).not.toContain(card.card_number.slice(0, 10));

    const byLast4 = await app.admin("GET", `/admin/v1/agreements?last4=${other.card_number.slice(-4)}`);
    expect(byLast4.body.data.map((x: Json) => x.user_ref)).toContain("user-bob");
    expect(byLast4.body.data.map((x: Json) => x.user_ref)).not.toContain("user-alice");

    const bank = a.card.bank_code as string;
    const byBank = await app.admin("GET", `/admin/v1/agreements?bank=${bank.toLowerCase()}&merchant_id=${merchant_id}`);
    expect(byBank.body.data.every((x: Json) => x.card.bank_code === bank)).toBe(true);
    expect(byBank.body.data.length).toBeGreaterThan(0);
    const byBankName = await app.admin("GET", `/admin/v1/agreements?bank=${encodeURIComponent(a.card.bank_name)}&user_ref=user-alice`);
    expect(byBankName.body.data).toHaveLength(1);
  });

  it("refuses a full card number (or anything but four digits) as last4", async () => {
    for (const bad of [card.card_number, "12345", "12a4"]) {
      const res = await app.admin("GET", `/admin/v1/agreements?last4=${bad}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    expect((await app.admin("GET", `/admin/v1/agreements?card_number=${card.card_number}`)).status).toBe(400);
  });

  it("pages through agreements with cursors", async () => {
    const first = await app.admin("GET", `/admin/v1/agreements?merchant_id=${merchant_id}&limit=1`);
    expect(first.body.data).toHaveLength(1);
    expect(first.body.next_cursor).toBeTruthy();
    const second = await app.admin("GET", `/admin/v1/agreements?merchant_id=${merchant_id}&limit=1&cursor=${first.body.next_cursor}`);
    expect(second.body.data).toHaveLength(1);
    expect(second.body.data[0].agreement_id).not.toBe(first.body.data[0].agreement_id);
    expect(second.body.next_cursor).toBeNull();
  });

  it("tells a payment's history, network summary and notifications, and redelivers one", async () => {
    const refund = await app.admin("POST", `/admin/v1/payments/${payment_id}/refunds`, { out_refund_no: "r-1", amount: 800, reason: "cold" });
    expect(refund.status).toBe(201);
    const h = await app.admin("GET", `/admin/v1/payments/${payment_id}/history`, undefined, auditor);
    expect(h.status).toBe(200);
    const what = (h.body.history as Json[]).map((s) => s.what);
    expect(what[0]).toBe("created");
    expect(what).toContain("succeeded");
    expect(what).toContain("refund.created");
    expect(what).toContain("ledger");
    const times = (h.body.history as Json[]).map((s) => Date.parse(s.at));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    expect(h.body.network).toMatchObject({ network_state: "final", alert: false });
    expect(h.body.network.txn_id).toBeTruthy();
    expect(h.body.network.network_txn_id).toBeTruthy();
    expect(h.body.network.refunds).toHaveLength(1);
    const payEvent = (h.body.events as Json[]).find((e) => e.type === "payment.succeeded");
    expect(payEvent).toBeTruthy();
    expect(payEvent!.deliveries.length).toBeGreaterThan(0);
    expect(JSON.stringify(h.body)).not.toContain(card.card_number);

    // An auditor may read it but not redeliver; an operator may.
    expect((await app.admin("POST", `/admin/v1/events/${payEvent!.event_id}/redeliver`, {}, auditor)).status).toBe(403);
    const again = await app.admin("POST", `/admin/v1/events/${payEvent!.event_id}/redeliver`, {});
    expect([200, 201]).toContain(again.status);
    expect((await app.admin("GET", "/admin/v1/payments/pay_nope/history")).status).toBe(404);
  });
});
