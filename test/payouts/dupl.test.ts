import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, testUscc, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bj = (local: string) => new Date(`${local}+08:00`);
const FEE_MIN = 500;
/** CCB: in IBPS, so a 20,000-yuan payout goes by IBPS (7×24, real time) at any hour. */
const CCB = "105100000017";
const PAYEE_ACCOUNT = "6222000077770001";
const AMOUNT = 2_000_000; // 20,000.00 yuan

/**
 * A rail that answers DUPL to a resend of a message id it already has (sandbox `resend: "dupl"`),
 * as real rails do. The first answer is lost (a `timeout` fault on IBPS `pay`: the credit settles
 * at the rail, paycore hears nothing); the status query does not find the message (a `decline`
 * fault on `query`: a rail whose query side lags its intake), so paycore sends the same message
 * id again and gets `RJCT DUPL`. That must not fail the payout or give the reservation back: the
 * next status query finds the first message settled. Both engines, the sandbox over HTTP.
 */
describe("a payout whose resend the rail answers DUPL", () => {
  let app: TestApp;
  let client: PaycoreClient;
  let merchant_id = "";
  const clock = new ManualClock(bj("2026-12-01T10:00:00"));
  const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;
  const credits = async () => (await app.sandbox!.get<{ data: Json[] }>(`/sandbox/v1/rails/credits?account_number=${PAYEE_ACCOUNT}`)).body.data;
  const fault = async (body: Json) => expect((await app.sandbox!.send("POST", "/sandbox/v1/faults", body)).status).toBe(201);
  const clearFaults = async () => expect((await app.sandbox!.send("DELETE", "/sandbox/v1/faults")).status).toBe(200);
  const sweepLater = async () => {
    clock.advance(60_000);
    await app.sweep();
  };

  beforeAll(async () => {
    app = await startTestApp({ label: "payouts-dupl", clock, sandbox: true });
    const legal_name = `上海测试科技有限公司${Math.random().toString(36).slice(2, 6)}`;
    const entity = await app.admin("POST", "/admin/v1/entities", { legal_name, uscc: testUscc() });
    const m = await createTestMerchant(app, { products: [{ product: "payout", fee_rate_bps: 10, fee_min: FEE_MIN }] }, entity.body.entity_id);
    merchant_id = m.merchant.merchant_id;
    client = app.merchantClient(m.creds);
    const payer = { account_name: legal_name, account_number: "6222020200998877", bank_code: "102100000015" };
    expect((await app.sandbox!.send("POST", "/sandbox/v1/deposits", { merchant_id, amount: 10_000_000, payer })).status).toBe(201);
    for (let i = 0; i < 400 && (await available()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await available()).toBe(10_000_000);
  }, 60_000);
  afterAll(async () => app?.close());

  it("stays processing on DUPL and ends succeeded with one credit and the reservation kept", async () => {
    const rail = await app.sandbox!.send<Json>("POST", "/sandbox/v1/rails/ibps", { resend: "dupl" });
    expect([rail.status, rail.body.resend]).toEqual([200, "dupl"]);
    await fault({ channel: "ibps", operation: "pay", kind: "timeout" });
    const before = await available();

    const created = await client.post<Json>("/v1/payouts", { out_payout_no: "dupl-1", amount: AMOUNT, payee: { account_name: "上海某某贸易有限公司", account_number: PAYEE_ACCOUNT, bank_code: CCB }, purpose: "货款", urgency: "normal" });
    expect([created.status, created.body.status, created.body.rail]).toEqual([201, "processing", "ibps"]);
    const payout_id = created.body.payout_id as string;
    const { msg_id } = await app.ctx.db.selectFrom("payouts").select("msg_id").where("payout_id", "=", payout_id).executeTakeFirstOrThrow();
    expect((await credits()).map((c) => c.msg_id)).toEqual([msg_id]); // the first message settled; its answer was lost

    await clearFaults();
    await fault({ channel: "ibps", operation: "query", kind: "decline" });
    await sweepLater(); // query: not found → the same message id again → RJCT DUPL
    const after_dupl = await app.ctx.db.selectFrom("payouts").select(["status", "msg_id", "failure_code"]).where("payout_id", "=", payout_id).executeTakeFirstOrThrow();
    expect(after_dupl).toEqual({ status: "processing", msg_id, failure_code: null });

    await clearFaults();
    await sweepLater(); // the status query of the original message decides
    const done = (await client.get<Json>(`/v1/payouts/${payout_id}`)).body;
    expect(done.status).toBe("succeeded");
    const paid = await credits();
    expect(paid.map((c) => [c.msg_id, c.end_to_end_id, c.amount])).toEqual([[msg_id, payout_id, AMOUNT]]);
    expect(await available()).toBe(before - AMOUNT - (done.fee as number));
    const entries = await app.ctx.db.selectFrom("journal_entries").select("event_type").where("reference_id", "=", payout_id).orderBy("event_type").execute();
    expect(entries.map((e) => e.event_type)).toEqual(["payout_reserved", "payout_settled"]);
    const events = await app.ctx.db.selectFrom("notify_events").select("type").where("merchant_id", "=", merchant_id).where("type", "in", ["payout.succeeded", "payout.failed"]).execute();
    expect(events.map((e) => e.type)).toEqual(["payout.succeeded"]);
  }, 60_000);

  it("flags a payout the rail neither settles nor refuses after the whole query schedule, keeps asking, and settles it later", async () => {
    expect((await app.sandbox!.send("POST", "/sandbox/v1/rails/ibps", { resend: "dupl" })).status).toBe(200);
    await fault({ channel: "ibps", operation: "pay", kind: "timeout" });
    const before = await available();
    const created = await client.post<Json>("/v1/payouts", { out_payout_no: "dupl-forever", amount: AMOUNT, payee: { account_name: "上海某某贸易有限公司", account_number: PAYEE_ACCOUNT, bank_code: CCB }, purpose: "货款", urgency: "normal" });
    expect([created.status, created.body.status]).toEqual([201, "processing"]);
    const payout_id = created.body.payout_id as string;
    await clearFaults();
    await fault({ channel: "ibps", operation: "query", kind: "decline" }); // never found, every resend DUPL
    const flagged = async () => (await app.admin("GET", "/admin/v1/payouts?alert=true&status=processing")).body.data as Json[];
    const row = () => app.ctx.db.selectFrom("payouts").select(["status", "attempt_count", "alert", "next_attempt_at"]).where("payout_id", "=", payout_id).executeTakeFirstOrThrow();

    // One status query short of the schedule: not flagged yet.
    for (let i = 0; i < 70 && (await row()).attempt_count < 65; i++) await sweepLater();
    expect(await row()).toMatchObject({ status: "processing", attempt_count: 65, alert: false });
    expect(await flagged()).toEqual([]);
    await sweepLater();
    const at_alert = await row();
    expect(at_alert).toMatchObject({ status: "processing", attempt_count: 66, alert: true });
    const listed = await flagged();
    expect(listed.map((p) => [p.payout_id, p.status, p.alert, p.attempt_count])).toEqual([[payout_id, "processing", true, 66]]);
    const stats = await app.admin("GET", "/admin/v1/stats/overview?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&bucket=day");
    expect(stats.body.open.payout_alerts).toBe(1);
    // The money stays reserved: it may have left.
    expect(await available()).toBe(before - AMOUNT - (created.body.fee as number));

    // Flagged: asked every ten minutes from now on, not every minute.
    await sweepLater();
    expect((await row()).attempt_count).toBe(67);
    await sweepLater();
    expect((await row()).attempt_count).toBe(67);

    await clearFaults();
    clock.advance(10 * 60_000);
    await app.sweep();
    expect((await client.get<Json>(`/v1/payouts/${payout_id}`)).body.status).toBe("succeeded");
    expect(await flagged()).toEqual([]); // the flag stays on the row as its history; the open count drops
    expect(((await app.admin("GET", "/admin/v1/payouts?alert=true")).body.data as Json[]).map((p) => p.payout_id)).toEqual([payout_id]);
    expect((await app.admin("GET", "/admin/v1/stats/overview?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&bucket=day")).body.open.payout_alerts).toBe(0);
    expect((await credits()).filter((c) => c.end_to_end_id === payout_id)).toHaveLength(1);
  }, 120_000);
});
