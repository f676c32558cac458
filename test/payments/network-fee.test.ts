import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/**
 * The network's fee when the outcome comes from paycore's own status query: the query answer
 * carries it (as real networks' do) and that is what is booked. 186.56 yuan is where rounding
 * shows: NetsUnion's 4 bps is 7.4624 fen (the network charges 7), UnionPay no-card's 5 bps is
 * 9.328 fen (it charges 9); rounding up would book 8 and 10.
 */
describe("network fee from the status query", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let A: PaycoreClient;
  let cards: SandboxCard[];
  let paycore_callback_url = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "network_fee", clock, sandbox: true });
    A = app.merchantClient((await createTestMerchant(app)).creds);
    cards = await catalogue(app);
    paycore_callback_url = `${app.url}/callbacks/channels`;
    // No notifications: the outcome must come from the query.
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
  });
  afterAll(async () => {
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url });
    await app.close();
  });

  async function paidByQuery(channel: string, agreement_id: string, out_trade_no: string) {
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind: "unknown", rate: 1, seed: 3 });
    try {
      const pay = await A.post<Json>("/v1/payments", { out_trade_no, agreement_id, amount: 18_656, currency: "CNY", description: "fee" });
      expect(pay.status).toBe(201);
      expect(pay.body).toMatchObject({ status: "processing", channel });
    } finally {
      await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    }
    clock.advance(5_000);
    await app.sweep();
    return app.ctx.db.selectFrom("payments").selectAll().where("out_trade_no", "=", out_trade_no).executeTakeFirstOrThrow();
  }

  it("NetsUnion: 186.56 yuan costs 7 fen, booked from the query answer", async () => {
    const agr = await signCard(app, A, pickCard(cards, { unified: true }), "fee-sign-nu");
    const p = await paidByQuery("netsunion", agr, "fee-nu");
    expect(p.status).toBe("succeeded");
    expect(p.network_cost).toBe(7n);
  });

  it("UnionPay no-card: 186.56 yuan costs 9 fen, booked from the query answer", async () => {
    const card = pickCard(cards, { unified: true, skip: [pickCard(cards, { unified: true }).card_number] });
    const agr = await signCard(app, A, card, "fee-sign-up");
    expect((await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: false })).status).toBe(200);
    try {
      const p = await paidByQuery("unionpay_nocard", agr, "fee-up");
      expect(p.status).toBe("succeeded");
      expect(p.network_cost).toBe(9n);
    } finally {
      await app.admin("PATCH", "/admin/v1/channels/netsunion", { enabled: true });
    }
  });
});
