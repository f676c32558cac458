import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyResponse } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { NOTIFY_LIMITS, RETRY_SCHEDULE_MS, startNotifier, type Notifier } from "../../src/notify/index.ts";
import { claimDue } from "../../src/notify/store.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { adminEvent, enqueue, paymentData } from "./helpers.ts";
import { Receiver } from "./receiver.ts";

const HOUR_MS = 3_600_000;

describe("notifications: retries on a growing schedule, same event id, redelivery", () => {
  let app: TestApp;
  let notifier: Notifier;
  const receivers: Receiver[] = [];
  const clock = new ManualClock("2025-03-02T08:00:00Z");
  const receiver = async (port = 0, mode: "ok" | "error" = "ok") => {
    const r = await Receiver.start(port, mode);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    app = await startTestApp({ label: "notify_retry", clock });
    notifier = startNotifier(app.ctx, { background: false });
  });
  afterAll(async () => {
    await notifier.stop();
    for (const r of receivers) await r.close();
    await app.close();
  });

  it("retries a receiver that is down (refused, then 500) on the schedule; when it is back it gets the same event id", async () => {
    const port = await Receiver.refusedPort();
    const m = await createTestMerchant(app, { notify_url: `http://127.0.0.1:${port}/paycore/notify` });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "payment.succeeded", data: paymentData(1) });

    expect(await notifier.runOnce()).toBe(1); // connection refused
    let ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("pending");
    expect(ev.deliveries[0]!.attempts[0]).toMatchObject({ attempt_no: 1, result: "network_error", http_status: null });
    expect(ev.deliveries[0]!.attempts[0]!.error).toContain("ECONNREFUSED");
    expect(ev.deliveries[0]!.next_attempt_at).toBe(new Date(clock.now().getTime() + RETRY_SCHEDULE_MS[0]!).toISOString());

    clock.advance(RETRY_SCHEDULE_MS[0]! - 1);
    expect(await notifier.runOnce()).toBe(0); // not due yet
    clock.advance(1);
    const back = await receiver(port, "error");
    expect(await notifier.runOnce()).toBe(1); // 500
    clock.advance(RETRY_SCHEDULE_MS[1]!);
    expect(await notifier.runOnce()).toBe(1); // 500 again
    ev = await adminEvent(app, event_id);
    expect(ev.deliveries[0]!.next_attempt_at).toBe(new Date(clock.now().getTime() + RETRY_SCHEDULE_MS[2]!).toISOString());

    back.mode = "ok";
    clock.advance(RETRY_SCHEDULE_MS[2]!);
    expect(await notifier.runOnce()).toBe(1);
    ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("delivered");
    expect(ev.deliveries[0]!.attempts.map((a) => [a.result, a.http_status])).toEqual([
      ["network_error", null],
      ["http_error", 500],
      ["http_error", 500],
      ["acknowledged", 200],
    ]);
    const got = await back.waitFor(3);
    expect(got.map((g) => g.json.id)).toEqual([event_id, event_id, event_id]);
    expect(got.map((g) => g.headers.get("paycore-event-id"))).toEqual([event_id, event_id, event_id]);
    expect(new Set(got.map((g) => g.headers.get("paycore-nonce"))).size).toBe(3);
    for (const g of got) expect(verifyResponse(m.creds.secret, g.headers, g.body)).toBe(true);
  });

  it("keeps trying for at least 24 hours, then marks the event failed; an operator redelivers it (audited), same id", async () => {
    const r = await receiver(0, "error");
    const m = await createTestMerchant(app, { notify_url: r.url });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "refund.failed", data: { refund_id: "ref_1" } });
    const first_at = clock.now().getTime();
    let last_at = first_at;
    for (let attempt = 1; attempt <= NOTIFY_LIMITS.attempts_per_delivery_max; attempt++) {
      last_at = clock.now().getTime();
      expect(await notifier.runOnce()).toBe(1);
      const d = (await adminEvent(app, event_id)).deliveries[0]!;
      if (attempt < NOTIFY_LIMITS.attempts_per_delivery_max) {
        expect(d.status).toBe("pending");
        clock.set(d.next_attempt_at!);
      } else {
        expect(d).toMatchObject({ status: "failed", next_attempt_at: null, attempt_count: NOTIFY_LIMITS.attempts_per_delivery_max });
      }
    }
    expect(last_at - first_at).toBeGreaterThanOrEqual(24 * HOUR_MS);
    expect((await adminEvent(app, event_id)).status).toBe("failed");
    clock.advance(24 * HOUR_MS);
    expect(await notifier.runOnce()).toBe(0);
    expect(new Set(r.received.map((g) => g.json.id))).toEqual(new Set([event_id]));

    r.mode = "ok";
    const redo = await app.admin("POST", `/admin/v1/events/${event_id}/redeliver`);
    expect(redo.status).toBe(201);
    expect(redo.body).toMatchObject({ event_id, origin: "redeliver", status: "pending", attempt_count: 0, next_attempt_at: clock.now().toISOString() });
    expect(await notifier.runOnce()).toBe(1);
    expect(r.received.at(-1)!.json.id).toBe(event_id);
    const ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("delivered");
    expect(ev.deliveries.map((d) => [d.origin, d.status])).toEqual([
      ["initial", "failed"],
      ["redeliver", "succeeded"],
    ]);
    const audit = await app.admin("GET", `/admin/v1/audit-log?target_type=event&target_id=${event_id}`);
    expect(audit.body.data).toEqual([expect.objectContaining({ action: "event.redeliver", before: { status: "failed" } })]);
  });

  it("redelivering an event still being retried brings its next attempt forward instead of starting another", async () => {
    const r = await receiver(0, "error");
    const m = await createTestMerchant(app, { notify_url: r.url });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "payout.succeeded", data: { payout_id: "po_1" } });
    expect(await notifier.runOnce()).toBe(1);
    expect(await notifier.runOnce()).toBe(0);
    r.mode = "ok";
    const redo = await app.admin("POST", `/admin/v1/events/${event_id}/redeliver`);
    expect(redo.status).toBe(200);
    expect(redo.body).toMatchObject({ origin: "initial", attempt_count: 1, next_attempt_at: clock.now().toISOString() });
    expect(await notifier.runOnce()).toBe(1);
    const ev = await adminEvent(app, event_id);
    expect(ev.deliveries).toHaveLength(1);
    expect(ev.status).toBe("delivered");
  });

  it("lets only admins and operators redeliver", async () => {
    const made = await app.admin("POST", "/admin/v1/operators", { name: "auditor", role: "auditor" });
    const r = await receiver();
    const m = await createTestMerchant(app, { notify_url: r.url });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "agreement.unbound", data: { agreement_id: "agr_1" } });
    expect((await app.admin("POST", `/admin/v1/events/${event_id}/redeliver`, undefined, made.body.token)).status).toBe(403);
    expect((await app.admin("GET", `/admin/v1/events/${event_id}`, undefined, made.body.token)).status).toBe(200);
    expect((await app.admin("POST", "/admin/v1/events/evt_missing/redeliver")).status).toBe(404);
  });
});

