import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Sdk from "../../sdk/src/index.ts";
import { PaycoreApiError, PaycoreClient, PaycoreNetworkError, PaycoreSignatureError, verifyWebhook, type Credentials } from "../../sdk/src/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { startNotifier } from "../../src/notify/index.ts";
import { Receiver } from "../notify/receiver.ts";
import { cardBody, catalogue, lastOtp, pickCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { runCommand } from "../support/run.ts";

/** A proxy in front of paycore that can fail or alter answers, to see what the SDK does with them. */
class Proxy {
  seen: { method: string; url: string; idempotency_key: string | undefined }[] = [];
  /** Answers to give instead of forwarding, in order (then forward). */
  script: ("503" | "500" | "422" | "reset" | "tamper")[] = [];
  private server!: http.Server;
  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    return this;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.seen.push({ method: req.method!, url: req.url!, idempotency_key: req.headers["idempotency-key"] as string | undefined });
    const step = this.script.shift();
    if (step === "reset") return void req.socket.destroy();
    if (step === "503" || step === "500" || step === "422") {
      const code = step === "422" ? "amount_exceeds_refundable" : step === "503" ? "channel_unavailable" : "internal";
      res.writeHead(Number(step), { "content-type": "application/json" }).end(JSON.stringify({ error: { code, message: "scripted", request_id: "req_proxy" } }));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "content-length")) as Record<string, string>;
    const upstream = await fetch(this.target + req.url, { method: req.method!, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
    let body = await upstream.text();
    if (step === "tamper") body = body.replace(/"amount":(\d)/, '"amount":9');
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => (k === "content-length" || k === "content-encoding" ? null : (out[k] = v)));
    res.writeHead(upstream.status, out).end(body);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe("@paycore/sdk against a live paycore", () => {
  const clock = new ManualClock("2026-05-07T02:00:00Z");
  const now_s = () => Math.floor(clock.now().getTime() / 1000);
  const fast = { attempts_max: 3, base_delay_ms: 5, max_delay_ms: 20 };
  let app: TestApp;
  let creds: Credentials;
  let sdk: PaycoreClient;
  let proxy: Proxy;
  let receiver: Receiver;
  let agreement_id = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "sdk", clock, sandbox: true });
    receiver = await Receiver.start();
    const m = await createTestMerchant(app, { notify_url: receiver.url });
    creds = m.creds;
    sdk = new PaycoreClient({ base_url: app.url, ...creds, now_s, retry: fast });
    proxy = await new Proxy(app.url).start();
  });
  afterAll(async () => {
    await proxy?.close();
    await receiver?.close();
    await app?.close();
  });

  it("signs a card, pays and refunds with typed calls, every answer verified", async () => {
    const card = pickCard(await catalogue(app), { unified: true });
    const started = await sdk.agreements.create({ out_request_no: "sdk-sign", user_ref: "sdk-user", card: cardBody(card) as never });
    expect(started.status).toBe("otp_sent");
    const agreement = await sdk.agreements.confirm({ sign_request_id: started.sign_request_id!, otp: await lastOtp(app, card.phone) });
    agreement_id = agreement.agreement_id;
    expect(agreement.card.last4).toBe(card.card_number.slice(-4));
    const payment = await sdk.payments.create({ out_trade_no: "sdk-1", agreement_id, amount: 8_800, currency: "CNY", description: "sdk" });
    expect(payment).toMatchObject({ status: "succeeded", amount: 8_800 });
    const refund = await sdk.payments.refund(payment.payment_id, { out_refund_no: "sdk-r1", amount: 1_000, reason: "one item back" });
    expect(refund).toMatchObject({ status: "succeeded", amount: 1_000 });
    expect((await sdk.refunds.get(refund.refund_id)).refund_id).toBe(refund.refund_id);
    expect((await sdk.payments.get(payment.payment_id)).refunded_amount).toBe(1_000);
    expect((await sdk.balance.get()).currency).toBe("CNY");
  });

  it("an Idempotency-Key repeats the first answer; a natural key conflict is a typed error naming the code", async () => {
    const body = { out_trade_no: "sdk-idem", agreement_id, amount: 120, currency: "CNY" as const, description: "idem" };
    const first = await sdk.request<{ payment_id: string }>("POST", "/v1/payments", { body, idempotency_key: "order-sdk-idem" });
    const again = await sdk.request<{ payment_id: string }>("POST", "/v1/payments", { body, idempotency_key: "order-sdk-idem" });
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.body.payment_id).toBe(first.body.payment_id);
    const err = await sdk.payments.create({ ...body, amount: 121 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaycoreApiError);
    expect(err).toMatchObject({ status: 409, code: "duplicate_out_trade_no" });
    expect((err as PaycoreApiError).request_id).toMatch(/^req_/);
  });

  it("retries 5xx and lost connections with the same Idempotency-Key, and a 4xx never", async () => {
    const via = new PaycoreClient({ base_url: proxy.url, ...creds, now_s, retry: fast });
    proxy.seen = [];
    proxy.script = ["503", "reset"];
    const paid = await via.payments.create({ out_trade_no: "sdk-retry", agreement_id, amount: 130, currency: "CNY", description: "retry" });
    expect(paid.status).toBe("succeeded");
    expect(proxy.seen).toHaveLength(3);
    expect(new Set(proxy.seen.map((s) => s.idempotency_key)).size).toBe(1);
    expect(proxy.seen[0]!.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);

    proxy.seen = [];
    proxy.script = ["422"];
    await expect(via.balance.get()).rejects.toMatchObject({ status: 422, code: "amount_exceeds_refundable" });
    expect(proxy.seen).toHaveLength(1);

    proxy.seen = [];
    proxy.script = ["500", "500", "500"];
    await expect(via.balance.get()).rejects.toMatchObject({ status: 500, code: "internal" });
    expect(proxy.seen).toHaveLength(3);

    const dead = new PaycoreClient({ base_url: `http://127.0.0.1:${await Receiver.refusedPort()}`, ...creds, now_s, retry: fast });
    await expect(dead.balance.get()).rejects.toBeInstanceOf(PaycoreNetworkError);
  });

  it("refuses an answer whose signature does not verify", async () => {
    const via = new PaycoreClient({ base_url: proxy.url, ...creds, now_s, retry: fast });
    const payment_id = (await sdk.payments.list({ out_trade_no: "sdk-1" })).data[0]!.payment_id;
    proxy.script = ["tamper"];
    await expect(via.payments.get(payment_id)).rejects.toBeInstanceOf(PaycoreSignatureError);
    const wrong_secret = new PaycoreClient({ base_url: app.url, ...creds, secret: "sk_wrong", now_s, retry: fast });
    await expect(wrong_secret.balance.get()).rejects.toMatchObject({ status: 401, code: "invalid_signature" });
  });

  it("pages through a list along next_cursor", async () => {
    for (let i = 0; i < 5; i++) await sdk.payments.create({ out_trade_no: `sdk-page-${i}`, agreement_id, amount: 10 + i, currency: "CNY", description: "page" });
    const seen: string[] = [];
    for await (const p of sdk.paginate<{ out_trade_no: string }>("/v1/payments", { limit: 2 })) seen.push(p.out_trade_no);
    const all = (await sdk.payments.list({ limit: 100 })).data.map((p) => p.out_trade_no);
    expect(seen).toEqual(all);
    expect(seen.slice(0, 5)).toEqual(["sdk-page-4", "sdk-page-3", "sdk-page-2", "sdk-page-1", "sdk-page-0"]);
    await expect(async () => {
      for await (const _ of sdk.paginate("/v1/payments", { limit: 2 }, 2)) void _;
    }).rejects.toThrow(/more than 2 pages/);
  });

  it("verifies a real notification, and refuses an altered or stale one", async () => {
    const notifier = startNotifier(app.ctx, { background: false });
    await notifier.runOnce();
    await notifier.stop();
    await receiver.waitFor(2);
    const got = receiver.received.find((r) => r.json.type === "payment.succeeded");
    const headers = Object.fromEntries(got!.headers.entries());
    const event = verifyWebhook<{ payment_id: string }>({ body: got!.body, headers, secrets: ["sk_old_rotated", creds.secret], now_s: now_s() });
    expect(event.type).toBe("payment.succeeded");
    expect(event.data.payment_id).toMatch(/^pay_/);
    expect(() => verifyWebhook({ body: got!.body.replace("succeeded", "failed"), headers, secrets: creds.secret, now_s: now_s() })).toThrow(PaycoreSignatureError);
    expect(() => verifyWebhook({ body: got!.body, headers, secrets: creds.secret, now_s: now_s() + 3_600 })).toThrow(/too far/);
    expect(() => verifyWebhook({ body: got!.body, headers: {}, secrets: creds.secret })).toThrow(PaycoreSignatureError);
  });

  it("builds with tsc into a package whose compiled client works", async () => {
    const out = mkdtempSync(join(tmpdir(), "paycore-sdk-"));
    try {
      const tsc = await runCommand(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", "sdk/tsconfig.json", "--outDir", out], { timeout_ms: 120_000 });
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
      const built = (await import(pathToFileURL(join(out, "index.js")).href)) as typeof Sdk;
      const client = new built.PaycoreClient({ base_url: app.url, ...creds, now_s });
      expect((await client.balance.get()).currency).toBe("CNY");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
