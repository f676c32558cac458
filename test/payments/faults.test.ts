import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { cardBody, catalogue, lastOtp, pickCard, signCard, type SandboxCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string } };

/**
 * Every fault kind of the sandbox on the debit ends in a final payment state that matches the
 * network's own record: the card's balance moved by exactly the amount once for a success, not at
 * all for a failure.
 */
describe("payments under network faults", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z");
  let app: TestApp;
  let client: PaycoreClient;
  let card: SandboxCard;
  let agreement_id = "";
  let channel = "";
  let n = 0;

  beforeAll(async () => {
    app = await startTestApp({ label: "faults", clock, sandbox: true, channel_timeout_ms: 1_500 });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    card = pickCard(await catalogue(app), { unified: true });
    agreement_id = await signCard(app, client, card, "sign-faults");
    const probe = await pay(1);
    channel = probe.channel as string;
  });
  afterEach(async () => {
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
  });
  afterAll(async () => app.close());

  async function pay(amount: number): Promise<Json> {
    n += 1;
    const res = await client.post<Json>("/v1/payments", { out_trade_no: `f-${n}`, agreement_id, amount, currency: "CNY", description: "fault test" });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  async function balance(): Promise<number> {
    const cards = await catalogue(app);
    return cards.find((c) => c.card_number === card.card_number)!.balance;
  }

  async function fault(kind: string, extra: Record<string, unknown> = {}) {
    const res = await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel, operation: "pay", kind, rate: 1, seed: 7, ...extra });
    expect(res.status).toBeLessThan(300);
  }

  /** Moves time and sweeps until the payment is final (bounded). */
  async function settle(payment_id: string): Promise<Json> {
    for (let i = 0; i < 20; i++) {
      const p = await client.get<Json>(`/v1/payments/${payment_id}`);
      if (p.body.status !== "processing") return p.body;
      clock.advance(61_000);
      await app.sweep();
    }
    throw new Error(`payment ${payment_id} never became final`);
  }

  it("latency: the payment succeeds once the network answers", async () => {
    const before = await balance();
    await fault("latency", { latency_ms: 100 });
    const p = await pay(300);
    expect(p.status).toBe("succeeded");
    expect(await balance()).toBe(before - 300);
  });

  it("timeout: processing at first, then final from the network's record, one debit", async () => {
    const before = await balance();
    await fault("timeout");
    const p = await pay(400);
    // No answer to the debit: processing — unless the network's own notification of the result
    // reached paycore before paycore gave up waiting, which also makes it final.
    expect(["processing", "succeeded"]).toContain(p.status);
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    const final = await settle(p.payment_id as string);
    const after = await balance();
    if (final.status === "succeeded") expect(after).toBe(before - 400);
    else expect(after).toBe(before);
    expect(final.status).toBe("succeeded"); // the sandbox processed the debit and only the answer was lost
  });

  it("unknown outcome: processing, and the query decides", async () => {
    const before = await balance();
    await fault("unknown");
    const p = await pay(500);
    // Processing, unless the network's notification of the result already arrived.
    expect(["processing", "succeeded"]).toContain(p.status);
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    const final = await settle(p.payment_id as string);
    expect(final.status).toBe("succeeded");
    expect(await balance()).toBe(before - 500);
  });

  it("decline: failed with the network's reason, no debit", async () => {
    const before = await balance();
    await fault("decline", { decline_code: "insufficient_funds" });
    const p = await pay(600);
    expect(p.status).toBe("failed");
    expect(p.failure_code).toBeTruthy();
    expect(await balance()).toBe(before);
  });

  it("duplicated notifications change nothing twice", async () => {
    const before = await balance();
    await fault("duplicate_notify");
    const p = await pay(700);
    const final = await settle(p.payment_id as string);
    expect(final.status).toBe("succeeded");
    expect(await balance()).toBe(before - 700);
    const events = await app.ctx.db.withTables<{ notify_events: { dedupe_key: string } }>().selectFrom("notify_events").select("dedupe_key").where("dedupe_key", "=", `payment.succeeded:${p.payment_id as string}`).execute();
    expect(events).toHaveLength(1);
    const entries = await app.ctx.db.withTables<{ journal_entries: { reference_id: string } }>().selectFrom("journal_entries").select("reference_id").where("reference_id", "=", p.payment_id as string).execute();
    expect(entries).toHaveLength(1);
  });

  it("sign confirm with no clear answer: paycore asks the network and makes the agreement", async () => {
    const fresh = pickCard(await catalogue(app), { unified: true, skip: [card.card_number] });
    const start = await client.post<Json & { sign_request_id: string }>("/v1/agreements", { out_request_no: "sign-unknown", user_ref: "u-unknown", card: cardBody(fresh) });
    expect(start.body.status).toBe("otp_sent");
    const signing_channel = (await app.ctx.db.selectFrom("sign_requests").select("channel_id").where("sign_request_id", "=", start.body.sign_request_id).executeTakeFirstOrThrow()).channel_id!;
    const res = await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: signing_channel, operation: "confirm", kind: "unknown", rate: 1, seed: 5 });
    expect(res.status).toBeLessThan(300);
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: await lastOtp(app, fresh.phone) });
    expect(confirm.status).toBe(201);
    expect(confirm.body.status).toBe("active");
  });

  it("insufficient funds at the bank: failed, no debit", async () => {
    const poor = (await catalogue(app)).find((c) => c.status === "normal" && c.card_type === "debit" && c.balance < 10_000);
    expect(poor).toBeDefined();
    const agr = await signCard(app, client, poor!, "sign-poor");
    const res = await client.post<Json>("/v1/payments", { out_trade_no: "f-poor", agreement_id: agr, amount: poor!.balance + 1, currency: "CNY", description: "too much" });
    expect(res.body.status).toBe("failed");
    expect(res.body.failure_code).toBe("insufficient_funds");
    const after = (await catalogue(app)).find((c) => c.card_number === poor!.card_number)!;
    expect(after.balance).toBe(poor!.balance);
  });
});
