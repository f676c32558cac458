import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { cardBody, catalogue, lastOtp, pickCard, signCard, smsFor, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string; field?: string } };

/**
 * Issue 8.1: the bank-level card agreement is reused across the platform, but a merchant ID of
 * another entity gets an agreement only with the cardholder's own code (paycore's SMS), unless an
 * admin trusted it for silent reuse; a credit card's reuse never skips the CVN2/expiry check.
 */
describe("agreement reuse needs the cardholder's consent across entities", () => {
  const clock = new ManualClock("2026-05-06T02:00:00Z");
  let app: TestApp;
  let home: PaycoreClient, sibling: PaycoreClient, stranger: PaycoreClient, trusted: PaycoreClient;
  let stranger_id = "", trusted_id = "", sibling_id = "";
  let debit: SandboxCard, credit: SandboxCard;

  const agreementsOf = async (merchant_id: string) =>
    (await app.ctx.db.selectFrom("agreements").select("agreement_id").where("merchant_id", "=", merchant_id).execute()).length;

  beforeAll(async () => {
    app = await startTestApp({ label: "consent", clock, sandbox: true });
    const h = await createTestMerchant(app, { name: "Big Careful Platform" });
    const s = await createTestMerchant(app, { name: "Big Careful Platform Store" }, h.entity_id);
    const x = await createTestMerchant(app, { name: "Junk Shop" });
    const t = await createTestMerchant(app, { name: "Vetted Partner" });
    [home, sibling, stranger, trusted] = [h, s, x, t].map((m) => app.merchantClient(m.creds)) as [PaycoreClient, PaycoreClient, PaycoreClient, PaycoreClient];
    [stranger_id, trusted_id, sibling_id] = [x.creds.mch_id, t.creds.mch_id, s.creds.mch_id];
    const cards = await catalogue(app);
    debit = pickCard(cards, { unified: true });
    credit = pickCard(cards, { unified: true, card_type: "credit" });
    await signCard(app, home, debit, "home-debit", "alice");
  });
  afterAll(async () => app.close());

  it("within the same entity reuse stays silent", async () => {
    const before = (await smsFor(app, debit.phone)).length;
    const start = await sibling.post<Json>("/v1/agreements", { out_request_no: "sib-1", user_ref: "alice", card: cardBody(debit) });
    expect(start.body.status).toBe("already_signed");
    expect(await smsFor(app, debit.phone)).toHaveLength(before);
  });

  it("another entity's merchant ID gets paycore's own code to the reserved phone, and nothing until it is confirmed", async () => {
    const before = (await smsFor(app, debit.phone)).length;
    const start = await stranger.post<Json>("/v1/agreements", { out_request_no: "x-1", user_ref: "mallory-account", card: cardBody(debit) });
    expect(start.status).toBe(201);
    expect(start.body.status).toBe("otp_sent");
    expect(start.body.agreement_id ?? null).toBeNull();
    const inbox = await smsFor(app, debit.phone);
    expect(inbox).toHaveLength(before + 1);
    expect(inbox.at(-1)!.text).toContain("paycore");
    expect(inbox.at(-1)!.text).toContain("Junk Shop");
    expect(await agreementsOf(stranger_id)).toBe(0);
    // Sign-and-pay charges nothing either.
    const snp = await stranger.post<Json>("/v1/sign-and-pay", { out_trade_no: "x-snp", amount: 999, currency: "CNY", description: "x", user_ref: "m", card: cardBody(debit) });
    expect(snp.body.status).toBe("otp_sent");
    expect((await stranger.get<{ data: unknown[] }>("/v1/payments")).body.data).toHaveLength(0);
    expect(await agreementsOf(stranger_id)).toBe(0);

    const code = await lastOtp(app, debit.phone);
    const confirm = await stranger.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: inbox.at(-1)!.otp });
    expect(code).not.toBe(inbox.at(-1)!.otp); // the sign-and-pay sent a newer code of its own
    expect(confirm.status).toBe(201);
    expect(await agreementsOf(stranger_id)).toBe(1);
    const again = await stranger.post<Json>("/v1/agreements", { out_request_no: "x-2", user_ref: "mallory-account", card: cardBody(debit) });
    expect(again.body.status).toBe("already_signed");
  });

  it("an admin may trust a merchant ID for silent reuse: admin only, audited, shown on the merchant", async () => {
    const path = `/admin/v1/merchants/${trusted_id}/silent-reuse`;
    const { token } = await createOperator(app.ctx, { name: "ops", role: "operator" });
    expect((await app.admin("PUT", path, { trusted: true, reason: "contract 2026-17" }, token)).status).toBe(403);
    expect((await app.admin("GET", `/admin/v1/merchants/${trusted_id}`)).body.trusted_for_silent_reuse).toBe(false);
    const set = await app.admin("PUT", path, { trusted: true, reason: "contract 2026-17" });
    expect(set.status).toBe(200);
    expect(set.body.trusted_for_silent_reuse).toBe(true);
    const audit = await app.admin("GET", `/admin/v1/audit-log?target_id=${trusted_id}&action=merchant.silent_reuse`);
    expect(audit.body.data[0].after).toEqual({ trusted_for_silent_reuse: true, reason: "contract 2026-17" });
    const before = (await smsFor(app, debit.phone)).length;
    const start = await trusted.post<Json>("/v1/agreements", { out_request_no: "t-1", user_ref: "alice", card: cardBody(debit) });
    expect(start.body.status).toBe("already_signed");
    expect(await smsFor(app, debit.phone)).toHaveLength(before);
  });

  it("a credit card's reuse never skips the CVN2 and expiry check: the bank checks them again", async () => {
    await signCard(app, home, credit, "home-credit", "alice");
    const wrong_cvn2 = String((Number(credit.cvn2) + 1) % 1000).padStart(3, "0");
    const forged = await sibling.post<Json>("/v1/agreements", { out_request_no: "sib-c-1", user_ref: "alice", card: { ...cardBody(credit), cvn2: wrong_cvn2 } });
    expect(forged.body.status).not.toBe("already_signed");
    expect(forged.status).toBe(400);
    expect(forged.body.error?.field).toBe("card.cvn2");
    const sibling_agreements = await agreementsOf(sibling_id);
    const honest = await sibling.post<Json>("/v1/agreements", { out_request_no: "sib-c-2", user_ref: "alice", card: cardBody(credit) });
    expect(honest.body.status).toBe("otp_sent");
    const confirm = await sibling.post<Json>("/v1/agreements/confirm", { sign_request_id: honest.body.sign_request_id, otp: await lastOtp(app, credit.phone) });
    expect(confirm.status).toBe(201);
    expect(await agreementsOf(sibling_id)).toBe(sibling_agreements + 1);
    // Even a trusted merchant ID does not skip it.
    const at_trusted = await trusted.post<Json>("/v1/agreements", { out_request_no: "t-c-1", user_ref: "alice", card: { ...cardBody(credit), cvn2: wrong_cvn2 } });
    expect(at_trusted.body.status).not.toBe("already_signed");
  });
});
