import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responseStringToSign } from "../../src/api/index.ts";
import { verifyResponse } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { enqueueEvent, notificationStringToSign, startNotifier, type Notifier } from "../../src/notify/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { adminEvent, enqueue, paymentData } from "./helpers.ts";
import { Receiver } from "./receiver.ts";

describe("notifications: the outbox and signed delivery", () => {
  let app: TestApp;
  let receiver: Receiver;
  let other: Receiver;
  let notifier: Notifier;
  const clock = new ManualClock("2025-03-01T08:00:00Z");
  const secrets: string[] = [];
  const merchant = async (overrides: Record<string, unknown> = {}) => {
    const m = await createTestMerchant(app, overrides);
    secrets.push(m.creds.secret);
    return m;
  };

  beforeAll(async () => {
    app = await startTestApp({ label: "notify_dlv", clock });
    receiver = await Receiver.start();
    other = await Receiver.start();
    notifier = startNotifier(app.ctx, { background: false });
  });
  afterAll(async () => {
    await notifier.stop();
    await receiver.close();
    await other.close();
    await app.close();
  });

  it("POSTs the event to the merchant's default URL, signed so the merchant verifies it with its secret", async () => {
    const m = await merchant({ notify_url: receiver.url });
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "payment.succeeded", data: paymentData(1) });
    expect(event_id).toMatch(/^evt_/);
    expect(await notifier.runOnce()).toBe(1);
    const [got] = await receiver.waitFor(1);
    expect(got!.json).toEqual({ id: event_id, type: "payment.succeeded", created_at: "2025-03-01T08:00:00.000Z", data: { payment_id: "pay_test_1", out_trade_no: "order-1", amount: 10001, currency: "CNY", status: "succeeded" } });
    expect(verifyResponse(m.creds.secret, got!.headers, got!.body)).toBe(true);
    expect(verifyResponse("sk_not_the_secret", got!.headers, got!.body)).toBe(false);
    expect(verifyResponse(m.creds.secret, got!.headers, got!.body.replace("10001", "10002"))).toBe(false);
    expect(got!.headers.get("paycore-key-id")).toBe(m.creds.key_id);
    expect(got!.headers.get("paycore-event-id")).toBe(event_id);
    expect(got!.headers.get("paycore-timestamp")).toBe(String(Math.floor(clock.now().getTime() / 1000)));
    const ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("delivered");
    expect(ev.deliveries).toHaveLength(1);
    expect(ev.deliveries[0]!.attempts).toEqual([expect.objectContaining({ attempt_no: 1, result: "acknowledged", http_status: 200, error: null })]);
    expect(await notifier.runOnce()).toBe(0);
  });

  it("signs with the layout of signed answers (docs/merchant-api.md), one function each side", () => {
    expect(notificationStringToSign("1700000000", "n0nce", '{"a":1}')).toBe(responseStringToSign("1700000000", "n0nce", '{"a":1}'));
  });

  it("uses the notify_url the producer names over the merchant's default", async () => {
    const m = await merchant({ notify_url: receiver.url });
    const before = receiver.received.length;
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "refund.succeeded", data: { refund_id: "ref_x" }, notify_url: other.url });
    expect(await notifier.runOnce()).toBe(1);
    const got = (await other.waitFor(1)).at(-1)!;
    expect(got.json.id).toBe(event_id);
    expect(receiver.received.length).toBe(before);
  });

  it("signs with the newest usable key after a rotation", async () => {
    const m = await merchant({ notify_url: other.url });
    const rotated = await app.admin("POST", `/admin/v1/merchants/${m.creds.mch_id}/keys`, {});
    expect(rotated.status).toBe(201);
    const n = other.received.length;
    await enqueue(app, { merchant_id: m.creds.mch_id, type: "agreement.signed", data: { agreement_id: "agr_x" } });
    expect(await notifier.runOnce()).toBe(1);
    const got = (await other.waitFor(n + 1)).at(-1)!;
    expect(got.headers.get("paycore-key-id")).toBe(rotated.body.key_id);
    expect(verifyResponse(rotated.body.secret as string, got.headers, got.body)).toBe(true);
    secrets.push(rotated.body.secret as string);
  });

  it("retries when the merchant ID has no usable key to sign with, and never sends unsigned", async () => {
    const m = await merchant({ notify_url: other.url });
    const revoked = await app.admin("POST", `/admin/v1/merchants/${m.creds.mch_id}/keys/${m.creds.key_id}/revoke`);
    expect(revoked.status).toBe(200);
    const n = other.received.length;
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "payment.failed", data: { payment_id: "pay_nokey" } });
    expect(await notifier.runOnce()).toBe(1);
    expect(other.received.length).toBe(n);
    const ev = await adminEvent(app, event_id);
    expect(ev.status).toBe("pending");
    expect(ev.deliveries[0]!.attempts).toEqual([expect.objectContaining({ result: "no_key", http_status: null })]);
  });

  it("publishes the events endpoints in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(doc.paths["/admin/v1/events"]!.get).toBeDefined();
    expect(doc.paths["/admin/v1/events/{event_id}"]!.get).toBeDefined();
    expect(doc.paths["/admin/v1/events/{event_id}/redeliver"]!.post).toBeDefined();
    expect(doc.paths["/v1/events/{event_id}"]!.get).toBeDefined();
  });

  it("keeps and lists an event with nowhere to go (no URL), and delivers nothing", async () => {
    const m = await merchant();
    const event_id = await enqueue(app, { merchant_id: m.creds.mch_id, type: "payout.failed", data: { payout_id: "po_x" } });
    expect(await notifier.runOnce()).toBe(0);
    const list = await app.admin("GET", `/admin/v1/events?merchant_id=${m.creds.mch_id}`);
    expect(list.body.data).toEqual([expect.objectContaining({ event_id, status: "no_url", type: "payout.failed" })]);
    const redeliver = await app.admin("POST", `/admin/v1/events/${event_id}/redeliver`);
    expect(redeliver.status).toBe(400);
    expect(redeliver.body.error.message).toContain("notify_url");
  });

  it("enqueues nothing when the surrounding transaction rolls back", async () => {
    const m = await merchant({ notify_url: receiver.url });
    let enqueued = "";
    await expect(
      app.ctx.db.transaction().execute(async (trx) => {
        enqueued = (await enqueueEvent(trx, { merchant_id: m.creds.mch_id, type: "payment.failed", data: { payment_id: "pay_rolled_back" }, at: clock.now() })).event_id;
        throw new Error("the payment's state change failed");
      }),
    ).rejects.toThrow("state change failed");
    expect(enqueued).toMatch(/^evt_/);
    expect((await app.admin("GET", `/admin/v1/events/${enqueued}`)).status).toBe(404);
    expect((await app.admin("GET", `/admin/v1/events?merchant_id=${m.creds.mch_id}`)).body.data).toEqual([]);
    expect(await notifier.runOnce()).toBe(0);
  });

  it("refuses to run outside a transaction", async () => {
    const m = await merchant();
    await expect(enqueueEvent(app.ctx.db, { merchant_id: m.creds.mch_id, type: "payment.failed", data: {}, at: clock.now() })).rejects.toThrow(/inside the transaction/);
  });

  it("makes one event of one business event (dedupe key), even when enqueued twice", async () => {
    const m = await merchant({ notify_url: receiver.url });
    const input = { merchant_id: m.creds.mch_id, type: "payment.succeeded" as const, data: paymentData(7), dedupe_key: "payment.succeeded:pay_test_7" };
    const first = await enqueue(app, input);
    const second = await enqueue(app, input);
    expect(second).toBe(first);
    const both = await app.ctx.db.transaction().execute(async (trx) => [await enqueueEvent(trx, { ...input, at: clock.now() }), await enqueueEvent(trx, { ...input, at: clock.now() })]);
    expect(both.map((b) => b.event_id)).toEqual([first, first]);
    expect(both.every((b) => !b.created)).toBe(true);
    expect((await app.admin("GET", `/admin/v1/events?merchant_id=${m.creds.mch_id}`)).body.data).toHaveLength(1);
    expect(await notifier.runOnce()).toBe(1);
  });

  it("lets a merchant read its own event, and only its own", async () => {
    const a = await merchant({ notify_url: receiver.url });
    const b = await merchant();
    const event_id = await enqueue(app, { merchant_id: a.creds.mch_id, type: "payment.succeeded", data: paymentData(9) });
    await notifier.runOnce();
    const own = await app.merchantClient(a.creds).get<{ id: string; status: string; attempt_count: number; last_attempt: { http_status: number } }>(`/v1/events/${event_id}`);
    expect(own.status).toBe(200);
    expect(own.signature_valid).toBe(true);
    expect(own.body).toMatchObject({ id: event_id, status: "delivered", attempt_count: 1, last_attempt: { http_status: 200 } });
    const foreign = await app.merchantClient(b.creds).get(`/v1/events/${event_id}`);
    expect(foreign.status).toBe(404);
  });

  it("lists events newest first with filters and cursor paging; rejects bad filters", async () => {
    const m = await merchant();
    const ids: string[] = [];
    for (const type of ["payment.succeeded", "refund.failed", "payment.succeeded"] as const) {
      clock.advance(1);
      ids.push(await enqueue(app, { merchant_id: m.creds.mch_id, type, data: { n: ids.length } }));
    }
    const page1 = await app.admin("GET", `/admin/v1/events?merchant_id=${m.creds.mch_id}&limit=2`);
    expect(page1.body.data.map((e: { event_id: string }) => e.event_id)).toEqual([ids[2], ids[1]]);
    const page2 = await app.admin("GET", `/admin/v1/events?merchant_id=${m.creds.mch_id}&limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body).toEqual({ data: [expect.objectContaining({ event_id: ids[0] })], next_cursor: null });
    const refunds = await app.admin("GET", `/admin/v1/events?merchant_id=${m.creds.mch_id}&type=refund.failed&status=no_url`);
    expect(refunds.body.data.map((e: { event_id: string }) => e.event_id)).toEqual([ids[1]]);
    expect((await app.admin("GET", "/admin/v1/events?status=lost")).status).toBe(400);
    expect((await app.admin("GET", "/admin/v1/events?limit=101")).status).toBe(400);
    expect((await app.admin("GET", "/admin/v1/events/evt_nope")).body.error.code).toBe("not_found");
  });

  it("logs every attempt with ids and outcome, and never a secret, a signature or the body", () => {
    const text = app.log_lines.join("");
    expect(text).toContain("notification delivered");
    for (const r of [...receiver.received, ...other.received]) {
      expect(text).toContain(r.json.id);
      expect(text).not.toContain(r.headers.get("paycore-signature")!);
      expect(text).not.toContain(r.body);
    }
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain("/paycore/notify");
  });
});
