import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createChannelAdapters, type AgreementChannelId, type CardElements, type Channel, type ChannelAdapter, type ChannelNotification,
  type MoneyResult, type Outcome, type StatementFileStream, type StatementRecord,
} from "../../src/channels/index.ts";
import {
  addCard, eventually, latestOtp, startCallbackReceiver, startTamperingProxy, startTestSandbox,
  type SandboxCard, type TestSandbox,
} from "../support/sandbox.ts";

/**
 * The contract every agreement-network adapter keeps, run against each adapter through the live
 * sandbox over HTTP: signing, OTP rules, debits, refunds, queries, unbinding from both ends,
 * every fault kind, tampering in both directions, sign sync, statements.
 */
const CHANNELS: Channel[] = [
  { channel_id: "netsunion", institution_id: "Z2000000000001", cost_bps: 4, cost_fixed_fen: 0n },
  { channel_id: "unionpay_nocard", institution_id: "898000000000001", cost_bps: 5, cost_fixed_fen: 0n },
  { channel_id: "unionpay_quickpay", institution_id: "898000000000001", cost_bps: 6, cost_fixed_fen: 10n },
].map((c, i) => ({
  ...c, channel_id: c.channel_id as AgreementChannelId, kind: "agreement", display_name: c.channel_id, enabled: true, priority: i,
  unified_network: c.channel_id !== "unionpay_quickpay", legacy: c.channel_id === "unionpay_quickpay", banks: null, endpoint_url: null,
  timeout_ms: 10_000, keys: {}, version: 1, updated_at: new Date(0),
}));
const IDS: AgreementChannelId[] = ["netsunion", "unionpay_nocard", "unionpay_quickpay"];
const SHORT_TIMEOUT_MS = 300;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

let sandbox: TestSandbox;
let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
let adapters: Map<AgreementChannelId, ChannelAdapter>;
let impatient: Map<AgreementChannelId, ChannelAdapter>;
let serial = 0;

/** The settlement day of `at`, computed here independently: Beijing date, 23:00 cut-off. */
function settlementDay(at: Date): string {
  const beijing = new Date(at.getTime() + 8 * 3_600_000);
  return new Date(beijing.getTime() + (beijing.getUTCHours() >= 23 ? DAY_MS : 0)).toISOString().slice(0, 10);
}

