import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { QUERY_ATTEMPTS_MAX } from "../../src/payments/states.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown>;

describe("the sweeper's query schedule", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let client: PaycoreClient;
  let agreement_id = "";
  let channel = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "sweep", clock, sandbox: true });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    const card = pickCard(await catalogue(app), { unified: true });
    agreement_id = await signCard(app, client, card, "sweep-sign");
    const probe = await client.post<Json>("/v1/payments", { out_trade_no: "probe", agreement_id, amount: 1, currency: "CNY", description: "probe" });
    channel = probe.body.channel as string;
  });
  afterAll(async () => app.close());

  it("backs off 1, 2, 4, 8, 16, 32 s, then every minute, then raises an alert for operators", async () => {
    // Only queries may tell the outcome here: the network's own notifications are switched off.
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind: "unknown", rate: 1, seed: 3 });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "query", kind: "unknown", rate: 1, seed: 3 });
    const p = await client.post<Json>("/v1/payments", { out_trade_no: "stuck", agreement_id, amount: 100, currency: "CNY", description: "stuck" });
    expect(p.body.status).toBe("processing");
    const delays: number[] = [];
    for (let i = 0; i < QUERY_ATTEMPTS_MAX + 2; i++) {
      const admin = await app.admin("GET", `/admin/v1/payments/${p.body.payment_id}`);
      const next = new Date(admin.body.next_query_at).getTime();
      delays.push(Math.round((next - clock.now().getTime()) / 1000));
      clock.set(next);
      await app.sweep();
    }
    expect(delays.slice(0, 8)).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
    const final = await app.admin("GET", `/admin/v1/payments/${p.body.payment_id}`);
    expect(final.body.status).toBe("processing");
    expect(final.body.alert).toBe(true);
    const alerts = await app.admin("GET", "/admin/v1/payments?alert=true");
    expect(alerts.body.data.map((x: { payment_id: string }) => x.payment_id)).toContain(p.body.payment_id);

    // Once the network answers again, the payment becomes final and the alert clears with it.
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    clock.advance(11 * 60_000);
    await app.sweep();
    const done = await app.admin("GET", `/admin/v1/payments/${p.body.payment_id}`);
    expect(done.body.status).toBe("succeeded");
  });
});
