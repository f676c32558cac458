import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { internalKind, parseAllowList, urlProblem } from "../../src/kernel/net-guard.ts";
import { startNotifier, type Notifier } from "../../src/notify/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { adminEvent, enqueue, paymentData } from "./helpers.ts";
import { Receiver } from "./receiver.ts";

/**
 * Issue 8.3: notifications never reach an internal address (SSRF), however it is spelled, unless
 * PAYCORE_WEBHOOK_ALLOW_HOSTS lists it; a refused delivery is recorded as such, with no internal
 * error text (no port scanner through GET /v1/events/{id}).
 */
describe("webhooks: no internal destinations without the allowlist", () => {
  const clock = new ManualClock("2026-11-26T08:00:00Z");
  let app: TestApp;
  let receiver: Receiver;
  let notifier: Notifier;

  beforeAll(async () => {
    app = await startTestApp({ label: "ssrf", clock, settings: { webhook_allow_hosts: [] } });
    receiver = await Receiver.start();
    notifier = startNotifier(app.ctx, { background: false, attempt_timeout_ms: 2_000 });
  });
  afterAll(async () => {
    await notifier.stop();
    await receiver.close();
    await app.close();
  });

  it("refuses loopback in every spelling, metadata, private, unspecified and credentials at delivery time", async () => {
    app.ctx.settings.webhook_allow_hosts = [];
    const { creds } = await createTestMerchant(app);
    const port = receiver.port;
    const urls = [
      `http://127.0.0.1:${port}/x`,
      `http://0x7f000001:${port}/x`,
      `http://2130706433:${port}/x`,
      `http://0177.0.0.1:${port}/x`,
      `http://127.1:${port}/x`,
      `http://[::ffff:127.0.0.1]:${port}/x`,
      `http://[::1]:${port}/x`,
      `http://localhost:${port}/x`,
      `http://0.0.0.0:${port}/x`,
      "http://169.254.169.254/latest/meta-data/",
      "http://10.1.2.3/",
      "http://[fd00::1]/",
      "http://224.0.0.1/",
      "http://user:secret@example.com/",
    ];
    const events: string[] = [];
    for (const [n, notify_url] of urls.entries()) events.push(await enqueue(app, { merchant_id: creds.mch_id, type: "payment.succeeded", data: paymentData(n), notify_url }));
    for (let pass = 0; pass < 10 && (await notifier.runOnce()) > 0; pass++); // at most 4 per merchant at once
    expect(receiver.received).toHaveLength(0);
    for (const [n, event_id] of events.entries()) {
      const ev = await adminEvent(app, event_id);
      expect(ev.status, urls[n]).toBe("failed");
      const [attempt] = ev.deliveries[0]!.attempts;
      expect(attempt!.result, urls[n]).toBe("refused");
      expect(attempt!.error).toMatch(/^refused: /);
      expect(attempt!.error).not.toMatch(/ECONN|127\.0\.0\.1|169\.254|secret/);
    }
    // The merchant sees the same: refused, nothing about what answered inside.
    const mine = await app.merchantClient(creds).get<Record<string, unknown>>(`/v1/events/${events[0]}`);
    expect(mine.status).toBe(200);
    expect(mine.text).toContain("refused");
    expect(mine.text).not.toMatch(/ECONN|socket|connect/);
  });

  it("the allowlist (host names, IPs, CIDR) is the only way around", async () => {
    const { creds } = await createTestMerchant(app);
    const deliver = async (notify_url: string) => {
      const event_id = await enqueue(app, { merchant_id: creds.mch_id, type: "payment.succeeded", data: paymentData(99), notify_url });
      await notifier.runOnce();
      return (await adminEvent(app, event_id)).deliveries[0]!.attempts[0]!.result;
    };
    app.ctx.settings.webhook_allow_hosts = ["127.0.0.0/8"];
    expect(await deliver(`http://127.0.0.1:${receiver.port}/a`)).toBe("acknowledged");
    expect(await deliver(`http://0x7f000001:${receiver.port}/a`)).toBe("acknowledged");
    expect(await deliver("http://169.254.169.254/")).toBe("refused");
    app.ctx.settings.webhook_allow_hosts = ["localhost"];
    expect(await deliver(`http://localhost:${receiver.port}/a`)).toBe("acknowledged");
    expect(await deliver(`http://127.0.0.1:${receiver.port}/a`)).toBe("refused");
    app.ctx.settings.webhook_allow_hosts = [];
  });

  it("refuses internal notify URLs when they are given, naming the field", async () => {
    app.ctx.settings.webhook_allow_hosts = [];
    const { entity_id, creds } = await createTestMerchant(app);
    const base = { entity_id, name: "Shop", business_category: "retail", risk_level: "low", products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }] };
    const settlement = { mode: "own", account: { account_name: "A Co.", account_number: "6222020200112233445", bank_code: "102290000012" } };
    for (const notify_url of ["http://0x7f000001/n", "http://localhost:8080/n", "http://169.254.169.254/", "http://u:p@example.com/", "ftp://example.com/", "http://[::ffff:a00:1]/"]) {
      const created = await app.admin("POST", "/admin/v1/merchants", { ...base, settlement, notify_url });
      expect(created.status, notify_url).toBe(400);
      expect(created.body.error.field).toBe("notify_url");
      const patched = await app.admin("PATCH", `/admin/v1/merchants/${creds.mch_id}`, { notify_url });
      expect(patched.status, notify_url).toBe(400);
    }
    const pay = await app.merchantClient(creds).post<{ error: { field: string } }>("/v1/payments", {
      out_trade_no: "ssrf-1", agreement_id: "agr_NOPE", amount: 100, currency: "CNY", description: "x", notify_url: "http://2130706433/",
    });
    expect(pay.status).toBe(400);
    expect(pay.body.error.field).toBe("notify_url");
    expect((await app.admin("PATCH", `/admin/v1/merchants/${creds.mch_id}`, { notify_url: "https://merchant.example.com/n" })).status).toBe(200);
  });

  it("classifies addresses in every form", () => {
    const internal: [string, string][] = [
      ["127.0.0.1", "loopback"], ["127.255.1.2", "loopback"], ["::1", "loopback"], ["::ffff:127.0.0.1", "loopback"], ["::ffff:7f00:1", "loopback"],
      ["0.0.0.0", "unspecified"], ["::", "unspecified"], ["10.0.0.1", "private"], ["172.31.255.255", "private"], ["192.168.1.1", "private"],
      ["100.64.0.1", "private"], ["fc00::1", "private"], ["fd12::1", "private"], ["169.254.169.254", "link-local"], ["fe80::1", "link-local"],
      ["::ffff:169.254.169.254", "link-local"], ["64:ff9b::a9fe:a9fe", "link-local"], ["2002:7f00:1::", "loopback"], ["::127.0.0.1", "loopback"],
      ["224.0.0.251", "multicast"], ["ff02::1", "multicast"], ["255.255.255.255", "reserved"],
    ];
    for (const [address, kind] of internal) expect(internalKind(address), address).toBe(kind);
    for (const address of ["8.8.8.8", "1.1.1.1", "2400:3200::1", "::ffff:8.8.8.8", "172.32.0.1"]) expect(internalKind(address), address).toBeNull();
    const none = parseAllowList([]);
    expect(urlProblem("http://0x7f000001/", none)).toMatch(/internal/);
    expect(urlProblem("http://017700000001/", none)).toMatch(/internal/);
    expect(urlProblem("https://pay.example.com/n", none)).toBeNull();
    expect(urlProblem("gopher://x/", none)).toMatch(/http/);
    const allow = parseAllowList(["10.0.0.0/8", "hooks.internal", "::1"]);
    expect(allow.allowsAddress("10.2.3.4")).toBe(true);
    expect(allow.allowsAddress("::ffff:10.2.3.4")).toBe(true);
    expect(allow.allowsAddress("11.0.0.1")).toBe(false);
    expect(allow.allowsHost("HOOKS.internal.")).toBe(true);
    expect(() => parseAllowList(["10.0.0.0/40"])).toThrow(/10\.0\.0\.0\/40/);
    expect(() => loadConfig({ PAYCORE_WEBHOOK_ALLOW_HOSTS: "localhost, not a host!" })).toThrow(/PAYCORE_WEBHOOK_ALLOW_HOSTS/);
    expect(loadConfig({ PAYCORE_WEBHOOK_ALLOW_HOSTS: "localhost, 10.0.0.0/8" }).webhook_allow_hosts).toEqual(["localhost", "10.0.0.0/8"]);
  });
});
