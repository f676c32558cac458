import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createOperator } from "../../src/operators/index.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bj = (local: string) => new Date(`${local}+08:00`);
const FEE_MIN = 500;
const CCB = "105100000017";

/**
 * An operator's import of a payout batch for a merchant ID is four eyes: one admin proposes it
 * (nothing is reserved or sent), another approves, and only then does the batch run, through the
 * payout sweeper against the live sandbox rails, as the merchant's own batch would.
 */
describe("payout batch imports (four eyes)", () => {
  let app: TestApp;
  let client: PaycoreClient;
  let merchant_id = "";
  let second_admin = "";
  let operator = "";
  const clock = new ManualClock(bj("2026-12-01T10:00:00"));
  const line = (i: number, extra: Json = {}) => ({
    out_payout_no: `imp-${i}`,
    amount: 1_000 * 100 + i,
    payee: { account_name: "上海某某贸易有限公司", account_number: `62220000${String(i).padStart(8, "0")}`, bank_code: CCB },
    purpose: "货款",
    ...extra,
  });
  const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;
  const importBatch = (out_batch_no: string, payouts: unknown[], token?: string) => app.admin("POST", `/admin/v1/merchants/${merchant_id}/payout-batches`, { out_batch_no, payouts }, token);
  const importRow = (proposal_id: string) => app.ctx.db.selectFrom("payout_batch_imports").selectAll().where("proposal_id", "=", proposal_id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    app = await startTestApp({ label: "payout_imports", clock, sandbox: true });
    const legal_name = `上海导入科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: FEE_MIN }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    client = app.merchantClient(m.creds);
    const dep = await app.sandbox!.send("POST", "/sandbox/v1/deposits", { merchant_id, amount: 10_000 * 100, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" } });
    expect(dep.status).toBe(201);
    for (let i = 0; i < 400 && (await available()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await available()).toBe(10_000 * 100);
    second_admin = (await createOperator(app.ctx, { name: "import-checker", role: "admin" })).token;
    operator = (await createOperator(app.ctx, { name: "import-operator", role: "operator" })).token;
  }, 60_000);
  afterAll(async () => app?.close());

  it("is proposed with nothing reserved, approved only by another admin, then runs by itself; a repeat pays nothing twice", async () => {
    const before = await available();
    const lines = [line(1), line(2, { payee: { ...line(2).payee, bank_code: "10510000001" } }), line(3)];
    const proposed = await importBatch("import-1", lines);
    expect(proposed.status).toBe(202);
    expect(proposed.body).toMatchObject({ kind: "payout.batch_import", status: "pending", target_type: "merchant", target_id: merchant_id });
    expect(proposed.body.summary).toMatchObject({ out_batch_no: "import-1", line_count: 3, total_amount: 100_001 + 100_003, rejected_count: 1 });
    expect(proposed.body.summary.rejected).toEqual([{ line: 1, out_payout_no: "imp-2", code: "invalid_request", message: expect.stringContaining("payouts.1.payee.bank_code"), field: "payouts.1.payee.bank_code" }]);
    // The summary never shows an account number; the sealed lines do not read as one either.
    expect(JSON.stringify(proposed.body)).not.toContain("6222000000000001");
    const row = await importRow(proposed.body.proposal_id);
    expect(row.status).toBe("proposed");
    expect(row.lines_enc).not.toContain("6222000000000001");
    // Nothing moved: no batch, no payout, no reservation, even after a sweep.
    await app.sweep();
    expect(await available()).toBe(before);
    expect((await app.admin("GET", `/admin/v1/payout-batches?merchant_id=${merchant_id}`)).body.data).toEqual([]);

    // The same import again answers the same proposal; other lines under the number are a conflict.
    const again = await importBatch("import-1", lines);
    expect([again.status, again.body.proposal_id]).toEqual([202, proposed.body.proposal_id]);
    const other = await importBatch("import-1", [line(9)]);
    expect([other.status, other.body.error.code]).toEqual([409, "duplicate_out_trade_no"]);

    // Four eyes: not the proposer, not an operator; another admin.
    const approve = (token: string) => app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {}, token);
    expect((await approve(app.admin_token)).status).toBe(403);
    expect((await approve(operator)).status).toBe(403);
    const approved = await approve(second_admin);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe("approved");
    const batch_id = approved.body.result.batch_id as string;
    expect(batch_id).toMatch(/^pob_/);

    // The sweeper runs it: two payouts reach the rail, the bad line is rejected alone.
    let batch: Json = {};
    for (let i = 0; i < 200; i++) {
      await app.sweep();
      batch = (await app.admin("GET", `/admin/v1/payout-batches/${batch_id}`)).body;
      if (batch.counts.succeeded === 2) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(batch.counts).toMatchObject({ succeeded: 2, rejected: 1 });
    expect(batch.lines[1].error.field).toBe("payouts.1.payee.bank_code");
    const fee = (amount: number) => Math.max(FEE_MIN, Math.floor((amount * 10) / 10_000));
    expect(await available()).toBe(before - (100_001 + fee(100_001)) - (100_003 + fee(100_003)));
    const done = await importRow(proposed.body.proposal_id);
    expect([done.status, done.lines_enc, done.batch_id]).toEqual(["done", null, batch_id]);
    // The approver is audited as the importer, the proposer named.
    const audit = await app.admin("GET", `/admin/v1/audit-log?target_type=merchant&target_id=${merchant_id}`);
    const entry = (audit.body.data as Json[]).find((e) => e.action === "payout_batch.import")!;
    expect(entry.after).toMatchObject({ batch_id, out_batch_no: "import-1", line_count: 3, proposal_id: proposed.body.proposal_id });
    expect(entry.operator_id).not.toBe(entry.after.proposed_by);

    // Importing the same file again answers the batch and pays nothing twice.
    const repeat = await importBatch("import-1", lines);
    expect([repeat.status, repeat.body.batch_id]).toEqual([200, batch_id]);
    await app.sweep();
    expect(await available()).toBe(before - (100_001 + fee(100_001)) - (100_003 + fee(100_003)));
  }, 60_000);

  it("a rejected import never runs and its sealed lines are dropped; a batch no line of which could be paid is refused", async () => {
    const before = await available();
    const proposed = await importBatch("import-2", [line(21)]);
    expect(proposed.status).toBe(202);
    expect((await app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/reject`, { note: "not ours" }, second_admin)).body.status).toBe("rejected");
    await app.sweep();
    const row = await importRow(proposed.body.proposal_id);
    expect([row.status, row.lines_enc, row.batch_id]).toEqual(["refused", null, null]);
    expect(await available()).toBe(before);
    // The number is free again once refused: a corrected file can be proposed under it.
    const corrected = await importBatch("import-2", [line(22)]);
    expect(corrected.status).toBe(202);
    expect(corrected.body.proposal_id).not.toBe(proposed.body.proposal_id);

    const hopeless = await importBatch("import-3", [line(31, { amount: 0 }), line(32, { payee: { ...line(32).payee, account_number: "12" } })]);
    expect(hopeless.status).toBe(400);
    expect(hopeless.body.error.message).toContain("no line of this batch can be paid");
    expect(hopeless.body.error.field).toBe("payouts.0.amount");
    expect((await app.admin("POST", "/admin/v1/merchants/mch_missing/payout-batches", { out_batch_no: "x", payouts: [line(41)] })).status).toBe(404);
  }, 60_000);
});
