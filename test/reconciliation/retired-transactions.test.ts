import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const RECORDS_MAX = 8;
const RETENTION_MS = 60_000;
const PAYMENTS = 2 * RECORDS_MAX;

/**
 * A sandbox that keeps few transactions in memory (src/sandbox/engine.ts retires them to its
 * archive): paycore pays more than it holds, refunds a retired payment, asks the network about a
 * retired payment whose outcome it never heard, and reconciles the day from a statement that lists
 * them all.
 */
describe("reconciliation when the sandbox has retired most of the day", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  const DAY = "2026-05-02";
  let app: TestApp;
  let client: PaycoreClient;
  let agreement_id = "";
  let n = 0;
  const payments: Json[] = [];

  async function pay(amount: number): Promise<Json> {
    n += 1;
    clock.advance(20_000); // three payments a retention: the older ones retire as the day goes on
    const res = await client.post<Json>("/v1/payments", { out_trade_no: `rt-${n}`, agreement_id, amount, currency: "CNY", description: "retired" });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  beforeAll(async () => {
    app = await startTestApp({ label: "recon_retired", clock, sandbox: true, channel_timeout_ms: 2_000, sandbox_world: { records_max: RECORDS_MAX, records_retention_ms: RETENTION_MS } });
    client = app.merchantClient((await createTestMerchant(app)).creds);
    agreement_id = await signCard(app, client, pickCard(await catalogue(app), { unified: true }), "sign-retired");
  });
  afterAll(async () => app.close());

  it("pays past the sandbox's table, refunds a retired payment and settles a retired unknown outcome", async () => {
    // An outcome paycore never hears of: processing until it asks the network, long after.
    const channel = (await pay(1_000)).channel as string;
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind: "unknown", rate: 1, seed: 3 });
    const unknown = await pay(6_000);
    expect(unknown.status).toBe("processing");
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    for (let i = 0; i < PAYMENTS; i++) payments.push(await pay(2_000 + i));
    const world = (await app.sandbox!.get<Json>("/sandbox/v1/world")).body;
    expect(world.records_in_memory).toBeLessThanOrEqual(RECORDS_MAX);
    expect(world.records_retired).toBeGreaterThanOrEqual(PAYMENTS - RECORDS_MAX);
    expect(world.archive_bytes).toBeGreaterThan(0);

    const refund = await client.post<Json>(`/v1/payments/${payments[0]!.payment_id}/refunds`, { out_refund_no: "rt-r1", amount: 500, reason: "retired" });
    expect(refund.body.status, JSON.stringify(refund.body)).toBe("succeeded");

    clock.advance(20 * 3_600_000); // the next morning: the day is closed, its file is out
    const res = await app.admin("POST", "/admin/v1/reconciliations", { channel, date: DAY });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    // Every payment and the refund is in the file; the unknown one was settled by asking the network.
    expect(res.body.counts).toEqual({ matched: PAYMENTS + 2, network_only: 0, platform_only: 0, amount_mismatch: 0, status_mismatch: 1, fee_mismatch: 0, buffered: 0 });
    expect((await client.get<Json>(`/v1/payments/${unknown.payment_id}`)).body.status).toBe("succeeded");
  });
});
