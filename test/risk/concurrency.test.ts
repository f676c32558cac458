import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { addCard } from "../support/sandbox.ts";
import { cardBody } from "../payments/helpers.ts";
import { addRule, clearRules, freshAgreement, pay, type Json } from "./helpers.ts";

/**
 * Payments and signings racing for the last place under a limit: exactly the limit passes, on
 * both engines (the PostgreSQL run is the one with real concurrency).
 */
describe("risk counters under concurrency", () => {
  let app: TestApp;
  let M: PaycoreClient, N: PaycoreClient;

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_race", sandbox: true });
    const m = await createTestMerchant(app, { name: "Race M" });
    const n = await createTestMerchant(app, { name: "Race N" }, m.entity_id);
    [M, N] = [app.merchantClient(m.creds), app.merchantClient(n.creds)];
  });
  afterAll(async () => app.close());

  it("twelve simultaneous payments on one card pass a velocity limit of 3 exactly three times", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    await addRule(app, { kind: "velocity", scope: "card", max_count: 3, window_seconds: 3600, action: "reject" });
    const answers = await Promise.all(Array.from({ length: 12 }, () => pay(M, agreement_id, 100)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(3);
    expect(answers.filter((a) => a.body.error?.code === "risk_rejected")).toHaveLength(9);
    const rows = await app.ctx.db.selectFrom("payments").select("payment_id").where("agreement_id", "=", agreement_id).execute();
    expect(rows).toHaveLength(3);
    await clearRules(app);
  });

  it("simultaneous payments of one person at two merchant IDs do not exceed an amount limit per ID holder", async () => {
    const a = await freshAgreement(app, M);
    const b = await freshAgreement(app, N, { id_number: a.card.id_number });
    await addRule(app, { kind: "amount", scope: "id_holder", max_amount: 1_000, window_seconds: 3600, action: "reject" });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => pay(i % 2 ? M : N, i % 2 ? a.agreement_id : b.agreement_id, 300)));
    expect(answers.filter((x) => x.status === 201)).toHaveLength(3);
    await clearRules(app);
  });

  it("simultaneous signings of one person pass a signing limit exactly", async () => {
    await addRule(app, { applies_to: "signing", kind: "velocity", scope: "id_holder", max_count: 2, window_seconds: 86_400, action: "reject" });
    const first = await addCard(app.sandbox!);
    const cards = [first, ...(await Promise.all(Array.from({ length: 5 }, () => addCard(app.sandbox!, { id_number: first.id_number }))))];
    const answers = await Promise.all(cards.map((c, i) => N.post<Json>("/v1/agreements", { out_request_no: `race-sign-${i}`, user_ref: `u${i}`, card: cardBody(c as never) })));
    expect(answers.filter((x) => x.status === 201)).toHaveLength(2);
    expect(answers.filter((x) => x.body.error?.code === "risk_rejected")).toHaveLength(4);
    await clearRules(app);
  });

  it("simultaneous signings of different people sharing one phone, at two merchant IDs, pass a per-phone limit exactly", async () => {
    await addRule(app, { applies_to: "signing", kind: "velocity", scope: "phone", max_count: 3, window_seconds: 86_400, action: "reject" });
    const first = await addCard(app.sandbox!);
    const cards = [first, ...(await Promise.all(Array.from({ length: 7 }, () => addCard(app.sandbox!, { phone: first.phone }))))];
    const answers = await Promise.all(
      cards.map((c, i) => (i % 2 ? M : N).post<Json>("/v1/agreements", { out_request_no: `race-phone-${i}`, user_ref: `p${i}`, card: cardBody(c as never) })),
    );
    expect(answers.filter((x) => x.status === 201)).toHaveLength(3);
    expect(answers.filter((x) => x.body.error?.code === "risk_rejected")).toHaveLength(5);
    const phone_fingerprint = app.ctx.box.fingerprint("phone", first.phone);
    const recorded = await app.ctx.db.selectFrom("risk_signings").select("signing_id").where("phone_fingerprint", "=", phone_fingerprint).execute();
    expect(recorded).toHaveLength(3);
    await clearRules(app);
  });

  it("signings racing under a review rule and a reject rule on other scopes: every signing recorded once with its decision", async () => {
    await addRule(app, { applies_to: "signing", kind: "velocity", scope: "merchant", max_count: 1, window_seconds: 3_600, action: "review" });
    await addRule(app, { applies_to: "signing", kind: "velocity", scope: "card", max_count: 5, window_seconds: 3_600, action: "reject" });
    const cards = await Promise.all(Array.from({ length: 6 }, () => addCard(app.sandbox!)));
    const answers = await Promise.all(cards.map((c, i) => M.post<Json>("/v1/agreements", { out_request_no: `race-review-${i}`, user_ref: `r${i}`, card: cardBody(c as never) })));
    expect(answers.filter((x) => x.status === 201)).toHaveLength(6);
    const refs = cards.map((_, i) => `race-review-${i}`);
    const decisions = await app.ctx.db.selectFrom("risk_decisions").select(["reference", "outcome"]).where("subject", "=", "signing").where("reference", "in", refs).execute();
    // The merchant ID had signings before: every one of these is over the review rule's limit of 1.
    expect(decisions).toHaveLength(6);
    expect(new Set(decisions.map((d) => d.reference)).size).toBe(6);
    expect(decisions.every((d) => d.outcome === "review")).toBe(true);
    await clearRules(app);
  });
});