const txn = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(serial++).toString(36)}`;

function elements(card: SandboxCard, overrides: Partial<CardElements> = {}): CardElements {
  return {
    holder_name: card.holder_name, id_type: "resident_id", id_number: card.id_number, card_number: card.card_number, phone: card.phone,
    ...(card.card_type === "credit" ? { cvn2: card.cvn2 ?? null, expiry: card.expiry ?? null } : {}), ...overrides,
  };
}

/** A downloaded statement's records, and its spool removed. */
async function readAll(file: StatementFileStream): Promise<StatementRecord[]> {
  const out: StatementRecord[] = [];
  for await (const r of file.records()) out.push(r);
  await file.dispose();
  return out;
}

function expectSucceeded<T>(outcome: Outcome<T>): asserts outcome is { status: "succeeded" } & T {
  expect(outcome, JSON.stringify(outcome, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).toMatchObject({ status: "succeeded" });
}

async function sign(adapter: ChannelAdapter, card: SandboxCard): Promise<string> {
  const sign_txn_id = txn("sgr");
  expectSucceeded(await adapter.signApply({ txn_id: sign_txn_id, card: elements(card) }));
  const confirmed = await adapter.signConfirm({ sign_txn_id, otp: await latestOtp(sandbox, card.phone) });
  expectSucceeded(confirmed);
  return confirmed.agreement_no;
}

async function pay(adapter: ChannelAdapter, agreement_no: string, amount_fen: bigint, txn_id = txn("pay")): Promise<MoneyResult> {
  return adapter.pay({ txn_id, order_id: txn_id, agreement_no, amount_fen, description: "contract test" });
}

async function notificationFor(adapter: ChannelAdapter, match: (n: ChannelNotification) => boolean): Promise<ChannelNotification> {
  return eventually(() => {
    for (const received of receiver.received) {
      if (received.channel_id !== adapter.channel_id) continue;
      const parsed = adapter.parseNotification({ body: received.body, content_type: received.content_type });
      if (parsed.ok && match(parsed.notification)) return parsed.notification;
    }
    return undefined;
  }, `a ${adapter.channel_id} notification`);
}

async function balanceOf(card_number: string): Promise<number> {
  const cards = await sandbox.get<{ data: SandboxCard[] }>("/sandbox/v1/cards");
  return cards.body.data.find((c) => c.card_number === card_number)!.balance;
}

beforeAll(async () => {
  sandbox = await startTestSandbox({ seed: 42 });
  receiver = await startCallbackReceiver();
  expect((await sandbox.send("PUT", "/sandbox/v1/config", { paycore_callback_url: receiver.url })).status).toBe(200);
  adapters = createChannelAdapters(CHANNELS, { clock: sandbox.clock, data_dir: sandbox.data_dir, sandbox_url: sandbox.url });
  impatient = createChannelAdapters(CHANNELS, { clock: sandbox.clock, data_dir: sandbox.data_dir, sandbox_url: sandbox.url, timeout_ms: SHORT_TIMEOUT_MS });
});

afterAll(async () => {
  await receiver.close();
  await sandbox.close();
});

afterEach(async () => {
  await sandbox.send("DELETE", "/sandbox/v1/faults");
});

describe.each(IDS)("adapter contract: %s", (channel_id) => {
  const adapter = () => adapters.get(channel_id)!;

  it("signs a debit card: OTP to the reserved phone, then the network's agreement number and verified elements", async () => {
    const card = await addCard(sandbox);
    const sign_txn_id = txn("sgr");
    const applied = await adapter().signApply({ txn_id: sign_txn_id, card: elements(card) });
    expectSucceeded(applied);
    expect(applied.phone_masked).toBe(`${card.phone.slice(0, 3)}****${card.phone.slice(-4)}`);
    const otp = await latestOtp(sandbox, card.phone);
    expect(otp).toMatch(/^\d{6}$/);
    const confirmed = await adapter().signConfirm({ sign_txn_id, otp });
    expectSucceeded(confirmed);
    const format = { netsunion: /^SN\d{8}[0-9A-Z]{12}$/, unionpay_nocard: /^UPNC[0-9A-Z]{20}$/, unionpay_quickpay: /^UPQP[0-9A-Z]{16}$/ }[channel_id];
    expect(confirmed.agreement_no).toMatch(format);
    expect(confirmed.verified).toEqual({ name: true, id_number: true, card_number: true, phone: true, cvn2: false, expiry: false });
    // Confirming again is idempotent: the same agreement.
    expect(await adapter().signConfirm({ sign_txn_id, otp })).toMatchObject({ status: "succeeded", agreement_no: confirmed.agreement_no });
    const queried = await adapter().query({ txn_id: sign_txn_id });
    expect(queried).toMatchObject({ status: "succeeded", kind: "sign", agreement_no: confirmed.agreement_no });
  });

  it("names the element the bank could not match, and refuses frozen, lost and unknown cards", async () => {
    const card = await addCard(sandbox);
    const cases: [Partial<CardElements>, string][] = [
      [{ holder_name: "别人" }, "name_mismatch"],
      [{ id_number: "11010119900101001X" }, "id_mismatch"],
      [{ phone: "13700000000" }, "phone_mismatch"],
      [{ card_number: "6222020000000000000" }, "card_not_found"],
    ];
    for (const [override, reason] of cases) {
      expect(await adapter().signApply({ txn_id: txn("sgr"), card: elements(card, override) })).toMatchObject({ status: "failed", reason });
    }
    for (const status of ["frozen", "lost"] as const) {
      const blocked = await addCard(sandbox, { status });
      expect(await adapter().signApply({ txn_id: txn("sgr"), card: elements(blocked) })).toMatchObject({ status: "failed", reason: status === "frozen" ? "card_frozen" : "card_lost" });
    }
  });

  it("needs CVN2 and expiry for a credit card and reports them verified", async () => {
    const card = await addCard(sandbox, { card_type: "credit" });
    expect(await adapter().signApply({ txn_id: txn("sgr"), card: elements(card, { cvn2: null, expiry: null }) })).toMatchObject({ status: "failed", reason: "credit_elements_required" });
    expect(await adapter().signApply({ txn_id: txn("sgr"), card: elements(card, { cvn2: card.cvn2 === "000" ? "001" : "000" }) })).toMatchObject({ status: "failed", reason: "cvn2_mismatch" });
    const sign_txn_id = txn("sgr");
    expectSucceeded(await adapter().signApply({ txn_id: sign_txn_id, card: elements(card) }));
    const confirmed = await adapter().signConfirm({ sign_txn_id, otp: await latestOtp(sandbox, card.phone) });
    expectSucceeded(confirmed);
    expect(confirmed.verified).toEqual({ name: true, id_number: true, card_number: true, phone: true, cvn2: true, expiry: true });
  });

  it("locks a sign request after 5 wrong codes, even against the right one", async () => {
    const card = await addCard(sandbox);
    const sign_txn_id = txn("sgr");
    expectSucceeded(await adapter().signApply({ txn_id: sign_txn_id, card: elements(card) }));
    const otp = await latestOtp(sandbox, card.phone);
    const wrong = otp === "000000" ? "111111" : "000000";
    for (let i = 0; i < 4; i++) expect(await adapter().signConfirm({ sign_txn_id, otp: wrong })).toMatchObject({ status: "failed", reason: "otp_invalid" });
    expect(await adapter().signConfirm({ sign_txn_id, otp: wrong })).toMatchObject({ status: "failed", reason: "otp_attempts_exceeded" });
    expect(await adapter().signConfirm({ sign_txn_id, otp })).toMatchObject({ status: "failed", reason: "otp_attempts_exceeded" });
    expect(await adapter().resendOtp({ txn_id: txn("rsd"), sign_txn_id })).toMatchObject({ status: "failed", reason: "sign_request_closed" });
    expect(await adapter().query({ txn_id: sign_txn_id })).toMatchObject({ status: "failed", reason: "otp_attempts_exceeded" });
  });

  it("expires a code after 5 minutes and limits resends to one a minute, five in all", async () => {
    const card = await addCard(sandbox);
    const sign_txn_id = txn("sgr");
    expectSucceeded(await adapter().signApply({ txn_id: sign_txn_id, card: elements(card) }));
    const first = await latestOtp(sandbox, card.phone);
    expect(await adapter().resendOtp({ txn_id: txn("rsd"), sign_txn_id })).toMatchObject({ status: "failed", reason: "otp_resend_too_soon" });
    sandbox.clock.advance(5 * MINUTE_MS + 1_000);
    expect(await adapter().signConfirm({ sign_txn_id, otp: first })).toMatchObject({ status: "failed", reason: "otp_expired" });
    for (let i = 0; i < 5; i++) {
      expectSucceeded(await adapter().resendOtp({ txn_id: txn("rsd"), sign_txn_id }));
      sandbox.clock.advance(MINUTE_MS);
    }
    expect(await adapter().resendOtp({ txn_id: txn("rsd"), sign_txn_id })).toMatchObject({ status: "failed", reason: "otp_resend_limit" });
    const latest = await latestOtp(sandbox, card.phone);
    expect(await adapter().signConfirm({ sign_txn_id, otp: latest })).toMatchObject({ status: "succeeded" });
  });

  it("pays with the agreement number: debits the card, answers the same to a repeat, refuses a changed repeat", async () => {
    const card = await addCard(sandbox, { balance: 500_000 });
    const agreement_no = await sign(adapter(), card);
    const txn_id = txn("pay");
    const paid = await pay(adapter(), agreement_no, 12_345n, txn_id);
    expectSucceeded(paid);
    const fee = { netsunion: 5n, unionpay_nocard: 6n, unionpay_quickpay: 17n }[channel_id]; // bps half up, plus fixed
    expect(paid).toMatchObject({ amount_fen: 12_345n, fee_fen: fee, settlement_date: settlementDay(sandbox.clock.now()) });
    expect(await balanceOf(card.card_number)).toBe(500_000 - 12_345);
    expect(await pay(adapter(), agreement_no, 12_345n, txn_id)).toEqual(paid);
    expect(await balanceOf(card.card_number)).toBe(500_000 - 12_345);
    expect(await pay(adapter(), agreement_no, 12_346n, txn_id)).toMatchObject({ status: "failed", reason: "duplicate_transaction" });
    expect(await adapter().query({ txn_id })).toMatchObject({ status: "succeeded", kind: "pay", network_txn_id: paid.network_txn_id, amount_fen: 12_345n });
    expect(await adapter().query({ txn_id: txn("nope") })).toMatchObject({ status: "not_found" });
  });

  it("declines insufficient funds, the bank's daily limit and unknown agreements", async () => {
    const card = await addCard(sandbox, { balance: 10_000, daily_limit: 8_000 });
    const agreement_no = await sign(adapter(), card);
    expect(await pay(adapter(), agreement_no, 10_001n)).toMatchObject({ status: "failed", reason: "limit_exceeded" });
    expectSucceeded(await pay(adapter(), agreement_no, 5_000n));
    expect(await pay(adapter(), agreement_no, 4_000n)).toMatchObject({ status: "failed", reason: "limit_exceeded" });
    sandbox.clock.advance(DAY_MS);
    expect(await pay(adapter(), agreement_no, 6_000n)).toMatchObject({ status: "failed", reason: "insufficient_funds" });
    expect(await balanceOf(card.card_number)).toBe(5_000);
    expect(await pay(adapter(), "NO_SUCH_AGREEMENT", 100n)).toMatchObject({ status: "failed", reason: "agreement_not_found" });
  });

  it("refunds to the original card only, never above the original, within 180 days", async () => {
    const card = await addCard(sandbox, { balance: 100_000 });
    const agreement_no = await sign(adapter(), card);
    const original = { txn_id: txn("pay"), network_txn_id: "" };
    const paid = await pay(adapter(), agreement_no, 30_000n, original.txn_id);
    expectSucceeded(paid);
    original.network_txn_id = paid.network_txn_id;
    const refund = (amount_fen: bigint, of = original) =>
      adapter().refund({ txn_id: txn("ref"), order_id: txn("ord"), original_txn_id: of.txn_id, original_network_txn_id: of.network_txn_id, amount_fen });
    const first = await refund(10_000n);
    expectSucceeded(first);
    expect(first.amount_fen).toBe(10_000n);
    expect(await balanceOf(card.card_number)).toBe(80_000);
    expect(await refund(20_001n)).toMatchObject({ status: "failed", reason: "refund_exceeds_original" });
    expectSucceeded(await refund(20_000n));
    expect(await refund(1n)).toMatchObject({ status: "failed", reason: "refund_exceeds_original" });
    expect(await balanceOf(card.card_number)).toBe(100_000);
    expect(await refund(1n, { txn_id: txn("nope"), network_txn_id: "000000000000000000000" })).toMatchObject({ status: "failed", reason: "original_not_found" });
    const late = { txn_id: txn("pay"), network_txn_id: "" };
    const late_paid = await pay(adapter(), agreement_no, 1_000n, late.txn_id);
    expectSucceeded(late_paid);
    late.network_txn_id = late_paid.network_txn_id;
    sandbox.clock.advance(181 * DAY_MS);
    expect(await refund(1n, late)).toMatchObject({ status: "failed", reason: "refund_window_expired" });
  });

  it("unbinds at paycore's request: later payments are refused", async () => {
    const card = await addCard(sandbox);
    const agreement_no = await sign(adapter(), card);
    expect(await adapter().unbind({ txn_id: txn("unb"), agreement_no })).toMatchObject({ status: "succeeded", agreement_no });
    expect(await pay(adapter(), agreement_no, 100n)).toMatchObject({ status: "failed", reason: "agreement_inactive" });
  });

  it("passes on the network's unbind notice and its payment notifications, signed and verified", async () => {
    const card = await addCard(sandbox);
    const agreement_no = await sign(adapter(), card);
    const txn_id = txn("pay");
    expectSucceeded(await pay(adapter(), agreement_no, 700n, txn_id));
    const paid = await notificationFor(adapter(), (n) => n.kind === "txn_result" && n.txn_id === txn_id);
    expect(paid).toMatchObject({ kind: "txn_result", txn_kind: "pay", outcome: { status: "succeeded", amount_fen: 700n } });
    const notice = await sandbox.send<{ data: { agreement_no: string }[] }>("POST", "/sandbox/v1/unbind-notice", { channel: channel_id, card_number: card.card_number });
    expect(notice.body.data.map((a) => a.agreement_no)).toEqual([agreement_no]);
    const unbound = await notificationFor(adapter(), (n) => n.kind === "agreement_unbound" && n.agreement_no === agreement_no);
    expect(unbound).toMatchObject({ card_last4: card.card_number.slice(-4) });
    expect(await pay(adapter(), agreement_no, 100n)).toMatchObject({ status: "failed", reason: "agreement_inactive" });
    expect((await sandbox.send("POST", "/sandbox/v1/unbind-notice", { channel: channel_id, card_number: card.card_number })).status).toBe(404);
  });

  describe("faults", () => {
    let card: SandboxCard;
    let agreement_no: string;
    beforeAll(async () => {
      card = await addCard(sandbox, { balance: 1_000_000 });
      agreement_no = await sign(adapter(), card);
    });
    const fault = async (rule: Record<string, unknown>) => {
      const response = await sandbox.send("POST", "/sandbox/v1/faults", { channel: channel_id, rate: 1, ...rule });
      expect(response.status).toBe(201);
    };

    it("latency: slower, same outcome", async () => {
      await fault({ operation: "pay", kind: "latency", latency_ms: 50 });
      expectSucceeded(await pay(adapter(), agreement_no, 100n));
    });

    it("timeout: no answer is pending, and a later query finds what happened", async () => {
      await fault({ operation: "pay", kind: "timeout" });
      const txn_id = txn("pay");
      expect(await pay(impatient.get(channel_id)!, agreement_no, 200n, txn_id)).toMatchObject({ status: "pending", cause: "timeout" });
      await sandbox.send("DELETE", "/sandbox/v1/faults");
      expect(await adapter().query({ txn_id })).toMatchObject({ status: "succeeded", kind: "pay", amount_fen: 200n });
    });

    it("unknown: accepted without an outcome is pending; the query and the notification tell", async () => {
      await fault({ operation: "pay", kind: "unknown" });
      const txn_id = txn("pay");
      expect(await pay(adapter(), agreement_no, 300n, txn_id)).toMatchObject({ status: "pending", cause: "processing" });
      expect(await adapter().query({ txn_id })).toMatchObject({ status: "succeeded", amount_fen: 300n });
      expect(await notificationFor(adapter(), (n) => n.kind === "txn_result" && n.txn_id === txn_id)).toMatchObject({ outcome: { status: "succeeded" } });
    });

    it("unknown on a query stays pending", async () => {
      const txn_id = txn("pay");
      expectSucceeded(await pay(adapter(), agreement_no, 50n, txn_id));
      await fault({ operation: "query", kind: "unknown" });
      expect(await adapter().query({ txn_id })).toMatchObject({ status: "pending" });
    });

    it("decline: a known code fails with its reason; an unknown code is never taken as a known failure", async () => {
      await fault({ operation: "pay", kind: "decline", decline_code: "insufficient_funds" });
      expect(await pay(adapter(), agreement_no, 400n)).toMatchObject({ status: "failed", reason: "insufficient_funds" });
      await sandbox.send("DELETE", "/sandbox/v1/faults");
      await fault({ operation: "pay", kind: "decline", decline_code: "ZZ99" });
      const outcome = await pay(adapter(), agreement_no, 400n);
      // NetsUnion states "failed" explicitly with an unknown code; UnionPay has only the code.
      if (channel_id === "netsunion") expect(outcome).toMatchObject({ status: "failed", reason: "declined_other", network_code: "ZZ99" });
      else expect(outcome).toMatchObject({ status: "pending", cause: "unclassified", network_code: "ZZ99" });
      await sandbox.send("DELETE", "/sandbox/v1/faults");
      await fault({ operation: "sign", kind: "decline" });
      expect(await adapter().signApply({ txn_id: txn("sgr"), card: elements(card) })).toMatchObject({ status: "failed", reason: "bank_declined" });
    });

    it("duplicate_notify: the same notification id arrives twice, as two distinct signed messages", async () => {
      await fault({ operation: "pay", kind: "duplicate_notify" });
      const txn_id = txn("pay");
      expectSucceeded(await pay(adapter(), agreement_no, 500n, txn_id));
      // Each copy is parsed once: parsing it again on a later poll is a replay, which the adapter refuses.
      const parsed = new Map<(typeof receiver.received)[number], ReturnType<ChannelAdapter["parseNotification"]>>();
      const copies = await eventually(() => {
        for (const r of receiver.received) {
          if (r.channel_id === channel_id && r.body.includes(txn_id) && !parsed.has(r)) parsed.set(r, adapter().parseNotification({ body: r.body }));
        }
        return parsed.size >= 2 ? [...parsed.values()] : undefined;
      }, "two copies");
      const ids = copies.map((p) => (p.ok && p.notification.kind === "txn_result" ? p.notification.notification_id : "rejected"));
      expect(ids[0]).not.toBe("rejected");
      expect(ids[1]).toBe(ids[0]);
    });
  });

  describe("tampering", () => {
    let proxy: Awaited<ReturnType<typeof startTamperingProxy>>;
    let proxied: ChannelAdapter;
    let agreement_no: string;
    beforeAll(async () => {
      proxy = await startTamperingProxy(sandbox.url);
      proxied = createChannelAdapters(CHANNELS, { clock: sandbox.clock, data_dir: sandbox.data_dir, sandbox_url: proxy.url }).get(channel_id)!;
      agreement_no = await sign(adapter(), await addCard(sandbox));
    });
    afterAll(async () => proxy.close());
    afterEach(() => {
      proxy.tamper_request = null;
      proxy.tamper_response = null;
    });
    const raiseAmount = (text: string) => text.replace("<TrxAmt>CNY", "<TrxAmt>CNY9").replace("txnAmt=", "txnAmt=9");

    it("the network refuses a request altered in transit, or stripped of its signature", async () => {
      proxy.tamper_request = raiseAmount;
      expect(await pay(proxied, agreement_no, 100n)).toMatchObject({ status: "failed", reason: "message_rejected" });
      proxy.tamper_request = (text) => text.replace(/\{S:[^}]*\}$/, "").replace(/&?signature=[^&]*/, "");
      expect(await pay(proxied, agreement_no, 100n)).toMatchObject({ status: "failed", reason: "message_rejected" });
    });

    it("the network refuses a replayed request", async () => {
      expectSucceeded(await pay(proxied, agreement_no, 100n));
      const path = channel_id === "netsunion" ? "/netsunion/gateway" : "/unionpay/gateway/api/backTransReq.do";
      const type = channel_id === "netsunion" ? "application/xml" : "application/x-www-form-urlencoded";
      const replay = await fetch(`${sandbox.url}${path}`, { method: "POST", headers: { "content-type": type }, body: proxy.last_request! });
      expect(await replay.text()).toMatch(channel_id === "netsunion" ? /<SysRtnCd>EP000002</ : /respCode=13/);
    });

    it("paycore does not trust an altered answer: the outcome stays pending and a query tells the truth", async () => {
      proxy.tamper_response = (text) => text.replace("<BizStsCd>00<", "<BizStsCd>01<").replace("respCode=00", "respCode=51");
      const txn_id = txn("pay");
      expect(await pay(proxied, agreement_no, 100n, txn_id)).toMatchObject({ status: "pending", cause: "bad_response" });
      proxy.tamper_response = (text) => text.replace(/\{S:[^}]*\}$/, "").replace(/&?signature=[^&]*/, "");
      expect(await proxied.query({ txn_id })).toMatchObject({ status: "pending", cause: "bad_response" });
      proxy.tamper_response = null;
      expect(await proxied.query({ txn_id })).toMatchObject({ status: "succeeded", amount_fen: 100n });
    });

    it("paycore does not take a replayed old answer for the answer to a new request", async () => {
      expectSucceeded(await pay(proxied, agreement_no, 100n));
      const old_answer = proxy.last_response!;
      proxy.tamper_response = () => old_answer;
      expect(await pay(proxied, agreement_no, 100n)).toMatchObject({ status: "pending", cause: "bad_response" });
    });

    it("paycore refuses a tampered, unsigned, replayed or stale notification", async () => {
      const txn_id = txn("pay");
      expectSucceeded(await pay(adapter(), agreement_no, 900n, txn_id));
      const delivered = await eventually(() => receiver.received.find((r) => r.channel_id === channel_id && r.body.includes(txn_id)), "the notification");
      const fresh = createChannelAdapters(CHANNELS, { clock: sandbox.clock, data_dir: sandbox.data_dir, sandbox_url: sandbox.url }).get(channel_id)!;
      const tampered = delivered.body.replace("CNY9.00", "CNY99.00").replace("txnAmt=900", "txnAmt=9900");
      expect(tampered).not.toBe(delivered.body);
      expect(fresh.parseNotification({ body: tampered })).toMatchObject({ ok: false, error: "invalid_signature", ack: { status: 400 } });
      const unsigned = delivered.body.replace(/\{S:[^}]*\}$/, "").replace(/&?signature=[^&]*/, "");
      expect(fresh.parseNotification({ body: unsigned })).toMatchObject({ ok: false, error: "unsigned" });
      expect(fresh.parseNotification({ body: delivered.body })).toMatchObject({ ok: true, ack: { status: 200 } });
      expect(fresh.parseNotification({ body: delivered.body })).toMatchObject({ ok: false, error: "replayed" });
      const later = createChannelAdapters(CHANNELS, { clock: sandbox.clock, data_dir: sandbox.data_dir, sandbox_url: sandbox.url }).get(channel_id)!;
      sandbox.clock.advance(6 * MINUTE_MS);
      expect(later.parseNotification({ body: delivered.body })).toMatchObject({ ok: false, error: "stale" });
      expect(later.parseNotification({ body: "<root/>" })).toMatchObject({ ok: false });
    });
  });

  it("sign sync: honours an agreement from the other unified network for a unified bank only; legacy quick pay never", async () => {
    const other = adapters.get(channel_id === "netsunion" ? "unionpay_nocard" : "netsunion")!;
    const unified = await addCard(sandbox, { bank_code: "ICBC" });
    const not_unified = await addCard(sandbox, { bank_code: "BOCOM" });
    const theirs = await sign(other, unified);
    await sign(other, not_unified);
    const synced = await adapter().signSync({ txn_id: txn("syn"), card: elements(unified) });
    if (!adapter().capabilities.sign_sync) {
      expect(synced).toMatchObject({ status: "failed", reason: "not_supported" });
      return;
    }
    expectSucceeded(synced);
    expect(synced.agreement_no).not.toBe(theirs);
    expectSucceeded(await pay(adapter(), synced.agreement_no, 100n));
    expect(await adapter().signSync({ txn_id: txn("syn"), card: elements(not_unified) })).toMatchObject({ status: "failed", reason: "not_signed" });
    const legacy_only = await addCard(sandbox, { bank_code: "ICBC" });
    await sign(adapters.get("unionpay_quickpay")!, legacy_only);
    expect(await adapter().signSync({ txn_id: txn("syn"), card: elements(legacy_only) })).toMatchObject({ status: "failed", reason: "not_signed" });
  });

  it("statement: the settlement day's debits and refunds with fee and settlement amount; 23:00 Beijing starts the next day", async () => {
    const card = await addCard(sandbox, { balance: 1_000_000 });
    const agreement_no = await sign(adapter(), card);
    const beijing_day = new Date(sandbox.clock.now().getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
    sandbox.clock.set(`${beijing_day}T14:59:00Z`); // 22:59 Beijing
    const before = { txn_id: txn("pay") };
    const before_cutoff = await pay(adapter(), agreement_no, 10_000n, before.txn_id);
    expectSucceeded(before_cutoff);
    sandbox.clock.set(`${beijing_day}T15:00:00Z`); // 23:00 Beijing
    const after = { txn_id: txn("pay") };
    const after_cutoff = await pay(adapter(), agreement_no, 20_000n, after.txn_id);
    expectSucceeded(after_cutoff);
    expect(before_cutoff.settlement_date).toBe(beijing_day);
    const next_day = after_cutoff.settlement_date;
    expect(next_day).toBe(new Date(Date.parse(`${beijing_day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10));
    const refund_txn = txn("ref");
    const refunded = await adapter().refund({ txn_id: refund_txn, order_id: refund_txn, original_txn_id: after.txn_id, original_network_txn_id: after_cutoff.network_txn_id, amount_fen: 5_000n });
    expectSucceeded(refunded);
    expect(refunded.settlement_date).toBe(next_day);

    const statement = await adapter().fetchStatement({ settlement_date: next_day });
    expectSucceeded(statement);
    const records = await readAll(statement.file);
    expect(statement.file.line_count).toBe(records.length);
    const mine = records.filter((r) => r.txn_id === after.txn_id || r.txn_id === refund_txn);
    expect(mine).toEqual([
      { kind: "pay", network_txn_id: after_cutoff.network_txn_id, txn_id: after.txn_id, order_id: after.txn_id, amount_fen: 20_000n, fee_fen: after_cutoff.fee_fen, settlement_amount_fen: 20_000n - after_cutoff.fee_fen!, card_masked: `${card.card_number.slice(0, 6)}******${card.card_number.slice(-4)}` },
      { kind: "refund", network_txn_id: refunded.network_txn_id, txn_id: refund_txn, order_id: refund_txn, amount_fen: 5_000n, fee_fen: 0n, settlement_amount_fen: -5_000n, card_masked: `${card.card_number.slice(0, 6)}******${card.card_number.slice(-4)}` },
    ]);
    expect(records.some((r) => r.txn_id === before.txn_id)).toBe(false);
    const previous = await adapter().fetchStatement({ settlement_date: beijing_day });
    expectSucceeded(previous);
    expect((await readAll(previous.file)).some((r) => r.txn_id === before.txn_id)).toBe(true);
    const published = await sandbox.get<string>(`/sandbox/v1/statements?channel=${channel_id}&date=${next_day}&institution_id=${CHANNELS.find((c) => c.channel_id === channel_id)!.institution_id}`);
    // The file downloaded is the one the signed answer vouched for, and the one the network publishes.
    expect(createHash("sha256").update(published.body, "utf8").digest("hex")).toBe(statement.file.sha256);
    sandbox.clock.advance(DAY_MS);
  });
});
