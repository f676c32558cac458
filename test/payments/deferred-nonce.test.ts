import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest, type PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { rawRequest } from "../support/raw.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown>;

/**
 * `POST /v1/payments` claims its nonce in the statement that records the intent (one commit fewer
 * per payment: src/db/request-nonce.ts). These are the promises that must survive that: a nonce
 * is good for one request whatever the request answers, a replay never reaches the network or
 * writes anything, and a merchant suspended (or a key revoked) a moment ago cannot pay on the
 * configuration a process had cached.
 */
describe("a payment's nonce, claimed with its intent", () => {
  const clock = new ManualClock("2026-05-06T03:00:00Z");
  let app: TestApp;
  let m: Awaited<ReturnType<typeof createTestMerchant>>;
  let client: PaycoreClient;
  let agreement_id = "";
  const now_s = () => Math.floor(clock.now().getTime() / 1000);

  beforeAll(async () => {
    app = await startTestApp({ label: "dnonce", clock, sandbox: true });
    m = await createTestMerchant(app);
    client = app.merchantClient(m.creds);
    agreement_id = await signCard(app, client, pickCard(await catalogue(app), { unified: true }), "dnonce-sign");
  });
  afterAll(async () => app.close());

  /** The same signed request (same nonce) sent as often as asked. */
  function signed(body: Json, nonce: string) {
    const text = JSON.stringify(body);
    const authorization = signRequest(m.creds, "POST", "/v1/payments", text, now_s(), nonce);
    return async () => {
      const res = await rawRequest(app.url, { method: "POST", path: "/v1/payments", headers: { authorization, "content-type": "application/json" }, body: text });
      return { status: res.status, body: res.body as Json };
    };
  }
  const paymentsOf = async (out_trade_no: string) =>
    app.ctx.db.selectFrom("payments").select(["payment_id", "status"]).where("merchant_id", "=", m.creds.mch_id).where("out_trade_no", "=", out_trade_no).execute();
  const nonceStored = async (nonce: string) =>
    (await app.ctx.db.selectFrom("api_nonces").select("nonce").where("merchant_id", "=", m.creds.mch_id).where("nonce", "=", nonce).executeTakeFirst()) !== undefined;

  it("a replay of a payment that was made answers replayed_request and pays nothing more", async () => {
    const send = signed({ out_trade_no: "dn-1", agreement_id, amount: 1_000, currency: "CNY", description: "once" }, "dn-nonce-1");
    const first = await send();
    expect(first.status).toBe(201);
    expect(first.body.status).toBe("succeeded");
    expect(await nonceStored("dn-nonce-1")).toBe(true);
    const again = await send();
    expect(again.status).toBe(401);
    expect((again.body.error as Json).code).toBe("replayed_request");
    expect(await paymentsOf("dn-1")).toHaveLength(1);
  });

  it("the same request sent ten times at once makes one payment; every other answer is replayed_request", async () => {
    const send = signed({ out_trade_no: "dn-2", agreement_id, amount: 1_100, currency: "CNY", description: "raced" }, "dn-nonce-2");
    const answers = await Promise.all(Array.from({ length: 10 }, () => send()));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect(a.status).toBe(401);
      expect((a.body.error as Json).code).toBe("replayed_request");
    }
    expect(await paymentsOf("dn-2")).toHaveLength(1);
  });

  it("a request refused without writing still uses up its nonce: its replay is replayed_request", async () => {
    const send = signed({ out_trade_no: "dn-3", agreement_id: "agr_01AAAAAAAAAAAAAAAAAAAAAAAA", amount: 1_000, currency: "CNY", description: "no such agreement" }, "dn-nonce-3");
    const first = await send();
    expect(first.status).toBe(404);
    expect(await nonceStored("dn-nonce-3")).toBe(true);
    const again = await send();
    expect(again.status).toBe(401);
    expect((again.body.error as Json).code).toBe("replayed_request");
  });

  it("an idempotent repeat with a fresh nonce answers 200; the same repeat replayed answers replayed_request", async () => {
    const body = { out_trade_no: "dn-4", agreement_id, amount: 1_200, currency: "CNY", description: "repeat" };
    expect((await signed(body, "dn-nonce-4a")()).status).toBe(201);
    const repeat = signed(body, "dn-nonce-4b");
    const second = await repeat();
    expect(second.status).toBe(200);
    expect(second.body.status).toBe("succeeded");
    const replay = await repeat();
    expect(replay.status).toBe(401);
    expect((replay.body.error as Json).code).toBe("replayed_request");
    expect(await paymentsOf("dn-4")).toHaveLength(1);
  });

  it("a merchant ID suspended after this process cached it cannot pay: nothing is written", async () => {
    // A payment fills the process's cache with the active merchant and its key.
    expect((await signed({ out_trade_no: "dn-5a", agreement_id, amount: 1_000, currency: "CNY", description: "warm" }, "dn-nonce-5a")()).status).toBe(201);
    // Suspended behind the cache's back: as another paycore process would do it (a direct
    // update moves config_version by its trigger, as the admin API's does).
    await app.ctx.db.updateTable("merchants").set({ status: "suspended" }).where("merchant_id", "=", m.creds.mch_id).execute();
    const res = await signed({ out_trade_no: "dn-5b", agreement_id, amount: 1_000, currency: "CNY", description: "after suspension" }, "dn-nonce-5b")();
    expect(res.status).toBe(403);
    expect((res.body.error as Json).code).toBe("merchant_suspended");
    expect(await paymentsOf("dn-5b")).toHaveLength(0);
    await app.ctx.db.updateTable("merchants").set({ status: "active" }).where("merchant_id", "=", m.creds.mch_id).execute();
    const after = await signed({ out_trade_no: "dn-5c", agreement_id, amount: 1_000, currency: "CNY", description: "active again" }, "dn-nonce-5c")();
    expect(after.status).toBe(201);
  });

  it("a merchant ID suspended behind the cache cannot pay on the sign-sync path either, where the nonce is claimed before the intent", async () => {
    const first = await signed({ out_trade_no: "dn-6a", agreement_id, amount: 1_000, currency: "CNY", description: "warm" }, "dn-nonce-6a")();
    expect(first.status).toBe(201);
    const signing_channel = first.body.channel as string;
    // The card's signing network switched off through this process; a read refreshes its cache.
    expect((await app.admin("PATCH", `/admin/v1/channels/${signing_channel}`, { enabled: false })).status).toBe(200);
    expect((await client.get(`/v1/payments/${first.body.payment_id as string}`)).status).toBe(200);
    // Suspended behind the cache's back, as another process would do it.
    await app.ctx.db.updateTable("merchants").set({ status: "suspended" }).where("merchant_id", "=", m.creds.mch_id).execute();
    const cards_before = await app.ctx.db.selectFrom("card_agreements").select("card_agreement_id").execute();
    // A unified bank's card routes to the other network by a sign sync, which claims the nonce first.
    const res = await signed({ out_trade_no: "dn-6b", agreement_id, amount: 1_000, currency: "CNY", description: "after suspension" }, "dn-nonce-6b")();
    expect(res.status).toBe(403);
    expect((res.body.error as Json).code).toBe("merchant_suspended");
    expect(await paymentsOf("dn-6b")).toHaveLength(0);
    expect(await app.ctx.db.selectFrom("card_agreements").select("card_agreement_id").execute()).toHaveLength(cards_before.length);
    expect(await nonceStored("dn-nonce-6b")).toBe(true);
    // Active again, the same card pays through the other network by the sync.
    await app.ctx.db.updateTable("merchants").set({ status: "active" }).where("merchant_id", "=", m.creds.mch_id).execute();
    const after = await signed({ out_trade_no: "dn-6c", agreement_id, amount: 1_000, currency: "CNY", description: "active again" }, "dn-nonce-6c")();
    expect(after.status).toBe(201);
    expect(after.body.channel).not.toBe(signing_channel);
    expect(String(after.body.route_reason)).toContain("unified");
    await app.admin("PATCH", `/admin/v1/channels/${signing_channel}`, { enabled: true });
  });
});
