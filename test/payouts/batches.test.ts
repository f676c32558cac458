import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bj = (local: string) => new Date(`${local}+08:00`);
const FEE_MIN = 500;
const CCB = "105100000017";

/**
 * Batch payouts over HTTP against the live sandbox rails and the real database: one reservation
 * per line, a bad line rejected alone, results per line, repeats, the 1,000-line limit.
 */
describe("payout batches", () => {
  let app: TestApp;
  let client: PaycoreClient;
  let merchant_id = "";
  const clock = new ManualClock(bj("2026-12-01T10:00:00"));
  const line = (i: number, extra: Json = {}) => ({
    out_payout_no: `b-${i}`,
    amount: 100 * 100,
    payee: { account_name: "上海某某贸易有限公司", account_number: `62220000${String(i).padStart(8, "0")}`, bank_code: CCB },
    purpose: "货款",
    ...extra,
  });
  const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;

  beforeAll(async () => {
    app = await startTestApp({ label: "payout_batches", clock, sandbox: true });
    const legal_name = `上海批量科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: FEE_MIN }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    client = app.merchantClient(m.creds);
    // Fund it by a deposit from the entity itself (票款一致): 1,000 lines of 100 yuan + 5 yuan fee need 105,000 yuan.
    const dep = await app.sandbox!.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", { merchant_id, amount: 105_000 * 100 + 1, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" } });
    expect(dep.status).toBe(201);
    for (let i = 0; i < 400 && (await available()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await available()).toBe(105_000 * 100 + 1);
  }, 60_000);
  afterAll(async () => app?.close());

  it("a bad line rejects that line only, naming its field; each good line is its own payout and reservation", async () => {
    const before = await available();
    const lines = [
      line(1),
      line(2, { payee: { ...line(2).payee, bank_code: "10510000001" } }), // 11 digits
      line(3, { payee: { ...line(3).payee, bank_code: "999100000017" } }), // not in the directory
      line(4, { payee: { ...line(4).payee, account_number: "1234567" } }),
      line(5, { payee: { ...line(5).payee, account_name: "" } }),
      line(6, { amount: 0 }),
      line(7, { urgency: "asap" }),
      line(8, { amount: 200_000_000 }), // more than the balance
      line(1), // repeats line 0's out_payout_no
      "not an object",
      line(9, { urgency: "urgent" }),
    ];
    const res = await client.post<Json>("/v1/payout-batches", { out_batch_no: "batch-1", payouts: lines });
    expect(res.status).toBe(201);
    const b = res.body;
    expect(b.line_count).toBe(lines.length);
    const errors = b.lines.map((l: Json) => l.error && [l.error.code, l.error.field]);
    expect(errors).toEqual([
      null,
      ["invalid_request", "payouts.1.payee.bank_code"],
      ["invalid_request", "payouts.2.payee.bank_code"],
      ["invalid_request", "payouts.3.payee.account_number"],
      ["invalid_request", "payouts.4.payee.account_name"],
      ["invalid_request", "payouts.5.amount"],
      ["invalid_request", "payouts.6.urgency"],
      ["insufficient_balance", undefined],
      ["invalid_request", "payouts.8.out_payout_no"],
      ["invalid_request", "payouts.9"],
      null,
    ]);
    expect(b.lines[1].error.message).toContain("payouts.1.payee.bank_code");
    expect(b.lines[1].out_payout_no).toBe("b-2");
    expect(b.counts).toEqual({ queued: 0, processing: 0, succeeded: 2, failed: 0, returned: 0, rejected: 9 });
    const ok = [b.lines[0].payout, b.lines[10].payout];
    expect(ok.map((p: Json) => [p.status, p.rail, p.batch_id])).toEqual([["succeeded", "ibps", b.batch_id], ["succeeded", "ibps", b.batch_id]]);
    expect(await available()).toBe(before - 2 * (10_000 + FEE_MIN));
    // One reservation (journal entry) per good line, none for the rejected ones.
    const reserved = await app.ctx.db.selectFrom("journal_entries").select("reference_id").where("event_type", "=", "payout_reserved").execute();
    expect(reserved.map((r) => r.reference_id).sort()).toEqual(ok.map((p: Json) => p.payout_id).sort());

    // GET answers the same lines with each payout as it is now; a repeat answers the batch (200); another body conflicts.
    const got = await client.get<Json>(`/v1/payout-batches/${b.batch_id}`);
    expect(got.body).toEqual(b);
    const again = await client.post<Json>("/v1/payout-batches", { out_batch_no: "batch-1", payouts: lines });
    expect([again.status, again.body.batch_id]).toEqual([200, b.batch_id]);
    expect(await available()).toBe(before - 2 * (10_000 + FEE_MIN));
    const other = await client.post<Json>("/v1/payout-batches", { out_batch_no: "batch-1", payouts: [line(1)] });
    expect([other.status, other.body.error.code]).toEqual([409, "duplicate_out_trade_no"]);

    // Operators see the batch, with the merchant ID, and can search its payouts.
    const admin = await app.admin("GET", `/admin/v1/payout-batches/${b.batch_id}`);
    expect(admin.body).toMatchObject({ batch_id: b.batch_id, merchant_id, counts: b.counts });
    const list = await app.admin("GET", `/admin/v1/payout-batches?merchant_id=${merchant_id}`);
    expect(list.body.data.map((x: Json) => x.batch_id)).toContain(b.batch_id);
    const search = await app.admin("GET", `/admin/v1/payouts?batch_id=${b.batch_id}`);
    expect(search.body.data).toHaveLength(2);
    // Another merchant ID does not see it.
    const stranger = app.merchantClient((await createTestMerchant(app)).creds);
    expect((await stranger.get<Json>(`/v1/payout-batches/${b.batch_id}`)).status).toBe(404);
  });

  it("takes 1,000 lines in one request (beyond the server's usual body limit), and refuses 1,001", async () => {
    // Evening, HVPS closed and the other rails disabled: every line is reserved and queued (the
    // intake of a full batch; sending is the same path as above, one message per line).
    clock.set(bj("2026-12-01T18:00:00"));
    for (const rail of ["beps", "ibps", "bank_direct"]) expect((await app.admin("PATCH", `/admin/v1/rails/${rail}`, { enabled: false })).status).toBe(200);
    const lines = Array.from({ length: 1_000 }, (_, i) => line(10_000 + i, { amount: 1_000 }));
    const body = JSON.stringify({ out_batch_no: "batch-big", payouts: lines });
    expect(Buffer.byteLength(body)).toBeGreaterThan(app.ctx.settings.body_limit_bytes);
    const before = await available();
    const res = await client.post<Json>("/v1/payout-batches", { out_batch_no: "batch-big", payouts: lines });
    expect(res.status).toBe(201);
    expect(res.body.lines).toHaveLength(1_000);
    expect(res.body.counts).toMatchObject({ queued: 1_000, rejected: 0 });
    expect(res.body.lines[999].payout).toMatchObject({ out_payout_no: "b-10999", status: "queued", rail: "hvps", route_reason: "BEPS/IBPS/bank-direct are disabled; HVPS opens 20:30 tonight: queued" });
    expect(await available()).toBe(before - 1_000 * (1_000 + FEE_MIN));

    const too_many = await client.post<Json>("/v1/payout-batches", { out_batch_no: "batch-too-big", payouts: [...lines, line(99_999)] });
    expect([too_many.status, too_many.body.error.code, too_many.body.error.field]).toEqual([400, "invalid_request", "payouts"]);
    const none = await client.post<Json>("/v1/payout-batches", { out_batch_no: "batch-empty", payouts: [] });
    expect([none.status, none.body.error.field]).toEqual([400, "payouts"]);
    // Other routes keep the server's body limit.
    const huge = await client.post<Json>("/v1/payouts", { ...line(1), purpose: "x".repeat(app.ctx.settings.body_limit_bytes) });
    expect([huge.status, huge.body.error.code]).toEqual([400, "invalid_request"]);
    expect(await available()).toBe(before - 1_000 * (1_000 + FEE_MIN));
    for (const rail of ["beps", "ibps", "bank_direct"]) await app.admin("PATCH", `/admin/v1/rails/${rail}`, { enabled: true });
  }, 300_000);
});
