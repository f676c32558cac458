import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import type { StatementRecord } from "../../src/channels/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { PaycoreError } from "../../src/kernel/errors.ts";
import { runReconciliation } from "../../src/reconciliation/index.ts";
import { createOperator } from "../../src/operators/index.ts";
import { runSettlement, type RunProgress } from "../../src/settlement/index.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Progress of long operations as the console reads it (docs/console.md): a settlement run and a
 * reconciliation run keep their phase and counters on their own row, read through the admin API
 * by any process; a payout batch's progress is its lines with a final outcome. Every run here is
 * finished when it is read: the test checks what was recorded, never how fast.
 */
describe("progress of settlement runs, reconciliation runs and payout batches", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z"); // Saturday 11:00 Beijing
  const DAY = "2026-05-02";
  let app: TestApp;
  let client: PaycoreClient;
  let merchant_id = "";
  let legal_name = "";
  let channel = "";
  let auditor = "";
  const previous_sandbox_url = process.env.SANDBOX_URL;

  beforeAll(async () => {
    app = await startTestApp({ label: "progress", clock, sandbox: true, channel_timeout_ms: 2_000 });
    process.env.SANDBOX_URL = app.sandbox!.url; // the admin run pays through this sandbox's bank
    legal_name = `上海进度科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }, { product: "payout", fee_rate_bps: 10, fee_min: 500 }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    client = app.merchantClient(m.creds);
    const agreement_id = await signCard(app, client, pickCard(await catalogue(app), { unified: true }), "sign-progress");
    for (const [i, amount] of [10_000, 20_000, 30_000].entries()) {
      clock.advance(1_000);
      const paid = await client.post<Json>("/v1/payments", { out_trade_no: `prog-${i}`, agreement_id, amount, currency: "CNY", description: "progress" });
      expect(paid.body.status).toBe("succeeded");
      channel = paid.body.channel;
    }
    auditor = (await createOperator(app.ctx, { name: "aud", role: "auditor" })).token;
    clock.set("2026-05-04T01:00:00Z"); // Monday 09:00 Beijing: Saturday and Sunday have closed
  }, 60_000);
  afterAll(async () => {
    if (previous_sandbox_url === undefined) delete process.env.SANDBOX_URL;
    else process.env.SANDBOX_URL = previous_sandbox_url;
    await app?.close();
  });

  it("a settlement run keeps its progress and outcome on its row, readable by an auditor", async () => {
    const run = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-04" });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body.run_id).toMatch(/^srn_/);
    expect(run.body.records_created).toBe(1);
    const got = await app.admin("GET", `/admin/v1/settlements/runs/${run.body.run_id}`, undefined, auditor);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      run_id: run.body.run_id,
      date: "2026-05-04",
      status: "done",
      operator_id: expect.stringMatching(/^op_/),
      records_created: 1,
      payouts_created: 1,
      amount_instructed: run.body.amount_instructed,
      error: null,
      finished_at: expect.any(String),
    });
    // The last point written: the payout phase, every open instruction executed.
    expect(got.body.progress).toMatchObject({ phase: "done", done: run.body.payouts.attempted, total: run.body.payouts.attempted });
    const listed = await app.admin("GET", "/admin/v1/settlements/runs?date=2026-05-04", undefined, auditor);
    expect(listed.body.data.map((r: Json) => r.run_id)).toEqual([run.body.run_id]);
    expect((await app.admin("GET", "/admin/v1/settlements/runs?status=running")).body.data).toEqual([]);
    expect((await app.admin("GET", "/admin/v1/settlements/runs/srn_nope")).status).toBe(404);
  });

  it("records the same counters the CLI prints, and no row for a date that has not begun", async () => {
    const points: RunProgress[] = [];
    const summary = await runSettlement(app.deps.payouts!, { date: "2026-05-04", execute: false, on_progress: (p) => points.push(p) });
    const row = (await app.admin("GET", `/admin/v1/settlements/runs/${summary.run_id}`)).body;
    const last = points.at(-1)!;
    expect(last.phase).toBe("settle");
    expect(row).toMatchObject({ status: "done", operator_id: null, records_created: 0, progress: { phase: "done", done: last.done, total: last.total } });
    expect(last.done).toBe(summary.groups);
    const early = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-06" });
    expect(early.body.error?.code).toBe("business_day_not_closed");
    expect((await app.admin("GET", "/admin/v1/settlements/runs?date=2026-05-06")).body.data).toEqual([]);
  });

  it("a reconciliation run shows its phase and lines, the same on the list and the run", async () => {
    const res = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.line_count).toBe(3);
    expect(res.body.progress).toMatchObject({ phase: "done", done: 3, total: 3, updated_at: expect.any(String) });
    expect(res.body.error).toBeNull();
    const one = await app.admin("GET", `/admin/v1/reconciliations/${res.body.reconciliation_id}`, undefined, auditor);
    expect(one.body.progress).toEqual(res.body.progress);
    const again = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });
    expect(again.body).toMatchObject({ run_count: 2, progress: { phase: "done", done: 3, total: 3 }, error: null });
  });

  it("an attempt that fails after claiming its day records the error; running the day again takes it over at once", async () => {
    const DAY2 = "2026-05-03";
    // A file read elsewhere (as the CLI reads one from disk) whose stream breaks after a line.
    async function* broken(): AsyncGenerator<StatementRecord> {
      yield { kind: "pay", network_txn_id: "ntx-broken-1", txn_id: "t-1", order_id: "pay_unknown", amount_fen: 100n, fee_fen: 1n, settlement_amount_fen: 99n, card_masked: "6222****0001" };
      throw new PaycoreError("channel_unavailable", "the download stopped after line 1");
    }
    await expect(runReconciliation(app.deps, { channel_id: channel, date: DAY2, file: { sha256: null, records: broken() } })).rejects.toMatchObject({ code: "channel_unavailable" });
    const failed = (await app.admin("GET", `/admin/v1/reconciliations?channel=${channel}&date=${DAY2}`, undefined, auditor)).body.data[0];
    expect(failed).toMatchObject({ status: "running", error: "channel_unavailable: the download stopped after line 1", progress: { phase: "failed" } });
    // Not 15 minutes later (the lease): at once, on the same clock.
    const again = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY2 });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ reconciliation_id: failed.reconciliation_id, status: "done", run_count: 2, error: null, progress: { phase: "done", done: 0, total: 0 } });
  });

  it("a payout batch's progress is its lines with a final outcome", async () => {
    const dep = await app.sandbox!.send<{ deposit_id: string }>("POST", "/sandbox/v1/deposits", { merchant_id, amount: 1_000_00, payer: { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" } });
    expect(dep.status).toBe(201);
    const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;
    for (let i = 0; i < 400 && (await available()) < 1_000_00; i++) await new Promise((r) => setTimeout(r, 25));
    const payee = (i: number) => ({ account_name: "上海某某贸易有限公司", account_number: `62220000${String(i).padStart(8, "0")}`, bank_code: "105100000017" });
    const lines = [1, 2].map((i) => ({ out_payout_no: `pb-${i}`, amount: 100_00, payee: payee(i), purpose: "货款" }));
    const res = await client.post<Json>("/v1/payout-batches", { out_batch_no: "progress-1", payouts: [...lines, { out_payout_no: "pb-bad", amount: 0, payee: payee(3), purpose: "货款" }] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const final = res.body.counts.succeeded + res.body.counts.failed + res.body.counts.returned + res.body.counts.rejected;
    expect(res.body.counts.rejected).toBe(1);
    const listed = await app.admin("GET", `/admin/v1/payout-batches?merchant_id=${merchant_id}`, undefined, auditor);
    expect(listed.body.data).toEqual([expect.objectContaining({ batch_id: res.body.batch_id, line_count: 3, lines_done: 3, finished: true, lines_final: final })]);
    expect(final).toBeGreaterThanOrEqual(1);
  });
});
