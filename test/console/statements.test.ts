import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { createOperator } from "../../src/operators/index.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** GET /admin/v1/merchants/{id}/statements: the merchant's statement (same builder as GET /v1/statements) for the console. */
describe("console admin API: a merchant ID's statement for a day", () => {
  let app: TestApp;
  let shop: PaycoreClient;
  let merchant_id = "";
  let payment_id = "";
  let day = "";
  let auditor = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "console-statements", sandbox: true });
    const m = await createTestMerchant(app, { name: "Dumpling House" });
    merchant_id = m.merchant.merchant_id as string;
    shop = app.merchantClient(m.creds);
    const agreement_id = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "stmt-sign");
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "dumplings-1", agreement_id, amount: 6_600, currency: "CNY", description: "dumplings" });
    expect(paid.body.status).toBe("succeeded");
    payment_id = paid.body.payment_id;
    const refund = await shop.post<Json>(`/v1/payments/${payment_id}/refunds`, { out_refund_no: "dumplings-1-r", amount: 1_000, reason: "one short" });
    expect(refund.status).toBeLessThan(300);
    // The business date the payment's lines were booked on (after the cut-off it is tomorrow's).
    const row = await app.ctx.db
      .selectFrom("pending_items")
      .innerJoin("journal_lines", "journal_lines.entry_id", "pending_items.entry_id")
      .select("journal_lines.business_date")
      .where("pending_items.payment_id", "=", payment_id)
      .executeTakeFirstOrThrow();
    day = String(row.business_date);
    auditor = (await createOperator(app.ctx, { name: "stmt-aud", role: "auditor" })).token;
  });
  afterAll(async () => {
    await app?.close();
  });

  it("gives the day's lines, balances that tie out to the fen, and totals; an auditor may read it", async () => {
    const res = await app.admin("GET", `/admin/v1/merchants/${merchant_id}/statements?date=${day}`, undefined, auditor);
    expect(res.status).toBe(200);
    const st = res.body as Json;
    expect(st).toMatchObject({ merchant_id, date: day });
    const payment = st.lines.find((l: Json) => l.line_type === "payment" && l.payment_id === payment_id);
    expect(payment).toMatchObject({ account: "pending", amount: 6_600 });
    expect(st.lines.map((l: Json) => l.line_type)).toEqual(expect.arrayContaining(["payment", "fee", "refund"]));
    for (const a of st.accounts as Json[]) {
      const sum = (st.lines as Json[]).filter((l) => l.account === a.account).reduce((s, l) => s + (l.amount as number), 0);
      expect(a.opening + sum).toBe(a.closing);
    }
    const plus = (st.lines as Json[]).filter((l) => l.amount >= 0).reduce((s, l) => s + (l.amount as number), 0);
    const minus = (st.lines as Json[]).filter((l) => l.amount < 0).reduce((s, l) => s - (l.amount as number), 0);
    expect(st.totals).toEqual({ credits: plus, debits: minus, net: plus - minus });
  });

  it("has the same lines as the merchant's CSV", async () => {
    const admin = (await app.admin("GET", `/admin/v1/merchants/${merchant_id}/statements?date=${day}`)).body as Json;
    const csv = await shop.get<string>(`/v1/statements?date=${day}`);
    if (csv.status === 422) return expect(csv.body).toMatchObject({ error: { code: "date_in_future" } }); // after the cut-off the merchant may not ask for tomorrow yet
    expect(csv.status).toBe(200);
    const rows = csv.text.trim().split("\n").slice(1).map((l) => l.split(","));
    const balance = rows.filter((r) => !["opening_balance", "closing_balance", "settlement"].includes(r[0]!));
    expect(balance.map((r) => [r[0], r[3], Number(r[4]), r[7]])).toEqual((admin.lines as Json[]).map((l) => [l.line_type, l.account, l.amount, l.entry_id]));
    expect(rows.filter((r) => r[0] === "closing_balance").map((r) => Number(r[4]))).toEqual((admin.accounts as Json[]).map((a) => a.closing));
  });

  it("refuses an unknown merchant ID, a far-future day and a missing date", async () => {
    expect((await app.admin("GET", `/admin/v1/merchants/mch_nobody/statements?date=${day}`)).status).toBe(404);
    const future = await app.admin("GET", `/admin/v1/merchants/${merchant_id}/statements?date=2099-01-01`);
    expect(future.status).toBe(422);
    expect(future.body).toMatchObject({ error: { code: "date_in_future" } });
    expect((await app.admin("GET", `/admin/v1/merchants/${merchant_id}/statements`)).status).toBe(400);
    expect((await app.admin("GET", `/admin/v1/merchants/${merchant_id}/statements?date=2026-13-01`)).status).toBe(400);
  });
});
