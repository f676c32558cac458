import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown>;

/**
 * A network whose calls keep timing out becomes unhealthy and routing leaves it: a unified bank's
 * card pays through the other network by sign sync. Operators see it in the channel list.
 */
describe("channel health steers routing", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let client: PaycoreClient;

  beforeAll(async () => {
    app = await startTestApp({ label: "health", clock, sandbox: true, channel_timeout_ms: 1_000 });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
  });
  afterAll(async () => app.close());

  it("moves payments off a network that times out", async () => {
    const card = pickCard(await catalogue(app), { unified: true });
    const agreement_id = await signCard(app, client, card, "health-sign");
    const pay = (n: string) => client.post<Json>("/v1/payments", { out_trade_no: n, agreement_id, amount: 100, currency: "CNY", description: "health" });
    const first = await pay("h-0");
    const home = first.body.channel as string;
    // The network stops answering debits and queries; its notifications are off too.
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: null });
    for (const operation of ["pay", "query"]) await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: home, operation, kind: "timeout", rate: 1, seed: 9 });
    const stuck: Json[] = [];
    let moved: Json | null = null;
    for (let i = 1; i <= 10 && !moved; i++) {
      const p = (await pay(`h-${i}`)).body;
      if (p.channel === home) stuck.push(p);
      else moved = p;
    }
    // Timeouts are pending, never failures; after enough of them the network is unhealthy.
    expect(stuck.length).toBeGreaterThanOrEqual(1);
    expect(stuck.every((p) => p.status === "processing")).toBe(true);
    expect(moved).not.toBeNull();
    expect(moved!.status).toBe("succeeded");
    expect(String(moved!.route_reason)).toContain(`${home} unhealthy`);
    const channels = await app.admin("GET", "/admin/v1/channels");
    const view = (channels.body.data as { channel_id: string; health: { healthy: boolean; errors: number } }[]).find((c) => c.channel_id === home)!;
    expect(view.health.healthy).toBe(false);
    expect(view.health.errors).toBe(stuck.length);

    // The network answers again: the stuck debits become final by query, each exactly once.
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    for (let i = 0; i < 10; i++) {
      clock.advance(61_000);
      await app.sweep();
    }
    for (const p of stuck) expect((await client.get<Json>(`/v1/payments/${p.payment_id as string}`)).body.status).toBe("succeeded");
  });
});
