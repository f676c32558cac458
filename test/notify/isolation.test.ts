import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { RETRY_SCHEDULE_MS, startNotifier } from "../../src/notify/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { adminEvent, enqueue, paymentData } from "./helpers.ts";
import { Receiver } from "./receiver.ts";

describe("notifications: a slow or dead receiver slows nobody else", () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  const clock = new ManualClock("2025-03-04T08:00:00Z");
  const receiver = async (mode: "ok" | "hang") => {
    const r = await Receiver.start(0, mode);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    app = await startTestApp({ label: "notify_iso", clock });
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await app.close();
  });

  it("delivers to another merchant, and commits payments with their events, while one receiver hangs", async () => {
    const slow = await receiver("hang");
    const fast = await receiver("ok");
    const a = await createTestMerchant(app, { notify_url: slow.url });
    const b = await createTestMerchant(app, { notify_url: fast.url });
    const notifier = startNotifier(app.ctx, { background: false, attempt_timeout_ms: 20_000 });
    const event_a = await enqueue(app, { merchant_id: a.creds.mch_id, type: "payment.succeeded", data: paymentData(1) });
    const event_b = await enqueue(app, { merchant_id: b.creds.mch_id, type: "payment.succeeded", data: paymentData(2) });

    const run = notifier.runOnce();
    await slow.waitFor(1);
    expect((await fast.waitFor(1))[0]!.json.id).toBe(event_b);
    // A payment (its state change and its event, one transaction) commits while the receiver hangs.
    const event_c = await enqueue(app, { merchant_id: b.creds.mch_id, type: "payment.succeeded", data: paymentData(3) });
    expect(slow.heldCount).toBe(1);

    slow.release(200);
    expect(await run).toBe(2);
    expect((await adminEvent(app, event_a)).status).toBe("delivered");
    expect((await adminEvent(app, event_b)).status).toBe("delivered");
    expect(await notifier.runOnce()).toBe(1);
    expect((await adminEvent(app, event_c)).status).toBe("delivered");
    await notifier.stop();
  });

  it("gives up an attempt that gets no answer within the timeout and schedules the retry", async () => {
    const slow = await receiver("hang");
    const a = await createTestMerchant(app, { notify_url: slow.url });
    const notifier = startNotifier(app.ctx, { background: false, attempt_timeout_ms: 200 });
    const event_id = await enqueue(app, { merchant_id: a.creds.mch_id, type: "payout.failed", data: { payout_id: "po_1" } });
    expect(await notifier.runOnce()).toBe(1);
    const d = (await adminEvent(app, event_id)).deliveries[0]!;
    expect(d.attempts).toEqual([expect.objectContaining({ result: "timeout", error: "no answer within 200 ms", http_status: null })]);
    expect(d.next_attempt_at).toBe(new Date(clock.now().getTime() + RETRY_SCHEDULE_MS[0]!).toISOString());
    await notifier.stop();
  });

  it("caps the attempts in flight per merchant, so a backlog to a dead endpoint cannot take every slot", async () => {
    const slow = await receiver("hang");
    const fast = await receiver("ok");
    const a = await createTestMerchant(app, { notify_url: slow.url });
    const b = await createTestMerchant(app, { notify_url: fast.url });
    const notifier = startNotifier(app.ctx, { background: false, concurrency: 4, per_merchant_concurrency: 2, claim_batch: 10, attempt_timeout_ms: 20_000 });
    for (let i = 0; i < 5; i++) await enqueue(app, { merchant_id: a.creds.mch_id, type: "payment.succeeded", data: paymentData(10 + i) });
    const event_b = await enqueue(app, { merchant_id: b.creds.mch_id, type: "payment.succeeded", data: paymentData(20) });

    const run = notifier.runOnce();
    await slow.waitFor(2);
    expect((await fast.waitFor(1))[0]!.json.id).toBe(event_b);
    // Two of A's are in flight: another claim takes none of A's backlog.
    expect(await notifier.runOnce()).toBe(0);
    expect(slow.received).toHaveLength(2);

    slow.mode = "ok";
    slow.release(200);
    expect(await run).toBe(3);
    expect(await notifier.runOnce()).toBe(2);
    expect(await notifier.runOnce()).toBe(1);
    expect(new Set(slow.received.map((r) => r.json.id)).size).toBe(5);
    await notifier.stop();
  });

  it("runs in the background and stops cleanly, finishing the attempt in flight", async () => {
    const fast = await receiver("ok");
    const slow = await receiver("hang");
    const b = await createTestMerchant(app, { notify_url: fast.url });
    const a = await createTestMerchant(app, { notify_url: slow.url });
    const notifier = startNotifier(app.ctx, { poll_interval_ms: 20, attempt_timeout_ms: 300 });
    const event_b = await enqueue(app, { merchant_id: b.creds.mch_id, type: "agreement.signed", data: { agreement_id: "agr_1" } });
    expect((await fast.waitFor(1))[0]!.json.id).toBe(event_b);
    const event_a = await enqueue(app, { merchant_id: a.creds.mch_id, type: "agreement.signed", data: { agreement_id: "agr_2" } });
    await slow.waitFor(1);
    await notifier.stop();
    const attempts = (await adminEvent(app, event_a)).deliveries[0]!.attempts;
    expect(attempts.map((x) => x.result)).toEqual(["timeout"]);
    expect(await notifier.runOnce()).toBe(0);
  });

  it("drains one merchant's backlog as attempts finish, not per_merchant_concurrency per poll interval", async () => {
    const r = await receiver("ok");
    const m = await createTestMerchant(app, { notify_url: r.url });
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) ids.push(await enqueue(app, { merchant_id: m.creds.mch_id, type: "payment.succeeded", data: paymentData(200 + i) }));
    // One poll at start, the next in ten minutes: only a finished attempt claiming the next
    // deliveries gets all 24 out (before, 2 went out and the rest waited for the next poll).
    const notifier = startNotifier(app.ctx, { poll_interval_ms: 600_000, per_merchant_concurrency: 2 });
    const received = await r.waitFor(ids.length);
    await notifier.stop();
    expect(received.map((x) => x.json.id).sort()).toEqual([...ids].sort());
  });

  it("lets several workers (as in several paycore processes) claim side by side: every event goes out once", async () => {
    const r = await receiver("ok");
    const merchants = [];
    for (let i = 0; i < 3; i++) merchants.push(await createTestMerchant(app, { notify_url: r.url }));
    const ids: string[] = [];
    for (let i = 0; i < 18; i++) ids.push(await enqueue(app, { merchant_id: merchants[i % 3]!.creds.mch_id, type: "payment.succeeded", data: paymentData(100 + i) }));
    const workers = [0, 1, 2].map(() => startNotifier(app.ctx, { background: false, per_merchant_concurrency: 8, claim_batch: 7 }));
    let sent = 0;
    for (let round = 0; round < 5 && sent < ids.length; round++) {
      const counts = await Promise.all(workers.map((w) => w.runOnce()));
      sent += counts.reduce((x, y) => x + y, 0);
    }
    expect(sent).toBe(ids.length);
    expect(r.received.map((x) => x.json.id).sort()).toEqual([...ids].sort());
    for (const w of workers) await w.stop();
  });
});
