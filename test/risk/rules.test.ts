import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { addCard } from "../support/sandbox.ts";
import { cardBody } from "../payments/helpers.ts";
import { addRule, clearRules, freshAgreement, pay, type Json } from "./helpers.ts";

/**
 * Pre-payment and signing rules through the API against the live sandbox: each kind rejects at
 * its threshold and not below, shadow changes nothing, review raises an alert, blocklists refuse,
 * a rejected payment moves no money, and every decision is stored with its figures.
 */
describe("risk rules", () => {
  const clock = new ManualClock("2026-05-04T03:00:00Z");
  let app: TestApp;
  let M: PaycoreClient, N: PaycoreClient;
  let merchant_id = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_rules", clock, sandbox: true });
    const m = await createTestMerchant(app, { name: "Risk M" });
    const n = await createTestMerchant(app, { name: "Risk N" }, m.entity_id);
    merchant_id = m.creds.mch_id;
    [M, N] = [app.merchantClient(m.creds), app.merchantClient(n.creds)];
  });
  afterAll(async () => app.close());
  afterEach(async () => clearRules(app));

  it("refuses rules that make no sense with 400 naming the field", async () => {
    const base = { kind: "velocity", scope: "card", max_count: 3, window_seconds: 600, action: "reject" };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, max_count: 0 }, "max_count"],
      [{ ...base, max_count: -1 }, "max_count"],
      [{ ...base, window_seconds: 31 * 86_400 + 1 }, "window_seconds"],
      [{ ...base, window_seconds: 0 }, "window_seconds"],
      [{ ...base, scope: "planet" }, "scope"],
      [{ ...base, scope: "phone" }, "scope"],
      [{ ...base, merchant_id: "mch_doesnotexist" }, "merchant_id"],
      [{ ...base, max_count: undefined }, "max_count"],
      [{ kind: "amount", scope: "card", max_amount: -5, window_seconds: 60, action: "reject" }, "max_amount"],
      [{ kind: "amount", scope: "card", max_count: 3, window_seconds: 60, action: "reject" }, "max_amount"],
      [{ kind: "first_payment", scope: "merchant", max_amount: 100, window_seconds: 60, action: "reject" }, "scope"],
      [{ ...base, applies_to: "signing", kind: "amount", max_count: undefined, max_amount: 5 }, "kind"],
      [{ ...base, action: "block" }, "action"],
    ];
    for (const [body, field] of cases) {
      const res = await app.admin("POST", "/admin/v1/risk/rules", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.message).toContain(field);
    }
    const rule_id = await addRule(app, base);
    const bad = await app.admin("PATCH", `/admin/v1/risk/rules/${rule_id}`, { max_count: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("max_count");
    expect((await app.admin("PATCH", "/admin/v1/risk/rules/rsk_nope", { max_count: 2 })).status).toBe(404);
  });

  it("velocity per card: the limit passes, one more is rejected naming the rule, no money moves, and the window slides", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    const rule_id = await addRule(app, { kind: "velocity", scope: "card", max_count: 2, window_seconds: 600, action: "reject" });
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    const before = await app.admin("GET", "/admin/v1/ledger/trial-balance");
    const third = await pay(M, agreement_id, 100);
    expect(third.status).toBe(422);
    expect(third.body.error?.code).toBe("risk_rejected");
    expect(third.body.error?.message).toContain(rule_id);
    expect(await app.admin("GET", "/admin/v1/ledger/trial-balance")).toEqual(before);
    const rows = await app.ctx.db.selectFrom("payments").select("payment_id").where("agreement_id", "=", agreement_id).execute();
    expect(rows).toHaveLength(2);
    const rejected = await app.admin("GET", `/admin/v1/risk/decisions?merchant_id=${merchant_id}&outcome=reject&limit=1`);
    expect(rejected.body.data[0]).toMatchObject({ payment_id: null, outcome: "reject", fired: [{ rule_id, kind: "velocity", scope: "card", max_count: 2, observed_count: 3 }] });
    clock.advance(601_000);
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
  });

  it("amount per ID holder counts all the person's cards: exactly the limit passes, one fen more is rejected", async () => {
    const first = await freshAgreement(app, M);
    const second = await freshAgreement(app, N, { id_number: first.card.id_number, holder_name: first.card.holder_name });
    const rule_id = await addRule(app, { kind: "amount", scope: "id_holder", max_amount: 10_000, window_seconds: 3600, action: "reject" });
    expect((await pay(M, first.agreement_id, 6_000)).status).toBe(201);
    expect((await pay(N, second.agreement_id, 4_000)).status).toBe(201);
    const over = await pay(N, second.agreement_id, 1);
    expect(over.status).toBe(422);
    expect(over.body.error?.message).toContain(rule_id);
    // Another person is not affected.
    const other = await freshAgreement(app, N);
    expect((await pay(N, other.agreement_id, 9_000)).status).toBe(201);
  });

  it("velocity per merchant ID, for one merchant ID only", async () => {
    const a = await freshAgreement(app, M);
    const b = await freshAgreement(app, N);
    await addRule(app, { kind: "velocity", scope: "merchant", max_count: 2, window_seconds: 60, action: "reject", merchant_id });
    clock.advance(61_000);
    expect((await pay(M, a.agreement_id, 100)).status).toBe(201);
    expect((await pay(M, a.agreement_id, 100)).status).toBe(201);
    expect((await pay(M, a.agreement_id, 100)).body.error?.code).toBe("risk_rejected");
    expect((await pay(N, b.agreement_id, 100)).status).toBe(201);
    expect((await pay(N, b.agreement_id, 100)).status).toBe(201);
    expect((await pay(N, b.agreement_id, 100)).status).toBe(201);
  });

  it("first-payment cap on a newly signed card: at the cap passes, above is rejected, a day later it no longer applies", async () => {
    await addRule(app, { kind: "first_payment", scope: "card", max_amount: 5_000, window_seconds: 86_400, action: "reject" });
    const { agreement_id } = await freshAgreement(app, M);
    expect((await pay(M, agreement_id, 5_001)).body.error?.code).toBe("risk_rejected");
    expect((await pay(M, agreement_id, 5_000)).status).toBe(201);
    expect((await pay(M, agreement_id, 1)).body.error?.code).toBe("risk_rejected");
    clock.advance(86_400_000);
    expect((await pay(M, agreement_id, 20_000)).status).toBe(201);
  });

  it("shadow mode records what the rule would have done and changes nothing", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    const rule_id = await addRule(app, { kind: "velocity", scope: "card", max_count: 1, window_seconds: 600, action: "reject", mode: "shadow" });
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    const second = await pay(M, agreement_id, 100);
    expect(second.status).toBe(201);
    expect(second.body.status).toBe("succeeded");
    const decision = await app.admin("GET", `/admin/v1/risk/decisions?payment_id=${second.body.payment_id}`);
    expect(decision.body.data).toHaveLength(1);
    expect(decision.body.data[0]).toMatchObject({ outcome: "allow", fired: [{ rule_id, mode: "shadow", action: "reject", observed_count: 2 }] });
    expect((await app.admin("GET", `/admin/v1/risk/alerts?status=open`)).body.data.filter((a: { payment_id: string }) => a.payment_id === second.body.payment_id)).toHaveLength(0);
  });

  it("review lets the payment through and raises an alert an operator can close", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    const rule_id = await addRule(app, { kind: "amount", scope: "card", max_amount: 1_000, window_seconds: 600, action: "review" });
    const paid = await pay(M, agreement_id, 1_500);
    expect(paid.status).toBe(201);
    expect(paid.body.status).toBe("succeeded");
    const alerts = await app.admin("GET", `/admin/v1/risk/alerts?status=open&kind=payment_review`);
    const alert = alerts.body.data.find((a: { payment_id: string }) => a.payment_id === paid.body.payment_id);
    expect(alert).toMatchObject({ rule_id, merchant_id });
    expect((await app.admin("POST", `/admin/v1/risk/alerts/${alert.alert_id}/close`)).body.status).toBe("closed");
    const decision = await app.admin("GET", `/admin/v1/risk/decisions?payment_id=${paid.body.payment_id}`);
    expect(decision.body.data[0].outcome).toBe("review");
  });

  it("a decision judged in the intent's statement has every fired rule's figures and words, and a review's alert names its rule", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    const velocity = await addRule(app, { kind: "velocity", scope: "card", max_count: 1, window_seconds: 600, action: "reject", mode: "shadow", name: "two in ten minutes" });
    const amount = await addRule(app, { kind: "amount", scope: "id_holder", max_amount: 2_000, window_seconds: 600, action: "review", name: "twenty yuan" });
    const first = await addRule(app, { kind: "first_payment", scope: "card", max_amount: 100, window_seconds: 86_400, action: "review", mode: "shadow" });
    await addRule(app, { kind: "velocity", scope: "card", max_count: 3, window_seconds: 600, action: "reject" });
    expect((await pay(M, agreement_id, 1_500)).status).toBe(201);
    const paid = await pay(M, agreement_id, 1_001);
    expect(paid.status).toBe(201);
    const decision = (await app.admin("GET", `/admin/v1/risk/decisions?payment_id=${paid.body.payment_id}`)).body.data[0];
    expect(decision).toMatchObject({ outcome: "review", rules_evaluated: 4, amount: 1_001 });
    const byId = <R extends { rule_id: string }>(xs: R[]) => [...xs].sort((x, y) => (x.rule_id < y.rule_id ? -1 : 1));
    const common = { window_seconds: 600, observed_amount: 2_501 };
    expect(byId(decision.fired)).toEqual(byId([
      { ...common, rule_id: velocity, name: "two in ten minutes", kind: "velocity", scope: "card", action: "reject", mode: "shadow", max_count: 1, max_amount: null, observed_count: 2,
        explanation: "this card: 2 payments in 600 s with this one, over the limit of 1" },
      { ...common, rule_id: amount, name: "twenty yuan", kind: "amount", scope: "id_holder", action: "review", mode: "enforce", max_count: null, max_amount: 2_000, observed_count: 2,
        explanation: "this ID holder's cards: 25.01 yuan in 600 s with this payment, over the limit of 20.00 yuan" },
      { ...common, window_seconds: 86_400, rule_id: first, name: expect.any(String), kind: "first_payment", scope: "card", action: "review", mode: "shadow", max_count: null, max_amount: 100, observed_count: 2,
        explanation: "this card: 25.01 yuan since the card was signed with this payment, over the limit of 1.00 yuan" },
    ]));
    const alerts = await app.admin("GET", `/admin/v1/risk/alerts?status=open&kind=payment_review`);
    expect(alerts.body.data.find((a: { payment_id: string }) => a.payment_id === paid.body.payment_id)).toMatchObject({
      rule_id: amount,
      message: `payment ${paid.body.payment_id} let through for review by rule ${amount} (twenty yuan): this ID holder's cards: 25.01 yuan in 600 s with this payment, over the limit of 20.00 yuan`,
    });
  });

  it("a rule change is audited and applies to the next payment", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    const rule_id = await addRule(app, { kind: "velocity", scope: "card", max_count: 1, window_seconds: 600, action: "reject" });
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    expect((await pay(M, agreement_id, 100)).status).toBe(422);
    const patched = await app.admin("PATCH", `/admin/v1/risk/rules/${rule_id}`, { max_count: 2 });
    expect(patched.body.max_count).toBe(2);
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    // A narrower window: the next payment counts it, not the window the last payment counted
    // (the process starts the count on the rules it saw last and must notice they changed).
    expect((await pay(M, agreement_id, 100)).status).toBe(422);
    clock.advance(120_000);
    expect((await app.admin("PATCH", `/admin/v1/risk/rules/${rule_id}`, { window_seconds: 60 })).status).toBe(200);
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    const audit = await app.admin("GET", `/admin/v1/audit-log?target_id=${rule_id}`);
    expect(audit.body.data.map((e: { action: string }) => e.action).sort()).toEqual(["risk.rule.create", "risk.rule.update", "risk.rule.update"]);
  });

  it("a blocklisted card number, ID number or phone cannot pay or sign; only fingerprints are stored", async () => {
    const { card, agreement_id } = await freshAgreement(app, M);
    const added = await app.admin("POST", "/admin/v1/risk/blocklist", { kind: "card_number", value: card.card_number, reason: "reported stolen" });
    expect(added.status).toBe(201);
    expect(JSON.stringify(added.body)).not.toContain(card.card_number);
    expect((await app.admin("POST", "/admin/v1/risk/blocklist", { kind: "card_number", value: card.card_number })).status).toBe(200);
    const refused = await pay(M, agreement_id, 100);
    expect(refused.status).toBe(422);
    expect(refused.body.error?.message).toContain(added.body.entry_id);
    const sign = await N.post<Json>("/v1/agreements", { out_request_no: "blocked-sign", user_ref: "x", card: cardBody(card as never) });
    expect(sign.body.error?.code).toBe("risk_rejected");
    const rows = await app.ctx.db.selectFrom("risk_blocklist").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(card.card_number);
    const audit = await app.admin("GET", "/admin/v1/audit-log?action=risk.blocklist.add");
    expect(JSON.stringify(audit.body)).not.toContain(card.card_number);

    const person = await freshAgreement(app, M);
    await app.admin("POST", "/admin/v1/risk/blocklist", { kind: "id_number", value: person.card.id_number });
    expect((await pay(M, person.agreement_id, 100)).body.error?.code).toBe("risk_rejected");
    const phoned = await freshAgreement(app, M);
    await app.admin("POST", "/admin/v1/risk/blocklist", { kind: "phone", value: phoned.card.phone });
    expect((await pay(M, phoned.agreement_id, 100)).body.error?.code).toBe("risk_rejected");
    expect((await app.admin("POST", "/admin/v1/risk/blocklist", { kind: "phone", value: "12345" })).body.error.message).toContain("value");
  });

  it("signing rules: too many signings per ID holder are refused before any SMS", async () => {
    const rule_id = await addRule(app, { applies_to: "signing", kind: "velocity", scope: "id_holder", max_count: 2, window_seconds: 86_400, action: "reject" });
    const first = await freshAgreement(app, M);
    await freshAgreement(app, M, { id_number: first.card.id_number });
    const third = await addCard(app.sandbox!, { id_number: first.card.id_number });
    const refused = await N.post<Json>("/v1/agreements", { out_request_no: "third-sign", user_ref: "x", card: cardBody(third as never) });
    expect(refused.status).toBe(422);
    expect(refused.body.error?.message).toContain(rule_id);
    const inbox = await app.sandbox!.get<{ data: unknown[] }>(`/sandbox/v1/sms?phone=${third.phone}`);
    expect(inbox.body.data).toHaveLength(0);
    // Per phone too.
    await clearRules(app);
    await addRule(app, { applies_to: "signing", kind: "velocity", scope: "phone", max_count: 1, window_seconds: 86_400, action: "reject" });
    const shared = await addCard(app.sandbox!, { phone: "13700000001" });
    await N.post<Json>("/v1/agreements", { out_request_no: "phone-1", user_ref: "x", card: cardBody(shared as never) });
    const other = await addCard(app.sandbox!, { phone: "13700000001" });
    expect((await N.post<Json>("/v1/agreements", { out_request_no: "phone-2", user_ref: "y", card: cardBody(other as never) })).body.error?.code).toBe("risk_rejected");
  });
});
