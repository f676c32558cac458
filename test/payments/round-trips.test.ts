import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import type { ChannelAdapter } from "../../src/channels/types.ts";
import type { ChannelRegistry } from "../../src/payments/deps.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { eventually, startCallbackReceiver } from "../support/sandbox.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown>;

/** The request log line of the last request to `path`: it carries the SQL round trips it took. */
function lastRequest(app: TestApp, path: string): { status: number; sql: number; commits: number } {
  const lines = app.log_lines.map((l) => JSON.parse(l) as Json).filter((l) => l.msg === "request" && l.path === path);
  const line = lines.at(-1);
  if (!line) throw new Error(`no request line for ${path}`);
  return { status: line.status as number, sql: line.sql as number, commits: line.commits as number };
}

/**
 * The performance budget of issue 10 as behaviour (counted at the database driver, never timed):
 * a successful payment with no risk rule takes at most 3 statements and 2 commits on the
 * synchronous path (one read: the agreement, its card and network agreements, the repeat check and
 * the blocklist; the intent with its nonce and risk counters; the outcome with its ledger entry
 * and outbox event; the risk rules come from the configuration cache), and the network's
 * notification of a payment already final is a cheap read that writes nothing.
 */
describe("round trips of a payment", () => {
  const clock = new ManualClock("2026-05-04T03:00:00Z");
  let app: TestApp;
  let client: PaycoreClient;
  let agreement_id = "";
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;

  beforeAll(async () => {
    app = await startTestApp({ label: "trips", clock, sandbox: true });
    const m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    agreement_id = await signCard(app, client, pickCard(await catalogue(app), { unified: true }), "trips-sign");
    // The first payment fills the caches a running server has warm.
    expect((await client.post<Json>("/v1/payments", { out_trade_no: "trips-0", agreement_id, amount: 500, currency: "CNY", description: "warm" })).body.status).toBe("succeeded");
    // The network's notifications now come to the test, which hands them to paycore when it chooses.
    receiver = await startCallbackReceiver();
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: receiver.url });
  });
  afterAll(async () => {
    await app.close();
    await receiver.close();
  });

  it("a payment takes at most 3 statements; its late notification is one read that writes nothing", async () => {
    const pay = await client.post<Json>("/v1/payments", { out_trade_no: "trips-1", agreement_id, amount: 1_234, currency: "CNY", description: "counted" });
    expect(pay.body.status).toBe("succeeded");
    const sync = lastRequest(app, "/v1/payments");
    expect(sync.status).toBe(201);
    expect(sync.sql, "statements of a successful payment").toBeLessThanOrEqual(3);
    expect(sync.commits, "commits of a successful payment").toBeLessThanOrEqual(2);

    const note = await eventually(() => receiver.received.find((r) => r.body.length > 0 && receiver.received.length >= 1) ?? null, "the network's notification");
    const res = await fetch(`${app.url}/callbacks/channels/${note.channel_id}`, { method: "POST", headers: { "content-type": note.content_type }, body: note.body });
    expect(res.status).toBe(200);
    const late = lastRequest(app, `/callbacks/channels/${note.channel_id}`);
    expect(late.sql).toBeLessThanOrEqual(2);
    expect(late.commits).toBe(0);
    const entries = await app.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", pay.body.payment_id as string).execute();
    expect(entries).toHaveLength(1);
  });

  it("under a risk rule, a payment takes one statement more: the count of the rule's window", async () => {
    const rule = await app.admin("POST", "/admin/v1/risk/rules", { kind: "velocity", scope: "card", max_count: 1_000, window_seconds: 3_600, action: "reject" });
    expect(rule.status).toBe(201);
    try {
      // The rule moved the configuration version: this payment runs again on fresh configuration.
      expect((await client.post<Json>("/v1/payments", { out_trade_no: "trips-r0", agreement_id, amount: 500, currency: "CNY", description: "warm" })).body.status).toBe("succeeded");
      const pay = await client.post<Json>("/v1/payments", { out_trade_no: "trips-r1", agreement_id, amount: 600, currency: "CNY", description: "counted" });
      expect(pay.body.status).toBe("succeeded");
      const sync = lastRequest(app, "/v1/payments");
      expect(sync.sql, "statements of a successful payment under a rule").toBeLessThanOrEqual(4);
      expect(sync.commits, "commits of a successful payment under a rule").toBeLessThanOrEqual(2);
    } finally {
      await app.admin("PATCH", `/admin/v1/risk/rules/${rule.body.rule_id as string}`, { enabled: false });
    }
  });

  it("a notification that arrives while the payment's call is in flight waits for it: no statement, the outcome applied once", async () => {
    // The network's notification is handed to paycore between the network's answer and its recording.
    const channels = app.deps.channels as { adapter: ChannelRegistry["adapter"] };
    const original = channels.adapter;
    const before = receiver.received.length;
    let notify_answer: Promise<Response> | null = null;
    let parsed!: () => void;
    const seen = new Promise<void>((resolve) => (parsed = resolve));
    channels.adapter = async (channel_id) => {
      const adapter = await original.call(app.deps.channels, channel_id);
      return Object.assign(Object.create(adapter) as ChannelAdapter, {
        parseNotification: (input: Parameters<ChannelAdapter["parseNotification"]>[0]) => {
          const out = adapter.parseNotification(input);
          parsed();
          return out;
        },
        inspectNotification: (input: Parameters<ChannelAdapter["parseNotification"]>[0]) => {
          const out = adapter.inspectNotification!(input);
          parsed();
          return out;
        },
        pay: async (request: Parameters<ChannelAdapter["pay"]>[0]) => {
          const answer = await adapter.pay(request);
          const note = await eventually(() => receiver.received[before] ?? null, "the network's notification");
          notify_answer = fetch(`${app.url}/callbacks/channels/${note.channel_id}`, { method: "POST", headers: { "content-type": note.content_type }, body: note.body });
          await seen;
          return answer;
        },
      });
    };
    try {
      const pay = await client.post<Json>("/v1/payments", {
        out_trade_no: "trips-2",
        agreement_id,
        amount: 2_345,
        currency: "CNY",
        description: "raced",
        notify_url: `${receiver.url}/merchant`,
      });
      expect(pay.body.status).toBe("succeeded");
      expect(notify_answer).not.toBeNull();
      expect((await notify_answer!).status).toBe(200);
      const raced = lastRequest(app, `/callbacks/channels/${receiver.received[before]!.channel_id}`);
      expect(raced.sql, "statements of a notification racing its payment's call").toBe(0);
      const entries = await app.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", pay.body.payment_id as string).execute();
      expect(entries).toHaveLength(1);
      // The merchant's event and its first delivery came with the outcome's one statement.
      const events = await app.ctx.db.selectFrom("notify_events").select(["event_id", "data"]).where("dedupe_key", "=", `payment.succeeded:${pay.body.payment_id as string}`).execute();
      expect(events).toHaveLength(1);
      expect((events[0]!.data as Json).status).toBe("succeeded");
      const deliveries = await app.ctx.db.selectFrom("notify_deliveries").select("url").where("event_id", "=", events[0]!.event_id).execute();
      expect(deliveries.map((d) => d.url)).toEqual([`${receiver.url}/merchant`]);
    } finally {
      channels.adapter = original;
    }
  });
  /**
   * A notification racing its payment's call is acknowledged without its signature checked only
   * when it says exactly what the call recorded (success, amount, the network's transaction id):
   * it then changes nothing. One that differs, or one that arrives once the call is over, is
   * verified first, as before.
   */
  it("a racing notification that says what was recorded is acknowledged unverified; any other is verified", async () => {
    const channels = app.deps.channels as { adapter: ChannelRegistry["adapter"] };
    const original = channels.adapter;
    const before = receiver.received.length;
    const brokenSignature = (body: string) =>
      body.replace(/\{S:([A-Za-z0-9+/=]+)\}$/, (_m, b64: string) => {
        const der = Buffer.from(b64, "base64");
        der[der.length - 1]! ^= 1; // s changes; the DER stays well formed
        return `{S:${der.toString("base64")}}`;
      });
    const post = (channel_id: string, content_type: string, body: string) =>
      fetch(`${app.url}/callbacks/channels/${channel_id}`, { method: "POST", headers: { "content-type": content_type }, body }).then(async (r) => ({ status: r.status, text: await r.text() }));
    let inspected = 0;
    let answers: Promise<{ status: number; text: string }[]> | null = null;
    channels.adapter = async (channel_id) => {
      const adapter = await original.call(app.deps.channels, channel_id);
      return Object.assign(Object.create(adapter) as ChannelAdapter, {
        inspectNotification: (input: Parameters<ChannelAdapter["parseNotification"]>[0]) => {
          inspected++;
          return adapter.inspectNotification!(input);
        },
        pay: async (request: Parameters<ChannelAdapter["pay"]>[0]) => {
          const answer = await adapter.pay(request);
          const note = await eventually(() => receiver.received[before] ?? null, "the network's notification");
          expect(note.channel_id).toBe("netsunion");
          const forged_same = brokenSignature(note.body);
          const forged_other = note.body.replace(/<NetTrxId>([^<]*)<\/NetTrxId>/, "<NetTrxId>N999999999999</NetTrxId>");
          expect(forged_same).not.toBe(note.body);
          expect(forged_other).not.toBe(note.body);
          answers = Promise.all([post(note.channel_id, note.content_type, forged_same), post(note.channel_id, note.content_type, forged_other)]);
          // Both wait for this call to record its answer.
          await eventually(() => inspected >= 2, "both notifications inspected");
          return answer;
        },
      });
    };
    let payment_id = "";
    try {
      const pay = await client.post<Json>("/v1/payments", { out_trade_no: "trips-3", agreement_id, amount: 3_456, currency: "CNY", description: "raced, forged" });
      expect(pay.body.status).toBe("succeeded");
      payment_id = pay.body.payment_id as string;
      const [same, other] = await answers!;
      expect(same, "says what was recorded: acknowledged").toEqual({ status: 200, text: "SUCCESS" });
      expect(other, "says something else: verified, refused").toEqual({ status: 400, text: "FAIL invalid_signature" });
    } finally {
      channels.adapter = original;
    }
    // Once the call is over, the same forged notification is verified and refused.
    const note = receiver.received[before]!;
    expect(await post(note.channel_id, note.content_type, brokenSignature(note.body))).toEqual({ status: 400, text: "FAIL invalid_signature" });
    // And the genuine one is accepted.
    expect(await post(note.channel_id, note.content_type, note.body)).toEqual({ status: 200, text: "SUCCESS" });
    const row = await app.ctx.db.selectFrom("payments").select(["status", "network_txn_id", "amount"]).where("payment_id", "=", payment_id).executeTakeFirstOrThrow();
    expect(row.status).toBe("succeeded");
    expect(row.network_txn_id).not.toBe("N999999999999");
    expect(row.amount).toBe(3_456n);
    const entries = await app.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", payment_id).execute();
    expect(entries).toHaveLength(1);
  });
});
