import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { addBlocklistEntry, BlocklistCreate, createRule, patchRule, removeBlocklistEntry, RuleCreate, RulePatch, type Actor } from "../../src/risk/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { addCard } from "../support/sandbox.ts";
import { cardBody } from "../payments/helpers.ts";
import { freshAgreement, otherProcess, pay, type Json } from "./helpers.ts";

/**
 * Rules are read from each process's configuration cache; the blocklist with a payment's first
 * read. A change made through another paycore process on the same database (a second handle with
 * its own cache: the app's cache never sees its writes) must apply to this process's very next
 * payment or signing, on both engines.
 */
describe("risk rules and blocklists changed through another process", () => {
  let app: TestApp;
  let M: PaycoreClient;
  let merchant_id = "";
  let other: Awaited<ReturnType<typeof otherProcess>>;
  let actor: Actor;

  beforeAll(async () => {
    app = await startTestApp({ label: "risk_procs", sandbox: true });
    const m = await createTestMerchant(app, { name: "Procs M" });
    merchant_id = m.creds.mch_id;
    M = app.merchantClient(m.creds);
    other = await otherProcess(app);
    const op = await app.ctx.db.selectFrom("operators").select("operator_id").executeTakeFirstOrThrow();
    actor = { operator_id: op.operator_id, request_id: "req_other_process" };
  });
  afterAll(async () => {
    await other.close();
    await app.close();
  });

  const refusedBy = (res: { status: number; body: Json }, rule_id: string) => {
    expect(res.status).toBe(422);
    expect(res.body.error?.code).toBe("risk_rejected");
    expect(res.body.error?.message).toContain(rule_id);
  };

  it("a payment rule created, changed, disabled, enabled and deleted there applies to the next payment here", async () => {
    const { agreement_id } = await freshAgreement(app, M);
    // Two payments: this process has cached "no rule applies" for the merchant ID.
    for (let i = 0; i < 2; i++) expect((await pay(M, agreement_id, 100)).status).toBe(201);
    const rule = await createRule(other.ctx, RuleCreate.parse({ kind: "velocity", scope: "card", max_count: 2, window_seconds: 3600, action: "reject", merchant_id }), actor);
    refusedBy(await pay(M, agreement_id, 100), rule.rule_id);
    await patchRule(other.ctx, rule.rule_id, RulePatch.parse({ max_count: 3 }), actor);
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    refusedBy(await pay(M, agreement_id, 100), rule.rule_id);
    await patchRule(other.ctx, rule.rule_id, RulePatch.parse({ enabled: false }), actor);
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    await patchRule(other.ctx, rule.rule_id, RulePatch.parse({ enabled: true }), actor);
    refusedBy(await pay(M, agreement_id, 100), rule.rule_id);
    // Rules are not deleted through the API; a row deleted by hand must not stay in any cache.
    await other.ctx.db.deleteFrom("risk_rules").where("rule_id", "=", rule.rule_id).execute();
    expect((await pay(M, agreement_id, 100)).status).toBe(201);
    const payments = await app.ctx.db.selectFrom("payments").select("payment_id").where("agreement_id", "=", agreement_id).execute();
    expect(payments).toHaveLength(5);
  });

  it("a card, ID number or phone blocked there is refused by the next payment here; removed, it pays again", async () => {
    for (const kind of ["card_number", "id_number", "phone"] as const) {
      const { card, agreement_id } = await freshAgreement(app, M);
      expect((await pay(M, agreement_id, 100)).status).toBe(201);
      const { entry } = await addBlocklistEntry(other.ctx, BlocklistCreate.parse({ kind, value: card[kind] }), actor);
      refusedBy(await pay(M, agreement_id, 100), entry.entry_id);
      await removeBlocklistEntry(other.ctx, entry.entry_id, actor);
      expect((await pay(M, agreement_id, 100)).status).toBe(201);
    }
  });

  it("a card stored without its phone's fingerprint (before migration 1701) is still checked, and gets it", async () => {
    const { card, agreement_id } = await freshAgreement(app, M);
    const { card_id } = await app.ctx.db.selectFrom("agreements").select("card_id").where("agreement_id", "=", agreement_id).executeTakeFirstOrThrow();
    const stored = await app.ctx.db.selectFrom("cards").select("phone_fingerprint").where("card_id", "=", card_id).executeTakeFirstOrThrow();
    expect(stored.phone_fingerprint).toBe(app.ctx.box.fingerprint("phone", card.phone));
    await app.ctx.db.updateTable("cards").set({ phone_fingerprint: null }).where("card_id", "=", card_id).execute();
    const { entry } = await addBlocklistEntry(other.ctx, BlocklistCreate.parse({ kind: "phone", value: card.phone }), actor);
    refusedBy(await pay(M, agreement_id, 100), entry.entry_id);
    const filled = await app.ctx.db.selectFrom("cards").select("phone_fingerprint").where("card_id", "=", card_id).executeTakeFirstOrThrow();
    expect(filled.phone_fingerprint).toBe(stored.phone_fingerprint);
    refusedBy(await pay(M, agreement_id, 100), entry.entry_id);
    await removeBlocklistEntry(other.ctx, entry.entry_id, actor);
  });

  it("a signing rule created there applies to the next signing here", async () => {
    await freshAgreement(app, M);
    const rule = await createRule(other.ctx, RuleCreate.parse({ applies_to: "signing", kind: "velocity", scope: "merchant", max_count: 1, window_seconds: 3600, action: "reject", merchant_id }), actor);
    const card = await addCard(app.sandbox!);
    refusedBy(await M.post<Json>("/v1/agreements", { out_request_no: `procs-sign-${Date.now()}`, user_ref: "u-procs", card: cardBody(card as never) }), rule.rule_id);
    await patchRule(other.ctx, rule.rule_id, RulePatch.parse({ enabled: false }), actor);
  });
});
