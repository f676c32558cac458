import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bj = (local: string) => new Date(`${local}+08:00`);
const FEE_MIN = 500;
/** Payee accounts: CCB (in IBPS), CIB (not in IBPS). */
const CCB = "105100000017";
const CIB = "309100000018";

/**
 * Business payouts end to end: paycore over HTTP, the sandbox rails over HTTP, the real database
 * (PGlite, or PostgreSQL with DATABASE_URL). The clock is shared and set by the test.
 */
describe("payouts over the CNAPS rails", () => {
  let app: TestApp;
  let client: PaycoreClient;
  let merchant_id = "";
  let legal_name = "";
  const clock = new ManualClock(bj("2026-12-01T10:00:00"));
  let n = 0;
  const payee = (account_number: string, bank_code = CCB, account_name = "上海某某贸易有限公司") => ({ account_name, account_number, bank_code });
  const payoutBody = (yuan: number, extra: Json = {}) => ({ out_payout_no: `po-${++n}`, amount: yuan * 100, payee: payee(`62220000${String(n).padStart(8, "0")}`), purpose: "货款", urgency: "normal", ...extra });
  const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;
  const events = async (type: string) => {
    const rows = await app.ctx.db.selectFrom("notify_events").select(["type", "data"]).where("merchant_id", "=", merchant_id).where("type", "=", type as never).execute();
    return rows.map((r) => (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Json);
  };
  const depositAndWait = async (amount: number, account_name = legal_name): Promise<Json> => {
    const res = await app.sandbox!.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", { merchant_id, amount, payer: { account_name, account_number: "6222020200998877", bank_code: "102100000015" } });
    expect(res.status).toBe(201);
    for (let i = 0; i < 400; i++) {
      const row = await app.ctx.db.selectFrom("deposits").selectAll().where("entry_ref", "=", res.body.deposit_id).executeTakeFirst();
      if (row && row.status !== "returning") return (await client.get<{ data: Json[] }>("/v1/deposits")).body.data.find((d) => d.deposit_id === row.deposit_id)!;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error("deposit never settled in paycore");
  };
  const waitStatus = async (payout_id: string, status: string): Promise<Json> => {
    for (let i = 0; i < 400; i++) {
      const p = (await client.get<Json>(`/v1/payouts/${payout_id}`)).body;
      if (p.status === status) return p;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`payout ${payout_id} never became ${status}`);
  };

  beforeAll(async () => {
    app = await startTestApp({ label: "payouts", clock, sandbox: true });
    legal_name = `上海测试科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: FEE_MIN }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    client = app.merchantClient(m.creds);
  }, 60_000);
  afterAll(async () => app?.close());

  it("a deposit from another payer name is returned and credits nothing; the entity's own is credited", async () => {
    const wrong = await depositAndWait(500_000, "某某个人");
    expect(wrong).toMatchObject({ amount: 500_000, status: "returned", failure_code: "payer_name_mismatch", payer: { account_name: "某某个人", account_number_last4: "8877" } });
    expect(await available()).toBe(0);
    const sandbox_deposits = await app.sandbox!.get<{ data: Json[] }>("/sandbox/v1/deposits");
    expect(sandbox_deposits.body.data.filter((d) => d.status === "returned")).toHaveLength(1);
    const right = await depositAndWait(200_000_000); // 2,000,000.00 yuan
    expect(right.status).toBe("credited");
    expect(await available()).toBe(200_000_000);
    expect((await events("deposit.credited")).map((e) => e.deposit_id)).toEqual([right.deposit_id]);
  });

  it("answers 400 naming the field for bad input, and moves nothing", async () => {
    const before = await available();
    const bad: [Json, string][] = [
      [{ payee: payee("6222000011112222", "10510000001") }, "payee.bank_code"],
      [{ payee: payee("6222000011112222", "999100000017") }, "payee.bank_code"],
      [{ payee: payee("6222000011112222", "105100000099") }, "payee.bank_code"], // CCB's prefix, no branch in the directory
      [{ payee: payee("1234567") }, "payee.account_number"],
      [{ payee: payee("6222000011112222", CCB, " ") }, "payee.account_name"],
      [{ payee: payee("6222000011112222", CCB, "名".repeat(61)) }, "payee.account_name"],
      [{ amount: 0 }, "amount"],
      [{ amount: 10_000_000_001 }, "amount"],
      [{ urgency: "asap" }, "urgency"],
    ];
    for (const [override, field] of bad) {
      const res = await client.post<Json>("/v1/payouts", { ...payoutBody(1), ...override });
      expect([res.status, res.body.error.code], field).toEqual([400, "invalid_request"]);
      expect(res.body.error.message, field).toContain(field);
    }
    expect(await available()).toBe(before);
    expect((await client.get<{ data: Json[] }>("/v1/payouts")).body.data).toEqual([]);
  });

  it("HVPS closed at night: 52,000 yuan is queued until it opens; 20,000 yuan goes by IBPS, or BEPS when the payee bank is not in IBPS", async () => {
    clock.set(bj("2026-12-04T22:00:00")); // Friday night
    const before = await available();
    const big_body = payoutBody(52_000);
    const big_account = big_body.payee.account_number;
    const big = await client.post<Json>("/v1/payouts", big_body);
    expect(big.status).toBe(201);
    expect(big.body).toMatchObject({ status: "queued", rail: "hvps", fee: 5_200, route_reason: "52,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS opens 20:30 Sunday 2026-12-06: queued" });
    expect(await available()).toBe(before - 5_200_000 - 5_200); // reserved at creation
    const ibps = await client.post<Json>("/v1/payouts", payoutBody(20_000));
    expect(ibps.body).toMatchObject({ status: "succeeded", rail: "ibps" });
    const beps = await client.post<Json>("/v1/payouts", payoutBody(20_000, { payee: payee("6222090000001111", CIB) }));
    expect(beps.body).toMatchObject({ status: "processing", rail: "beps", route_reason: "the payee bank is not in IBPS; BEPS is open: sent by BEPS" });
    // The BEPS batch result arrives later, pushed by the rail.
    const settled = await waitStatus(beps.body.payout_id, "succeeded");
    expect(settled.rail).toBe("beps");
    expect((await events("payout.succeeded")).map((e) => e.payout_id).sort()).toEqual([ibps.body.payout_id, beps.body.payout_id].sort());

    await app.sweep();
    expect((await client.get<Json>(`/v1/payouts/${big.body.payout_id}`)).body.status).toBe("queued");
    const admin = await app.admin("GET", `/admin/v1/payouts?status=queued`);
    expect(admin.body.data.map((p: Json) => [p.payout_id, p.route_reason])).toEqual([[big.body.payout_id, big.body.route_reason]]);
    clock.set(bj("2026-12-06T20:31:00"));
    await app.sweep();
    const sent = (await client.get<Json>(`/v1/payouts/${big.body.payout_id}`)).body;
    expect(sent).toMatchObject({ status: "succeeded", rail: "hvps" });
    const credits = await app.sandbox!.get<{ data: Json[] }>(`/sandbox/v1/rails/credits?account_number=${big_account}`);
    expect(credits.body.data.map((c) => [c.end_to_end_id, c.rail, c.amount])).toEqual([[big.body.payout_id, "hvps", 5_200_000]]);
  });

  it("a holiday keeps HVPS closed all day", async () => {
    clock.set(bj("2026-10-01T12:00:00"));
    const res = await client.post<Json>("/v1/payouts", payoutBody(80_000));
    expect(res.body).toMatchObject({ status: "queued", rail: "hvps", route_reason: "80,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS opens 20:30 Wednesday 2026-10-07: queued" });
    const rails = await app.admin("GET", "/admin/v1/rails");
    expect(rails.body.data.find((r: Json) => r.rail === "hvps")).toMatchObject({ state: "closed", next_open_at: bj("2026-10-07T20:30:00").toISOString(), per_item_max: null });
    clock.set(bj("2026-10-07T20:30:00"));
    await app.sweep();
    expect((await client.get<Json>(`/v1/payouts/${res.body.payout_id}`)).body.status).toBe("succeeded");
  });

  it("a payee bank rejects: failed, the money comes back; a return after success gives it back and notifies", async () => {
    clock.set(bj("2026-12-01T10:00:00"));
    await app.sandbox!.send("POST", "/sandbox/v1/payees", { ...payee("6222000055550001"), behaviour: "reject" });
    await app.sandbox!.send("POST", "/sandbox/v1/payees", { ...payee("6222000055550002"), behaviour: "return" });
    const before = await available();
    const rejected = await client.post<Json>("/v1/payouts", payoutBody(1_000, { payee: payee("6222000055550001") }));
    expect(rejected.body).toMatchObject({ status: "failed", failure_code: "AC04" });
    expect(await available()).toBe(before);
    const back = await client.post<Json>("/v1/payouts", payoutBody(3_000, { payee: payee("6222000055550002") }));
    expect(back.body.status).toBe("succeeded");
    const returned = await waitStatus(back.body.payout_id, "returned");
    expect(returned.returned_at).not.toBeNull();
    expect(await available()).toBe(before);
    // Each step is its own journal entry (the return comes a moment after success, so the balance
    // in between is read from the journal rather than raced for).
    const entries = await app.ctx.db.selectFrom("journal_entries").select(["event_type", "amount"]).where("reference_id", "=", back.body.payout_id).execute();
    expect(entries.map((e) => `${e.event_type} ${e.amount}`).sort()).toEqual([`payout_reserved ${300_000 + FEE_MIN}`, `payout_returned ${300_000 + FEE_MIN}`, `payout_settled ${300_000 + FEE_MIN}`]);
    expect((await events("payout.returned")).map((e) => e.payout_id)).toEqual([back.body.payout_id]);
    expect((await events("payout.failed")).map((e) => e.payout_id)).toEqual([rejected.body.payout_id]);
  });

  it("a repeat with the same out_payout_no answers the first payout; other parameters are a conflict", async () => {
    const body = payoutBody(10);
    const first = await client.post<Json>("/v1/payouts", body);
    const again = await client.post<Json>("/v1/payouts", body);
    expect([first.status, again.status, again.body.payout_id]).toEqual([201, 200, first.body.payout_id]);
    const other = await client.post<Json>("/v1/payouts", { ...body, amount: 11 });
    expect([other.status, other.body.error.code]).toEqual([409, "duplicate_out_trade_no"]);
  });

  it("a merchant ID under a settlement hold cannot pay out (single or batch), and can again once a second operator releases the hold", async () => {
    const before = await available();
    expect((await app.admin("PUT", `/admin/v1/merchants/${merchant_id}/settlement-hold`, { reason: "risk review" })).status).toBe(200);
    const held = await client.post<Json>("/v1/payouts", payoutBody(10));
    expect([held.status, held.body.error?.code]).toEqual([422, "payouts_held"]);
    const batch = await client.post<Json>("/v1/payout-batches", { out_batch_no: `held-${n}`, payouts: [payoutBody(10), payoutBody(20)] });
    expect(batch.status).toBe(201);
    expect(batch.body.lines.map((l: Json) => l.error?.code)).toEqual(["payouts_held", "payouts_held"]);
    expect(await available()).toBe(before); // nothing reserved
    const release = await app.admin("DELETE", `/admin/v1/merchants/${merchant_id}/settlement-hold`);
    expect(release.status).toBe(202);
    const checker = await createOperator(app.ctx, { name: `checker-${n}`, role: "operator" });
    expect((await app.admin("POST", `/admin/v1/proposals/${release.body.proposal_id}/approve`, {}, checker.token)).body.status).toBe("approved");
    const paid = await client.post<Json>("/v1/payouts", payoutBody(10));
    expect(paid.status, paid.text).toBe(201);
    expect(await available()).toBe(before - 1_000 - (paid.body.fee as number));
  });

  it("50 concurrent payouts against a balance that covers 30 reserve exactly 30, and none goes negative", async () => {
    const each = 1_000 * 100 + FEE_MIN;
    const spare = await available();
    // Leave exactly 30 payouts' worth: pay the rest out to a reserve-bank payee.
    if (spare > 30 * each) {
      const drain = await client.post<Json>("/v1/payouts", payoutBody(0, { amount: spare - 30 * each - FEE_MIN - Math.floor(((spare - 30 * each - FEE_MIN) * 10) / 10_000) - 1, payee: payee("6222020200110000", "102100000015") }));
      expect(drain.status).toBe(201);
    }
    const left = await available();
    expect(left).toBeGreaterThanOrEqual(30 * each);
    expect(left).toBeLessThan(31 * each);
    const answers = await Promise.all(Array.from({ length: 50 }, () => client.post<Json>("/v1/payouts", payoutBody(1_000))));
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(30);
    expect(answers.filter((a) => a.status === 422).map((a) => a.body.error.code)).toEqual(Array(20).fill("insufficient_balance"));
    expect(await available()).toBe(left - 30 * each);
    expect(await available()).toBeGreaterThanOrEqual(0);
    const trial = await app.admin("GET", "/admin/v1/ledger/trial-balance");
    expect(trial.body.balanced).toBe(true);
  });

  it("operators see the rails; a cost change waits for a second operator, a cap change applies", async () => {
    const cap = await app.admin("PATCH", "/admin/v1/rails/ibps", { per_item_max: 2_000_000 });
    expect([cap.status, cap.body.per_item_max]).toEqual([200, 2_000_000]);
    const cost = await app.admin("PATCH", "/admin/v1/rails/beps", { cost_per_item: 1 });
    expect(cost.status).toBe(202);
    const rails = await app.admin("GET", "/admin/v1/rails");
    expect(rails.body.data.find((r: Json) => r.rail === "beps").cost_per_item).toBe(50);
    // A rail's cost decides where money goes: an admin approves it, as a channel's cost; an operator cannot.
    const operator = await createOperator(app.ctx, { name: "rail-operator", role: "operator" });
    const by_operator = await app.admin("POST", `/admin/v1/proposals/${cost.body.proposal_id}/approve`, {}, operator.token);
    expect(by_operator.status).toBe(403);
    const admin = await createOperator(app.ctx, { name: "rail-admin", role: "admin" });
    expect((await app.admin("POST", `/admin/v1/proposals/${cost.body.proposal_id}/approve`, {}, admin.token)).body.status).toBe("approved");
    expect((await app.admin("GET", "/admin/v1/rails")).body.data.find((r: Json) => r.rail === "beps").cost_per_item).toBe(1);
    expect((await app.admin("PATCH", "/admin/v1/rails/swift", { enabled: false })).status).toBe(400);
    await app.admin("PATCH", "/admin/v1/rails/ibps", { per_item_max: 5_000_000 });
  });
});
