import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import { TEST_ACCOUNT, createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, unknown> & { error?: { code: string; message: string; field?: string } };

/**
 * End to end over HTTP: real payments and a refund through the sandbox networks post to the
 * ledger; the admin settlement run pays the group's account by a payout over the sandbox rails; merchants
 * read balances, settlement records and statements; operators read the books.
 */
describe("ledger and settlement API, end to end", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z"); // Saturday 11:00 Beijing
  let app: TestApp;
  let parent: PaycoreClient, store: PaycoreClient, stranger: PaycoreClient;
  let parent_id = "", store_id = "", store_payment = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "stlapi", clock, sandbox: true });
    const p = await createTestMerchant(app, { name: "Group HQ" });
    const s = await createTestMerchant(app, { name: "Store 1", parent_merchant_id: p.merchant.merchant_id, settlement: { mode: "parent", cycle_days: 1 } }, p.entity_id);
    const o = await createTestMerchant(app, { name: "Other" });
    [parent, store, stranger] = [app.merchantClient(p.creds), app.merchantClient(s.creds), app.merchantClient(o.creds)];
    [parent_id, store_id] = [p.merchant.merchant_id, s.merchant.merchant_id];
  });
  afterAll(async () => {
    await app.close();
  });

  it("payments and refunds post to each merchant ID's own balance", async () => {
    const cards = await catalogue(app);
    const card = pickCard(cards, { unified: true });
    const other = pickCard(cards, { unified: true, skip: [card.card_number] });
    const agr_store = await signCard(app, store, card, "s-sign-1");
    const agr_parent = await signCard(app, parent, other, "p-sign-1");
    const pay = await store.post<Json>("/v1/payments", { out_trade_no: "s-1", agreement_id: agr_store, amount: 10_000, currency: "CNY", description: "tea" });
    expect(pay.body).toMatchObject({ status: "succeeded", fee: 60 });
    store_payment = pay.body.payment_id as string;
    const hq = await parent.post<Json>("/v1/payments", { out_trade_no: "p-1", agreement_id: agr_parent, amount: 5_000, currency: "CNY", description: "cake" });
    expect(hq.body).toMatchObject({ status: "succeeded", fee: 30 });
    const refund = await store.post<Json>(`/v1/payments/${store_payment}/refunds`, { out_refund_no: "r-1", amount: 2_000, reason: "returned" });
    expect(refund.body).toMatchObject({ status: "succeeded" });
    expect((await store.get<Json>("/v1/balance")).body).toEqual({ pending: 7_952, available: 0, currency: "CNY" });
    expect((await parent.get<Json>("/v1/balance")).body).toEqual({ pending: 4_970, available: 0, currency: "CNY" });
    expect((await stranger.get<Json>("/v1/balance")).body).toEqual({ pending: 0, available: 0, currency: "CNY" });
  });

  it("operators see a balanced ledger, the accounts, the journal of a payment and the margin", async () => {
    const trial = await app.admin("GET", "/admin/v1/ledger/trial-balance");
    expect(trial.status).toBe(200);
    expect(trial.body.balanced).toBe(true);
    expect(trial.body.debits).toBe(trial.body.credits);
    const check = await app.admin("GET", "/admin/v1/ledger/check");
    expect(check.body).toMatchObject({ ok: true, problems: [] });
    const accounts = await app.admin("GET", `/admin/v1/ledger/accounts?owner_id=${store_id}`);
    expect(accounts.body.data.map((a: { kind: string; balance: number }) => [a.kind, a.balance])).toEqual([["merchant_pending", 7_952]]);
    const codes: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: { body: { data: { account_code: string }[]; next_cursor: string | null } } = await app.admin("GET", `/admin/v1/ledger/accounts?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      codes.push(...res.body.data.map((a) => a.account_code));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(codes).toEqual([...codes].sort());
    expect(codes).toEqual(expect.arrayContaining(["fee_income", `merchant_pending:${store_id}`, `merchant_pending:${parent_id}`]));
    expect(new Set(codes).size).toBe(codes.length);
    const journal = await app.admin("GET", `/admin/v1/ledger/journal?reference_id=${store_payment}`);
    expect(journal.body.data).toHaveLength(1);
    expect(journal.body.data[0]).toMatchObject({ event_type: "payment_succeeded", merchant_id: store_id, amount: expect.any(Number) });
    const margin = await app.admin("GET", "/admin/v1/ledger/margin?from=2026-05-01&to=2026-05-31");
    const store_margin = margin.body.data.filter((r: { merchant_id: string }) => r.merchant_id === store_id);
    expect(store_margin.reduce((s: number, r: { fees: number }) => s + r.fees, 0)).toBe(48);
  });

  it("the settlement run pays the group's account once for both members; each keeps its own record and statement", async () => {
    const early = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-03" });
    // On Saturday 11:00 Sunday has not begun (Saturday closes at 23:00): nothing is settled early.
    expect(early.status).toBe(422);
    expect(early.body.error).toMatchObject({ code: "business_day_not_closed" });
    clock.set("2026-05-04T01:00:00Z"); // Monday 09:00 Beijing
    const run = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-04" });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ records_created: 2, payouts_created: 1, amount_instructed: 7_952 + 4_970, payouts: { succeeded: 1, failed: 0, pending: 0 } });
    const mine = await store.get<Json>("/v1/settlements?date=2026-05-04");
    expect(mine.body.data).toEqual([
      expect.objectContaining({ merchant_id: store_id, payee_merchant_id: parent_id, gross: 10_000, fees: 48, refunds: 2_000, net: 7_952, status: "paid", settlement_account: { account_name: TEST_ACCOUNT.account_name, account_number_last4: TEST_ACCOUNT.account_number.slice(-4), bank_code: TEST_ACCOUNT.bank_code } }),
    ]);
    // One credit over the rails to the group's account, by the payout the instruction names.
    const credits = await app.sandbox!.get<{ data: { amount: number; rail: string; end_to_end_id: string }[] }>(`/sandbox/v1/rails/credits?account_number=${TEST_ACCOUNT.account_number}`);
    const payouts = await app.admin("GET", "/admin/v1/settlement-payouts?date=2026-05-04");
    expect(payouts.body.data).toEqual([expect.objectContaining({ payee_merchant_id: parent_id, amount: 12_922, status: "succeeded", payout: expect.objectContaining({ status: "succeeded", rail: "bank_direct" }) })]);
    const payout = payouts.body.data[0].payout;
    expect(payout.route_reason).toContain("sent by bank-direct");
    expect(credits.body.data.map((c) => [c.amount, c.rail, c.end_to_end_id])).toEqual([[12_922, "bank_direct", payout.payout_id]]);
    const listed = await app.admin("GET", `/admin/v1/payouts?merchant_id=${parent_id}`);
    expect(listed.body.data).toEqual([expect.objectContaining({ payout_id: payout.payout_id, out_payout_no: `settlement:${payouts.body.data[0].instruction_id}`, amount: 12_922, fee: 0, status: "succeeded" })]);
    const again = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-04" });
    expect(again.body).toMatchObject({ records_created: 0, payouts_created: 0, payouts: { attempted: 0 } });
    expect((await store.get<Json>("/v1/balance")).body).toEqual({ pending: 0, available: 0, currency: "CNY" });
    expect((await app.admin("GET", "/admin/v1/ledger/check")).body.ok).toBe(true);
  });

  it("the statement ties out to the fen; a group's merchant ID may read its store's, nobody else may", async () => {
    const res = await store.get<string>("/v1/statements?date=2026-05-02");
    expect(res.status).toBe(200);
    const rows = res.text.trim().split("\n").map((l) => l.split(","));
    const amount = (type: string, account: string) => rows.filter((r) => r[0] === type && r[3] === account).map((r) => Number(r[4]));
    const lines = rows.filter((r) => !["line_type", "opening_balance", "closing_balance", "settlement"].includes(r[0]!) && r[3] === "pending");
    expect(lines.map((r) => r[0])).toEqual(["payment", "fee", "refund", "fee_returned"]);
    expect(amount("opening_balance", "pending")[0]! + lines.reduce((s, r) => s + Number(r[4]), 0)).toBe(amount("closing_balance", "pending")[0]);
    expect(amount("closing_balance", "pending")).toEqual([7_952]);
    expect(lines[0]![6]).toBe(store_payment);
    const by_parent = await parent.get<string>(`/v1/statements?date=2026-05-02&sub_merchant_id=${store_id}`);
    expect(by_parent.text).toBe(res.text);
    const by_stranger = await stranger.get<Json>(`/v1/statements?date=2026-05-02&sub_merchant_id=${store_id}`);
    expect(by_stranger.status).toBe(404);
    const future = await store.get<Json>("/v1/statements?date=2099-01-01");
    expect(future.status).toBe(422);
    expect(future.body).toMatchObject({ error: { code: "date_in_future" } });
    const records = await parent.get<Json>(`/v1/settlements?sub_merchant_id=${store_id}`);
    expect((records.body.data as unknown[]).length).toBe(1);
  });

  it("publishes the ledger and settlement endpoints in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> };
    expect(Object.keys(doc.paths["/v1/statements"]!.get!.responses["200"]!.content!)).toEqual(["text/csv"]);
    for (const path of ["/v1/balance", "/v1/settlements", "/admin/v1/ledger/trial-balance", "/admin/v1/ledger/journal", "/admin/v1/settlements/run", "/admin/v1/settlement-calendar"]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths["/admin/v1/merchants/{merchant_id}/settlement-hold"]).toHaveProperty("put");
  });

  it("validates dates and checks roles; holds and the refund fee policy are audited", async () => {
    const bad = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-5-4" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_request", field: "date" });
    expect((await store.get<Json>("/v1/statements")).status).toBe(400);
    const { token } = await createOperator(app.ctx, { name: "auditor", role: "auditor" });
    expect((await app.admin("GET", "/admin/v1/ledger/trial-balance", undefined, token)).status).toBe(200);
    expect((await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-04" }, token)).status).toBe(403);
    expect((await app.admin("PUT", `/admin/v1/merchants/${store_id}/settlement-hold`, { reason: "x" }, token)).status).toBe(403);
    const hold = await app.admin("PUT", `/admin/v1/merchants/${store_id}/settlement-hold`, { reason: "risk review" });
    expect(hold.body).toEqual({ merchant_id: store_id, held: true, reason: "risk review" });
    // Releasing is four eyes: a proposal, applied when a second operator approves it.
    const release = await app.admin("DELETE", `/admin/v1/merchants/${store_id}/settlement-hold`);
    expect(release.status).toBe(202);
    const checker = await createOperator(app.ctx, { name: "checker", role: "operator" });
    const approved = await app.admin("POST", `/admin/v1/proposals/${release.body.proposal_id}/approve`, {}, checker.token);
    expect(approved.body).toMatchObject({ status: "approved", result: { merchant_id: store_id, held: false } });
    expect((await app.admin("DELETE", `/admin/v1/merchants/${store_id}/settlement-hold`)).status).toBe(404);
    const policy = await app.admin("PUT", "/admin/v1/refund-fee-policies/platform", { policy: "keep" });
    expect(policy.body).toEqual({ scope: "platform", policy: "keep" });
    expect((await app.admin("PUT", "/admin/v1/refund-fee-policies/mch_NOPE", { policy: "keep" })).status).toBe(404);
    await app.admin("PUT", "/admin/v1/refund-fee-policies/platform", { policy: null });
    const calendar = await app.admin("PATCH", "/admin/v1/settlement-calendar", { days: [{ day: "2026-05-05", kind: "holiday" }] });
    expect(calendar.body).toEqual({ cutoff: "23:00", cutoff_history: [{ effective_from: "1970-01-01", cutoff: "23:00" }], holidays: ["2026-05-05"], working_days: [] });
    const audit = await app.admin("GET", `/admin/v1/audit-log?target_id=${store_id}`);
    expect(audit.body.data.map((a: { action: string }) => a.action)).toEqual(expect.arrayContaining(["settlement.hold", "settlement.release"]));
  });
});
