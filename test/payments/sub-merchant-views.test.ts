import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string } };

/** A parent may read its sub-merchant's balance and payments; a sub-merchant sees the payments made for it. */
describe("sub-merchant views are consistent", () => {
  const clock = new ManualClock("2026-05-04T02:00:00Z");
  let app: TestApp;
  let parent: PaycoreClient;
  let store: PaycoreClient;
  let stranger: PaycoreClient;
  let store_id = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "subviews", clock, sandbox: true });
    const p = await createTestMerchant(app, { name: "Group" });
    const s = await createTestMerchant(app, { name: "Store", parent_merchant_id: p.merchant.merchant_id, settlement: { mode: "parent", cycle_days: 1 } }, p.entity_id);
    store_id = s.merchant.merchant_id as string;
    parent = app.merchantClient(p.creds);
    store = app.merchantClient(s.creds);
    stranger = app.merchantClient((await createTestMerchant(app)).creds);
  });
  afterAll(async () => app.close());

  it("balance, payment list and payment agree for parent and sub-merchant", async () => {
    const agreement_id = await signCard(app, parent, pickCard(await catalogue(app), { unified: true }), "sv-sign");
    const paid = await parent.post<Json>("/v1/payments", { out_trade_no: "sv-1", agreement_id, amount: 5_000, currency: "CNY", description: "store sale", sub_merchant_id: store_id });
    expect(paid.body.status).toBe("succeeded");
    const payment_id = paid.body.payment_id as string;

    const own = await store.get<Json>("/v1/balance");
    expect(own.body.pending).toBeGreaterThan(0);
    expect((await parent.get<Json>(`/v1/balance?sub_merchant_id=${store_id}`)).body).toEqual(own.body);
    expect((await stranger.get<Json>(`/v1/balance?sub_merchant_id=${store_id}`)).status).toBe(404);

    const listed = await store.get<{ data: Json[] }>("/v1/payments");
    expect(listed.body.data.map((p) => p.payment_id)).toEqual([payment_id]);
    expect((await store.get<Json>(`/v1/payments/${payment_id}`)).body.payment_id).toBe(payment_id);
    expect((await parent.get<{ data: Json[] }>(`/v1/payments?sub_merchant_id=${store_id}`)).body.data.map((p) => p.payment_id)).toEqual([payment_id]);
    expect((await stranger.get<Json>(`/v1/payments?sub_merchant_id=${store_id}`)).status).toBe(404);
    expect((await stranger.get<Json>(`/v1/payments/${payment_id}`)).status).toBe(404);
  });

  it("a sub-merchant's list pages through its own payments and its parent's for it, newest first, each once", async () => {
    const for_store = await signCard(app, parent, pickCard(await catalogue(app), { unified: true }), "sv-sign-2");
    const own = await signCard(app, store, pickCard(await catalogue(app), { unified: true }), "sv-sign-3");
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await parent.post<Json>("/v1/payments", { out_trade_no: `sv-p-${i}`, agreement_id: for_store, amount: 100 + i, currency: "CNY", description: "store sale", sub_merchant_id: store_id });
      const b = await store.post<Json>("/v1/payments", { out_trade_no: `sv-s-${i}`, agreement_id: own, amount: 200 + i, currency: "CNY", description: "own sale" });
      made.push(a.body.payment_id as string, b.body.payment_id as string);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: Json[]; next_cursor: string | null } } = await store.get(`/v1/payments?limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.body.data.map((p) => p.payment_id as string));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort().reverse());
    expect(seen.slice(0, 6)).toEqual([...made].sort().reverse());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(7); // and the first test's payment
    // The parent's own list does not hold the store's own payments.
    const parents: { body: { data: Json[] } } = await parent.get("/v1/payments?limit=100");
    expect(parents.body.data.map((p) => p.out_trade_no).filter((n) => String(n).startsWith("sv-s-"))).toEqual([]);
  });
});
