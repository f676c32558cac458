import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { NETWORK_IDS } from "../../src/sandbox/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/**
 * A network that answers "no such agreement" (or "agreement ended") to a debit on an agreement
 * paycore holds: paycore retires that card agreement, answers the merchant `resign_required`
 * (also on a repeat of the same request), and a new signing of the card replaces it.
 */
describe("the network no longer knows an agreement paycore holds", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let shop: PaycoreClient;
  let cards: SandboxCard[];
  let n = 0;

  beforeAll(async () => {
    app = await startTestApp({ label: "resign", clock, sandbox: true });
    shop = app.merchantClient((await createTestMerchant(app)).creds);
    cards = await catalogue(app);
  });
  afterAll(async () => app.close());

  const pay = (agreement_id: string, out_trade_no = `rs-${++n}`) =>
    shop.post<Json>("/v1/payments", { out_trade_no, agreement_id, amount: 500, currency: "CNY", description: "resign" });
  const cardAgreements = async (agreement_id: string) => {
    const rows = await app.ctx.db
      .selectFrom("card_agreements")
      .innerJoin("agreements", "agreements.card_id", "card_agreements.card_id")
      .select(["card_agreements.status", "card_agreements.network_agreement_no", "card_agreements.unbound_reason"])
      .where("agreements.agreement_id", "=", agreement_id)
      .orderBy("card_agreements.created_at")
      .execute();
    return rows;
  };

  it("answers resign_required for 'no such agreement', and a new signing makes it pay again", async () => {
    const card = pickCard(cards, { unified: false });
    const agreement_id = await signCard(app, shop, card, "rs-sign-1");
    expect((await pay(agreement_id)).body.status).toBe("succeeded");

    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: "*", operation: "pay", kind: "decline", decline_code: "agreement_not_found" });
    const refused = await pay(agreement_id, "rs-dead");
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    expect(refused.status).toBe(422);
    expect(refused.body.error?.code).toBe("resign_required");
    expect(refused.body.error?.message).toMatch(/sign the card again/);
    // The same request again gets the same answer; the failed payment is visible as such.
    expect((await pay(agreement_id, "rs-dead")).body.error?.code).toBe("resign_required");
    const listed = await shop.get<{ data: Json[] }>("/v1/payments?out_trade_no=rs-dead");
    expect(listed.body.data[0]).toMatchObject({ status: "failed" });
    expect((await cardAgreements(agreement_id)).map((r) => r.status)).toEqual(["unbound"]);
    // Until the card is signed again, paycore does not send debits on the dead agreement.
    expect((await pay(agreement_id)).body.error?.code).toBe("resign_required");

    const again = await signCard(app, shop, card, "rs-sign-2");
    expect(again).toBe(agreement_id);
    expect((await cardAgreements(agreement_id)).map((r) => r.status)).toEqual(["unbound", "active"]);
    expect((await pay(agreement_id)).body.status).toBe("succeeded");
  });

  it("does the same when the network says the agreement ended and its notice never arrived", async () => {
    const card = pickCard(cards, { unified: false, skip: [pickCard(cards, { unified: false }).card_number] });
    const agreement_id = await signCard(app, shop, card, "rs-sign-3");
    const callback = (await app.sandbox!.get<{ paycore_callback_url: string }>("/sandbox/v1/config")).body.paycore_callback_url;
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    for (const channel of NETWORK_IDS) await app.sandbox!.send("POST", "/sandbox/v1/unbind-notice", { channel, card_number: card.card_number });
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: callback });

    const refused = await pay(agreement_id);
    expect(refused.body.error?.code).toBe("resign_required");
    const rows = await cardAgreements(agreement_id);
    expect(rows.map((r) => r.status)).toEqual(["unbound"]);
    expect(rows[0]!.unbound_reason).toMatch(/agreement_inactive/);

    expect(await signCard(app, shop, card, "rs-sign-4")).toBe(agreement_id);
    const fresh = await cardAgreements(agreement_id);
    expect(fresh[1]!.network_agreement_no).not.toBe(fresh[0]!.network_agreement_no);
    expect((await pay(agreement_id)).body.status).toBe("succeeded");
  });
});
