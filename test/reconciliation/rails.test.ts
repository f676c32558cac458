import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bj = (local: string) => new Date(`${local}+08:00`);
/** Payee banks: CCB is in IBPS, CIB is not (BEPS). */
const CCB = "105100000017";
const CIB = "309100000018";

/**
 * Payout rails as reconciliation channels, against the live sandbox rails: a day of payouts over
 * IBPS and BEPS, each rail's signed statement file fetched and matched against paycore's payouts;
 * one injected difference (an IBPS line with another amount) found; a file whose signed answer
 * was altered refused with an alert.
 */
describe("reconciliation of payout rails", () => {
  const clock = new ManualClock(bj("2026-12-01T10:00:00"));
  const DAY = "2026-12-01";
  let app: TestApp;
  let client: PaycoreClient;
  let merchant_id = "";
  let n = 0;
  const ibps: Json[] = [];
  const beps: Json[] = [];

  const payout = async (yuan: number, bank_code: string): Promise<Json> => {
    n += 1;
    clock.advance(60_000);
    const body = { out_payout_no: `rp-${n}`, amount: yuan * 100, payee: { account_name: "上海某某贸易有限公司", account_number: `62220000${String(n).padStart(8, "0")}`, bank_code }, purpose: "货款", urgency: "normal" };
    const res = await client.post<Json>("/v1/payouts", body);
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const waitStatus = async (payout_id: string, status: string): Promise<Json> => {
    for (let i = 0; i < 400; i++) {
      const p = (await client.get<Json>(`/v1/payouts/${payout_id}`)).body;
      if (p.status === status) return p;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`payout ${payout_id} never became ${status}`);
  };
  const statementFault = async (channel: string, kind: string) => {
    const res = await app.sandbox!.send("POST", "/sandbox/v1/statement-faults", { channel, date: DAY, kind, count: 1 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  };
  const reconcile = (channel: string) => app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });

  beforeAll(async () => {
    app = await startTestApp({ label: "recon_rails", clock, sandbox: true });
    const legal_name = `上海对账科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: 500 }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    client = app.merchantClient(m.creds);
    const deposit = await app.sandbox!.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", { merchant_id, amount: 100_000_000, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" } });
    expect(deposit.status).toBe(201);
    for (let i = 0; i < 400 && (await client.get<Json>("/v1/balance")).body.available === 0; i++) await new Promise((r) => setTimeout(r, 25));
    for (const yuan of [1_000, 2_500, 3_300]) ibps.push(await payout(yuan, CCB));
    for (const yuan of [4_000, 700]) beps.push(await payout(yuan, CIB));
    expect(ibps.map((p) => [p.rail, p.status])).toEqual([["ibps", "succeeded"], ["ibps", "succeeded"], ["ibps", "succeeded"]]);
    expect(beps.map((p) => p.rail)).toEqual(["beps", "beps"]);
    for (const p of beps) await waitStatus(p.payout_id, "succeeded");
  }, 120_000);
  afterAll(async () => app?.close());

  it("refuses a rail's file whose signed answer does not verify, and alerts", async () => {
    clock.set(bj("2026-12-02T03:00:00")); // the day closed at 23:00; files are due at 02:00
    await statementFault("beps", "bad_signature");
    const res = await reconcile("beps");
    expect(res.status).toBe(503);
    expect(res.body.error.message).toMatch(/signature/);
    const alerts = await app.admin("GET", `/admin/v1/reconciliation-alerts?channel=beps&date=${DAY}`);
    expect(alerts.body.data.map((a: Json) => a.kind)).toEqual(["file_refused"]);
  });

  it("a clean rail: every payout matched, nothing open", async () => {
    const res = await reconcile("beps");
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.line_count).toBe(2);
    expect(res.body.counts).toEqual({ matched: 2, network_only: 0, platform_only: 0, amount_mismatch: 0, status_mismatch: 0, fee_mismatch: 0, buffered: 0 });
    expect(BigInt(res.body.file_net)).toBe(-470_000n);
    const open = await app.admin("GET", `/admin/v1/reconciliation-exceptions?channel=beps&date=${DAY}`);
    expect(open.body.data).toEqual([]);
  });

  it("finds the one injected difference on the other rail, and runs again to the same result", async () => {
    await statementFault("ibps", "amount"); // the rail's last line: 100 fen less
    const res = await reconcile("ibps");
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const counts = { matched: 2, network_only: 0, platform_only: 0, amount_mismatch: 1, status_mismatch: 0, fee_mismatch: 0, buffered: 0 };
    expect(res.body.counts).toEqual(counts);
    const list = async () => (await app.admin("GET", `/admin/v1/reconciliation-exceptions?channel=ibps&date=${DAY}`)).body.data as Json[];
    const found = await list();
    expect(found.map((e) => [e.kind, e.payout_id, e.platform_amount, e.network_amount])).toEqual([["amount_mismatch", ibps[2]!.payout_id, 330_000, 329_900]]);
    const again = await reconcile("ibps");
    expect(again.status).toBe(200);
    expect(again.body.counts).toEqual(counts);
    expect(await list()).toEqual(found);
    // Booking actions do not fit payouts yet: refused, nothing moves.
    const act = await app.admin("POST", `/admin/v1/reconciliation-exceptions/${found[0]!.exception_id}/resolve`, { action: "write_off", note: "test" });
    expect(act.status).toBe(400);
    expect(act.body.error.message).toMatch(/payout rail/);
  });
});