describe("notifications: a worker that dies mid-delivery loses nothing", () => {
  let app: TestApp;
  let r: Receiver;
  const clock = new ManualClock("2025-03-03T08:00:00Z");
  beforeAll(async () => {
    app = await startTestApp({ label: "notify_crash", clock });
    r = await Receiver.start();
  });
  afterAll(async () => {
    await r.close();
    await app.close();
  });

  it("retries a delivery whose worker stopped once its lease expires, and logs the lost attempt", async () => {
    const m = await createTestMerchant(app, { notify_url: r.url });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "payment.succeeded", data: paymentData(2) });
    // A worker claims the delivery and dies before sending anything.
    const lease_ms = 60_000;
    const claimed = await claimDue(app.ctx, { batch_max: 10, per_merchant_max: 4, lease_ms });
    expect(claimed.map((c) => c.event_id)).toEqual([event_id]);

    const survivor = startNotifier(app.ctx, { background: false, lease_ms });
    expect(await survivor.runOnce()).toBe(0); // still leased
    clock.advance(lease_ms);
    expect(await survivor.runOnce()).toBe(1);
    await survivor.stop();

    const ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("delivered");
    expect(ev.deliveries[0]!.attempts.map((a) => a.result)).toEqual(["abandoned", "acknowledged"]);
    expect(r.received.map((g) => g.json.id)).toEqual([event_id]);
  });

  it("ends a delivery as failed when workers keep dying on it until no attempt is left", async () => {
    const m = await createTestMerchant(app, { notify_url: r.url });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "refund.succeeded", data: { refund_id: "ref_2" } });
    const lease_ms = 60_000;
    for (let i = 0; i < NOTIFY_LIMITS.attempts_per_delivery_max; i++) {
      expect((await claimDue(app.ctx, { batch_max: 10, per_merchant_max: 4, lease_ms })).map((c) => c.attempt_no)).toEqual([i + 1]);
      clock.advance(lease_ms);
    }
    const survivor = startNotifier(app.ctx, { background: false, lease_ms });
    expect(await survivor.runOnce()).toBe(0);
    await survivor.stop();
    const ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("failed");
    expect(ev.deliveries[0]!.status).toBe("failed");
    expect(new Set(ev.deliveries[0]!.attempts.map((a) => a.result))).toEqual(new Set(["abandoned"]));
    expect(ev.deliveries[0]!.attempts).toHaveLength(NOTIFY_LIMITS.attempts_per_delivery_max);
  });
});
