import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown> & { payment_id?: string; status?: string };

/**
 * A payment's merchant ID, agreement and card without foreign keys (migration 2100): the intent's
 * agreement trigger proves them (the agreement is active and is the merchant ID's with that card),
 * agreements never go nor change their keys, and a payment never changes its references.
 */
describe("a payment's references without row locks", () => {
  const clock = new ManualClock("2026-05-04T03:00:00Z");
  let app: TestApp;
  let A: PaycoreClient;
  let a_id: string;
  let b_id: string;
  let agreement_a: string;
  let agreement_b: string;
  let payment_id: string;

  beforeAll(async () => {
    app = await startTestApp({ label: "payment_refs", clock, sandbox: true });
    const a = await createTestMerchant(app);
    const b = await createTestMerchant(app);
    a_id = a.creds.mch_id;
    b_id = b.creds.mch_id;
    A = app.merchantClient(a.creds);
    const B = app.merchantClient(b.creds);
    const cards = await catalogue(app);
    const first = pickCard(cards, { unified: true });
    const second = pickCard(cards, { unified: true, skip: [first.card_number] });
    agreement_a = await signCard(app, A, first, "refs-sign-a");
    agreement_b = await signCard(app, B, second, "refs-sign-b");
    const paid = await A.post<Json>("/v1/payments", { out_trade_no: "refs-1", agreement_id: agreement_a, amount: 100, currency: "CNY", description: "refs" });
    expect(paid.status).toBe(201);
    payment_id = paid.body.payment_id!;
  });
  afterAll(async () => app.close());

  /** A copy of the payment under new ids, with `changes` applied, inserted by hand. */
  const insertCopy = (n: number, changes: Record<string, string>) =>
    sql`INSERT INTO payments SELECT * FROM jsonb_populate_record(NULL::payments,
          (SELECT to_jsonb(p) FROM payments p WHERE payment_id = ${payment_id})
          || jsonb_build_object('payment_id', ${`pay_refs_${n}`}::text, 'out_trade_no', ${`refs-copy-${n}`}::text, 'txn_id', ${`ntx_refs_${n}`}::text)
          || ${JSON.stringify(changes)}::jsonb)`.execute(app.ctx.db);

  it("has no foreign key from payments to merchants, agreements or cards (the sub-merchant's stays)", async () => {
    const keys = await sql<{ conname: string }>`SELECT conname FROM pg_constraint WHERE conrelid = 'payments'::regclass AND contype = 'f' ORDER BY conname`.execute(app.ctx.db);
    expect(keys.rows.map((r) => r.conname)).toEqual(["payments_sub_merchant_id_fkey"]);
  });

  it("refuses a payment whose merchant ID or card is not its agreement's, or whose agreement does not exist", async () => {
    const card_b = (await app.ctx.db.selectFrom("agreements").select("card_id").where("agreement_id", "=", agreement_b).executeTakeFirstOrThrow()).card_id;
    await expect(insertCopy(1, { merchant_id: b_id })).rejects.toThrow(/but agreement .* is merchant ID/);
    await expect(insertCopy(2, { card_id: card_b })).rejects.toThrow(/but agreement .* is merchant ID/);
    await expect(insertCopy(3, { merchant_id: "mch_nowhere" })).rejects.toThrow(/but agreement .* is merchant ID/);
    await expect(insertCopy(4, { card_id: "card_nowhere" })).rejects.toThrow(/but agreement .* is merchant ID/);
    await expect(insertCopy(5, { agreement_id: "agr_nowhere" })).rejects.toThrow(/agreement agr_nowhere is not active/);
    // The other merchant ID's agreement, under this merchant ID: refused too.
    await expect(insertCopy(6, { agreement_id: agreement_b })).rejects.toThrow(/but agreement .* is merchant ID/);
    // The same references as the agreement's: accepted (the copy is then removed with its transaction).
    const rolled_back = new Error("rolled back");
    await expect(
      app.ctx.db.transaction().execute(async (trx) => {
        await sql`INSERT INTO payments SELECT * FROM jsonb_populate_record(NULL::payments,
                  (SELECT to_jsonb(p) FROM payments p WHERE payment_id = ${payment_id})
                  || jsonb_build_object('payment_id', 'pay_refs_ok', 'out_trade_no', 'refs-copy-ok', 'txn_id', 'ntx_refs_ok'))`.execute(trx);
        throw rolled_back;
      }),
    ).rejects.toBe(rolled_back);
  });

  it("never changes a payment's merchant ID, agreement or card; other columns still update", async () => {
    await expect(sql`UPDATE payments SET merchant_id = ${b_id} WHERE payment_id = ${payment_id}`.execute(app.ctx.db)).rejects.toThrow(/never change/);
    await expect(sql`UPDATE payments SET agreement_id = ${agreement_b} WHERE payment_id = ${payment_id}`.execute(app.ctx.db)).rejects.toThrow(/never change/);
    await expect(sql`UPDATE payments SET card_id = 'card_nowhere' WHERE payment_id = ${payment_id}`.execute(app.ctx.db)).rejects.toThrow(/never change/);
    // Naming a reference with its own value is no change.
    await sql`UPDATE payments SET merchant_id = merchant_id, updated_at = updated_at WHERE payment_id = ${payment_id}`.execute(app.ctx.db);
    const row = await app.ctx.db.selectFrom("payments").select(["merchant_id", "status"]).where("payment_id", "=", payment_id).executeTakeFirstOrThrow();
    expect(row.merchant_id).toBe(a_id);
  });

  it("never deletes, truncates or re-keys an agreement; its status still moves (unbind)", async () => {
    await expect(sql`DELETE FROM agreements WHERE agreement_id = ${agreement_b}`.execute(app.ctx.db)).rejects.toThrow(/agreements are never removed/);
    await expect(sql`TRUNCATE agreements CASCADE`.execute(app.ctx.db)).rejects.toThrow(/agreements are never removed/);
    await expect(sql`UPDATE agreements SET merchant_id = ${a_id} WHERE agreement_id = ${agreement_b}`.execute(app.ctx.db)).rejects.toThrow(/agreements are never removed/);
    const card_a = (await app.ctx.db.selectFrom("agreements").select("card_id").where("agreement_id", "=", agreement_a).executeTakeFirstOrThrow()).card_id;
    await expect(sql`UPDATE agreements SET card_id = ${card_a} WHERE agreement_id = ${agreement_b}`.execute(app.ctx.db)).rejects.toThrow(/agreements are never removed/);
    await expect(sql`UPDATE agreements SET agreement_id = 'agr_renamed' WHERE agreement_id = ${agreement_b}`.execute(app.ctx.db)).rejects.toThrow(/agreements are never removed/);
    // A merchant ID or card an agreement names cannot go either (the agreement's own keys).
    await expect(sql`DELETE FROM merchants WHERE merchant_id = ${b_id}`.execute(app.ctx.db)).rejects.toThrow(/foreign key|violates/);
    const unbound = await A.post<Json>(`/v1/agreements/${agreement_a}/unbind`, {});
    expect(unbound.status).toBe(200);
    const after = await app.ctx.db.selectFrom("agreements").select(["status", "merchant_id"]).where("agreement_id", "=", agreement_a).executeTakeFirstOrThrow();
    expect(after).toEqual({ status: "unbound", merchant_id: a_id });
  });
});
