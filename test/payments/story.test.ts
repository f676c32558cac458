import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { cardBody, catalogue, lastOtp, pickCard, signCard, smsFor, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

/**
 * The chat's story (docs/domain.md, points 3 and 4), end to end through the live
 * sandbox over HTTP: sign once at B, pay at C with no new SMS, D (high risk) needs its own code,
 * sign-and-pay on a signed card charges nothing, and a channel switch syncs a unified bank's card
 * but asks a non-unified bank's card to sign again.
 */
describe("agreement payments: the chat's story", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let B: PaycoreClient, C: PaycoreClient, D: PaycoreClient;
  let unifiedCard: SandboxCard, otherCard: SandboxCard;
  let agrB = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "story", clock, sandbox: true });
    const b = await createTestMerchant(app, { name: "Merchant B" });
    const c = await createTestMerchant(app, { name: "Merchant C" }, b.entity_id);
    const d = await createTestMerchant(app, { name: "Merchant D", risk_level: "high" }, b.entity_id);
    [B, C, D] = [app.merchantClient(b.creds), app.merchantClient(c.creds), app.merchantClient(d.creds)];
    const cards = await catalogue(app);
    unifiedCard = pickCard(cards, { unified: true });
    otherCard = pickCard(cards, { unified: false });
  });
  afterAll(async () => app.close());

  it("a cardholder signs at merchant B with one bank SMS and pays", async () => {
    const start = await B.post<Json>("/v1/agreements", { out_request_no: "b-sign-1", user_ref: "alice", card: cardBody(unifiedCard) });
    expect(start.status).toBe(201);
    expect(start.body.status).toBe("otp_sent");
    expect(JSON.stringify(start.body)).not.toContain(unifiedCard.card_number);
    expect(await smsFor(app, unifiedCard.phone)).toHaveLength(1);
    const wrong = await B.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: "000000" === (await lastOtp(app, unifiedCard.phone)) ? "111111" : "000000" });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error?.code).toBe("otp_invalid");
    const confirm = await B.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: await lastOtp(app, unifiedCard.phone) });
    expect(confirm.status).toBe(201);
    expect(confirm.body).toMatchObject({ status: "active", user_ref: "alice", card: { bank_code: unifiedCard.bank_code, last4: unifiedCard.card_number.slice(-4) } });
    agrB = confirm.body.agreement_id as string;

    const pay = await B.post<Json>("/v1/payments", { out_trade_no: "b-1", agreement_id: agrB, amount: 12_345, currency: "CNY", description: "books" });
    expect(pay.status).toBe(201);
    expect(pay.body).toMatchObject({ status: "succeeded", amount: 12_345, refunded_amount: 0 });
    expect(pay.body.fee).toBe(74); // 60 bps of 123.45 yuan, half up
    expect(pay.body.channel).toBeTruthy();
  });

  it("merchant C of the same platform gets already_signed: no SMS, nothing charged, and pays", async () => {
    const before = (await smsFor(app, unifiedCard.phone)).length;
    const start = await C.post<Json>("/v1/agreements", { out_request_no: "c-sign-1", user_ref: "alice-at-c", card: cardBody(unifiedCard) });
    expect(start.status).toBe(201);
    expect(start.body.status).toBe("already_signed");
    expect(start.body.agreement_id).toMatch(/^agr_/);
    expect(start.body.agreement_id).not.toBe(agrB);
    expect(await smsFor(app, unifiedCard.phone)).toHaveLength(before);
    const pay = await C.post<Json>("/v1/payments", { out_trade_no: "c-1", agreement_id: start.body.agreement_id, amount: 500, currency: "CNY", description: "tea" });
    expect(pay.body.status).toBe("succeeded");
    // C cannot see or use B's agreement.
    expect((await C.get<Json>(`/v1/agreements/${agrB}`)).status).toBe(404);
    const stolen = await C.post<Json>("/v1/payments", { out_trade_no: "c-2", agreement_id: agrB, amount: 500, currency: "CNY", description: "x" });
    expect(stolen.status).toBe(404);
  });

  it("merchant D with risk high needs its own code: paycore's SMS to the reserved phone", async () => {
    const before = (await smsFor(app, unifiedCard.phone)).length;
    const start = await D.post<Json>("/v1/agreements", { out_request_no: "d-sign-1", user_ref: "alice-at-d", card: cardBody(unifiedCard) });
    expect(start.body.status).toBe("otp_sent");
    const inbox = await smsFor(app, unifiedCard.phone);
    expect(inbox).toHaveLength(before + 1);
    expect(inbox.at(-1)!.text).toContain("paycore");
    const wrong = await D.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: inbox.at(-1)!.otp === "123456" ? "654321" : "123456" });
    expect(wrong.body.error?.code).toBe("otp_invalid");
    const ok = await D.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: inbox.at(-1)!.otp });
    expect(ok.status).toBe(201);
    expect(ok.body.status).toBe("active");
    const repeat = await D.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: inbox.at(-1)!.otp });
    expect(repeat.status).toBe(200);
    expect(repeat.body.agreement_id).toBe(ok.body.agreement_id);
  });

  it("does not reuse a signed card when the other elements do not match what the bank verified", async () => {
    const start = await C.post<Json>("/v1/agreements", { out_request_no: "c-sign-x", user_ref: "mallory", card: { ...cardBody(unifiedCard), phone: "13900000000" } });
    expect(start.body.status).not.toBe("already_signed");
  });

  it("sign-and-pay on a card already signed answers already_signed and creates no payment", async () => {
    const before = await C.get<{ data: unknown[] }>("/v1/payments");
    const res = await C.post<Json>("/v1/sign-and-pay", { out_trade_no: "c-snp-1", amount: 999, currency: "CNY", description: "snp", user_ref: "alice-at-c", card: cardBody(unifiedCard) });
    expect(res.status).toBe(201);
    expect(res.body.status).toBe("already_signed");
    expect(res.body.agreement_id).toMatch(/^agr_/);
    const after = await C.get<{ data: unknown[] }>("/v1/payments");
    expect(after.body.data).toHaveLength(before.body.data.length);
  });

  it("sign-and-pay on a new card: one SMS, then the agreement and the payment", async () => {
    const cards = await catalogue(app);
    const fresh = pickCard(cards, { unified: true, skip: [unifiedCard.card_number] });
    const res = await B.post<Json>("/v1/sign-and-pay", { out_trade_no: "b-snp-1", amount: 2_000, currency: "CNY", description: "snp", user_ref: "bob", card: cardBody(fresh) });
    expect(res.body.status).toBe("otp_sent");
    const confirm = await B.post<{ agreement: Json; payment: Json }>("/v1/sign-and-pay/confirm", { sign_request_id: res.body.sign_request_id, otp: await lastOtp(app, fresh.phone) });
    expect(confirm.status).toBe(201);
    expect(confirm.body.agreement.status).toBe("active");
    expect(confirm.body.payment).toMatchObject({ out_trade_no: "b-snp-1", amount: 2_000, status: "succeeded" });
  });

  it("signing network switched off: a unified bank's card pays through the other network without a code; a non-unified bank's card must re-sign", async () => {
    const agrOther = await signCard(app, B, otherCard, "b-sign-other", "carol");
    const first = await B.post<Json>("/v1/payments", { out_trade_no: "b-2", agreement_id: agrB, amount: 100, currency: "CNY", description: "x" });
    const signing_channel = first.body.channel as string;
    const otherFirst = await B.post<Json>("/v1/payments", { out_trade_no: "b-o-1", agreement_id: agrOther, amount: 100, currency: "CNY", description: "x" });
    expect(otherFirst.body.status).toBe("succeeded");

    const off = await app.admin("PATCH", `/admin/v1/channels/${signing_channel}`, { enabled: false });
    expect(off.status).toBe(200);
    const smsBefore = (await smsFor(app, unifiedCard.phone)).length;
    const switched = await B.post<Json>("/v1/payments", { out_trade_no: "b-3", agreement_id: agrB, amount: 100, currency: "CNY", description: "x" });
    expect(switched.status).toBe(201);
    expect(switched.body.status).toBe("succeeded");
    expect(switched.body.channel).not.toBe(signing_channel);
    expect(String(switched.body.route_reason)).toContain("unified");
    expect(await smsFor(app, unifiedCard.phone)).toHaveLength(smsBefore);

    // Both cards were signed on the cheapest network, so switching it off concerns both.
    expect(otherFirst.body.channel).toBe(signing_channel);
    const resign = await B.post<Json>("/v1/payments", { out_trade_no: "b-o-2", agreement_id: agrOther, amount: 100, currency: "CNY", description: "x" });
    expect(resign.status).toBe(422);
    expect(resign.body.error?.code).toBe("resign_required");

    // The merchant re-signs through POST /v1/agreements: a bank code again, on the network that works.
    const smsOther = (await smsFor(app, otherCard.phone)).length;
    const again = await B.post<Json>("/v1/agreements", { out_request_no: "b-resign-other", user_ref: "carol", card: cardBody(otherCard) });
    expect(again.body.status).toBe("otp_sent");
    expect(await smsFor(app, otherCard.phone)).toHaveLength(smsOther + 1);
    const confirmed = await B.post<Json>("/v1/agreements/confirm", { sign_request_id: again.body.sign_request_id, otp: await lastOtp(app, otherCard.phone) });
    expect(confirmed.status).toBe(201);
    const paid = await B.post<Json>("/v1/payments", { out_trade_no: "b-o-3", agreement_id: confirmed.body.agreement_id, amount: 100, currency: "CNY", description: "x" });
    expect(paid.body.status).toBe("succeeded");
    expect(paid.body.channel).not.toBe(signing_channel);
    await app.admin("PATCH", `/admin/v1/channels/${signing_channel}`, { enabled: true });
  });

  it("wrote no card number, ID number, phone or holder name to any log line", () => {
    const logs = app.log_lines.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    for (const c of [unifiedCard, otherCard]) {
      for (const secret of [c.card_number, c.id_number, c.phone, c.holder_name]) expect(logs).not.toContain(secret);
    }
  });

  it("stores the four elements only sealed: no clear value in any card or sign request row", async () => {
    const rows = [
      ...(await app.ctx.db.selectFrom("cards").selectAll().execute()),
      ...(await app.ctx.db.selectFrom("sign_requests").selectAll().execute()),
    ];
    const text = JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    for (const c of [unifiedCard, otherCard]) {
      for (const secret of [c.card_number, c.id_number, c.phone, c.holder_name]) expect(text).not.toContain(secret);
    }
  });
});
