import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { verifyResponse } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { startNotifier } from "../../src/notify/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { Receiver } from "../notify/receiver.ts";
import { catalogue, pickCard, signCard, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

describe("refunds, unbinding, limits and notifications end to end", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let A: PaycoreClient;
  let Bc: PaycoreClient;
  let a: Awaited<ReturnType<typeof createTestMerchant>>;
  let cards: SandboxCard[];
  let n = 0;

  beforeAll(async () => {
    app = await startTestApp({ label: "refunds", clock, sandbox: true });
    a = await createTestMerchant(app);
    const b = await createTestMerchant(app, {}, a.entity_id);
    A = app.merchantClient(a.creds);
    Bc = app.merchantClient(b.creds);
    cards = await catalogue(app);
  });
  afterAll(async () => app.close());

  const pay = async (client: PaycoreClient, agreement_id: string, amount: number) => {
    n += 1;
    return client.post<Json>("/v1/payments", { out_trade_no: `r-${n}`, agreement_id, amount, currency: "CNY", description: "refund test" });
  };
  const balanceOf = async (card: SandboxCard) => (await catalogue(app)).find((c) => c.card_number === card.card_number)!.balance;

  it("refunds partially and repeatedly, never above the payment, idempotent by out_refund_no", async () => {
    const card = pickCard(cards, { unified: true });
    const agr = await signCard(app, A, card, "rf-sign-1");
    const start = await balanceOf(card);
    const p = (await pay(A, agr, 10_000)).body;
    expect(p.status).toBe("succeeded");
    const r1 = await A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: "rf-1", amount: 3_000, reason: "partial" });
    expect(r1.status).toBe(201);
    expect(r1.body).toMatchObject({ status: "succeeded", amount: 3_000, payment_id: p.payment_id });
    const again = await A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: "rf-1", amount: 3_000, reason: "partial" });
    expect(again.status).toBe(200);
    expect(again.body.refund_id).toBe(r1.body.refund_id);
    const clash = await A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: "rf-1", amount: 3_001, reason: "partial" });
    expect(clash.status).toBe(409);
    expect(clash.body.error?.code).toBe("duplicate_out_refund_no");
    const r2 = await A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: "rf-2", amount: 7_000 });
    expect(r2.body.status).toBe("succeeded");
    const over = await A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: "rf-3", amount: 1 });
    expect(over.status).toBe(422);
    expect(over.body.error?.code).toBe("amount_exceeds_refundable");
    const after = await A.get<Json>(`/v1/payments/${p.payment_id}`);
    expect(after.body.refunded_amount).toBe(10_000);
    expect(await balanceOf(card)).toBe(start);
    expect((await A.get<Json>(`/v1/refunds/${r1.body.refund_id}`)).body.amount).toBe(3_000);
    expect((await Bc.get<Json>(`/v1/refunds/${r1.body.refund_id}`)).status).toBe(404);
  });

  it("concurrent refunds can never add up to more than the payment", async () => {
    const card = pickCard(cards, { unified: false });
    const agr = await signCard(app, A, card, "rf-sign-2");
    const p = (await pay(A, agr, 1_000)).body;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: `rc-${i}`, amount: 300 })));
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.body.error?.code === "amount_exceeds_refundable");
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(5);
    const after = await A.get<Json>(`/v1/payments/${p.payment_id}`);
    expect(after.body.refunded_amount).toBe(900);
  });

  it("refuses to refund a payment that did not succeed (failed, or still processing): payment_not_refundable", async () => {
    const poor = cards.find((c) => c.status === "normal" && c.card_type === "debit" && c.balance < 10_000)!;
    const agr = await signCard(app, A, poor, "rf-sign-poor");
    const p = (await pay(A, agr, poor.balance + 1)).body;
    expect(p.status).toBe("failed");
    const r = await A.post<Json>(`/v1/payments/${p.payment_id}/refunds`, { out_refund_no: "rf-failed", amount: 1 });
    expect(r.status).toBe(422);
    expect(r.body.error?.code).toBe("payment_not_refundable");

    // The outcome stays unknown: the network answers neither the debit nor a query, and its notice is held back.
    const callback = (await app.sandbox!.get<{ paycore_callback_url: string }>("/sandbox/v1/config")).body.paycore_callback_url;
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: "*", operation: "pay", kind: "unknown" });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: "*", operation: "query", kind: "unknown" });
    const open = (await pay(A, agr, 1)).body;
    expect(open.status).toBe("processing");
    const early = await A.post<Json>(`/v1/payments/${open.payment_id}/refunds`, { out_refund_no: "rf-processing", amount: 1 });
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: callback });
    expect(early.body.error?.code, JSON.stringify(early.body)).toBe("payment_not_refundable");
    expect(early.body.error?.message).toMatch(/processing/);
  });

  it("a merchant's unbind ends its agreement only; the card stays usable at the other merchant", async () => {
    const card = pickCard(cards, { unified: true, skip: [pickCard(cards, { unified: true }).card_number] });
    const agrA = await signCard(app, A, card, "ub-sign-a");
    const agrB = await signCard(app, Bc, card, "ub-sign-b");
    const ub = await A.post<Json>(`/v1/agreements/${agrA}/unbind`, {});
    expect(ub.status).toBe(200);
    expect(ub.body).toMatchObject({ status: "unbound" });
    expect(ub.body.unbound_at).toBeTruthy();
    const refused = await pay(A, agrA, 100);
    expect(refused.body.error?.code).toBe("agreement_inactive");
    expect((await pay(Bc, agrB, 100)).body.status).toBe("succeeded");
  });

  it("a network unbind notice ends the card agreement and every merchant agreement on the card", async () => {
    const card = cards.filter((c) => c.status === "normal" && c.card_type === "debit" && c.unified && c.balance >= 100_000)[2]!;
    const agrA = await signCard(app, A, card, "nb-sign-a");
    const agrB = await signCard(app, Bc, card, "nb-sign-b");
    const first = await pay(A, agrA, 100);
    const res = await app.sandbox!.send("POST", "/sandbox/v1/unbind-notice", { channel: first.body.channel, card_number: card.card_number });
    expect(res.status).toBe(200);
    for (let i = 0; i < 100; i++) {
      const got = await A.get<Json>(`/v1/agreements/${agrA}`);
      if (got.body.status === "unbound") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await A.get<Json>(`/v1/agreements/${agrA}`)).body.status).toBe("unbound");
    expect((await Bc.get<Json>(`/v1/agreements/${agrB}`)).body.status).toBe("unbound");
    const events = await app.admin("GET", "/admin/v1/events?type=agreement.unbound&limit=100");
    const merchants = new Set((events.body.data as { merchant_id: string }[]).map((e) => e.merchant_id));
    expect(merchants.has(a.creds.mch_id)).toBe(true);
  });

  it("daily limits per card and per merchant ID answer limit_exceeded", async () => {
    const limited = await createTestMerchant(app, { limits: { card_daily_count: 2, merchant_daily_amount: 1_000 } }, a.entity_id);
    const L = app.merchantClient(limited.creds);
    const card = pickCard(cards, { unified: true });
    const agr = await signCard(app, L, card, "lim-sign");
    expect((await pay(L, agr, 400)).body.status).toBe("succeeded");
    const tooMuch = await pay(L, agr, 700);
    expect(tooMuch.body.error?.code).toBe("limit_exceeded");
    expect((await pay(L, agr, 600)).body.status).toBe("succeeded");
    const third = await pay(L, agr, 1);
    expect(third.body.error?.code).toBe("limit_exceeded");
    clock.advance(24 * 3600 * 1000);
    expect((await pay(L, agr, 1)).body.status).toBe("succeeded");
  });

  it("notifies payment.succeeded, retrying while the receiver is down, with the same event id", async () => {
    const port = await Receiver.refusedPort();
    const hooked = await createTestMerchant(app, { notify_url: `http://127.0.0.1:${port}/paycore/notify` }, a.entity_id);
    const H = app.merchantClient(hooked.creds);
    const notifier = startNotifier(app.ctx, { background: false });
    try {
      const card = pickCard(cards, { unified: false });
      const agr = await signCard(app, H, card, "nt-sign");
      const p = (await pay(H, agr, 250)).body;
      expect(p.status).toBe("succeeded");
      await notifier.runOnce(); // refused: the receiver is down
      const receiver = await Receiver.start(port);
      try {
        for (let i = 0; i < 20 && !receiver.received.some((r) => r.json.type === "payment.succeeded"); i++) {
          clock.advance(5 * 60_000);
          await notifier.runOnce();
        }
        const got = receiver.received.filter((r) => r.json.type === "payment.succeeded");
        expect(got.length).toBeGreaterThanOrEqual(1);
        expect(got[0]!.json.data.payment_id).toBe(p.payment_id);
        expect(verifyResponse(hooked.creds.secret, got[0]!.headers, got[0]!.body)).toBe(true);
        const detail = await app.admin("GET", `/admin/v1/events/${got[0]!.json.id}`);
        expect(detail.status).toBe(200);
        expect(JSON.stringify(detail.body)).toContain(got[0]!.json.id);
      } finally {
        await receiver.close();
      }
    } finally {
      await notifier.stop();
    }
  });
});
