import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { newId } from "../../src/kernel/ids.ts";
import { merchantBalance, postPaymentSucceeded } from "../../src/ledger/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const bj = (local: string) => new Date(`${local}+08:00`);

/**
 * A settlement payout the payee's bank sends back (退汇) after it settled: paycore over HTTP, the
 * sandbox rails pushing the return to paycore's callback, the real database (PGlite, or PostgreSQL
 * with DATABASE_URL).
 */
describe("settlement payouts: a return after success", () => {
  const clock = new ManualClock(bj("2026-05-05T09:00:00")); // Tuesday 09:00 Beijing
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "stlret", clock, sandbox: true });
  }, 60_000);
  afterAll(async () => app?.close());

  it("gives each group member its part back, marks the records payout_failed and notifies; the next date's run pays them again", async () => {
    const account = { account_name: "Return Co., Ltd.", account_number: "6222020200556677881", bank_code: "102290000012" };
    expect((await app.sandbox!.send("POST", "/sandbox/v1/payees", { ...account, behaviour: "return" })).status).toBe(201);
    const parent = await createTestMerchant(app, { settlement: { mode: "own", cycle_days: 1, account } });
    const store = await createTestMerchant(app, { name: "Store", parent_merchant_id: parent.merchant.merchant_id, settlement: { mode: "parent", cycle_days: 1 } }, parent.entity_id);
    const [parent_id, store_id] = [parent.merchant.merchant_id as string, store.merchant.merchant_id as string];
    for (const [merchant_id, amount, fee] of [[parent_id, 6_000n, 36n], [store_id, 4_000n, 24n]] as const) {
      await app.ctx.db.transaction().execute((trx) =>
        postPaymentSucceeded(trx, { payment_id: newId("pay"), merchant_id, amount, fee, channel_id: "netsunion", network_cost: 0n, at: bj("2026-05-04T10:00:00") }),
      );
    }
    const run = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-05" });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body).toMatchObject({ payouts_created: 1, amount_instructed: 5_964 + 3_976, payouts: { succeeded: 1 } });
    const instruction = (await app.admin("GET", `/admin/v1/settlement-payouts?payee_merchant_id=${parent_id}`)).body.data[0] as Json;
    expect(instruction.payout).toMatchObject({ status: "succeeded", rail: "bank_direct" });
    const payout_id = instruction.payout.payout_id as string;

    // The payee's bank sends it back a moment later (the sandbox pushes a pacs.004 to paycore).
    let status = "";
    for (let i = 0; i < 400 && status !== "returned"; i++) {
      await new Promise((done) => setTimeout(done, 25));
      status = (await app.ctx.db.selectFrom("payouts").select("status").where("payout_id", "=", payout_id).executeTakeFirstOrThrow()).status;
    }
    expect(status).toBe("returned");
    const after = (await app.admin("GET", `/admin/v1/settlement-payouts?payee_merchant_id=${parent_id}`)).body.data[0] as Json;
    expect(after).toMatchObject({ status: "returned", payout: { status: "returned" } });
    expect(after.failure_reason).toContain("AC04");
    const records = await app.ctx.db.selectFrom("settlements").select(["merchant_id", "status"]).where("payout_instruction_id", "=", instruction.instruction_id).orderBy("merchant_id").execute();
    expect(records.map((r) => r.status)).toEqual(["payout_failed", "payout_failed"]);
    expect(await merchantBalance(app.ctx.db, parent_id)).toEqual({ pending: 0n, available: 5_964n });
    expect(await merchantBalance(app.ctx.db, store_id)).toEqual({ pending: 0n, available: 3_976n });
    const returned = await app.ctx.db
      .selectFrom("journal_lines as l")
      .innerJoin("journal_entries as e", "e.entry_id", "l.entry_id")
      .select(["l.account_code", "l.side", "l.amount"])
      .where("e.event_key", "=", `payout_returned:${payout_id}`)
      .orderBy("l.account_code")
      .execute();
    expect(returned.map((l) => [l.account_code, l.side, BigInt(l.amount)])).toEqual(
      [[`merchant_available:${parent_id}`, "credit", 5_964n], [`merchant_available:${store_id}`, "credit", 3_976n], ["rail_settlement:bank_direct", "debit", 9_940n]].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    const events = await app.ctx.db.selectFrom("notify_events").select("type").where("merchant_id", "=", parent_id).where("type", "=", "payout.returned").execute();
    expect(events).toHaveLength(1);
    expect((await app.admin("GET", "/admin/v1/ledger/check")).body).toMatchObject({ ok: true, problems: [] });

    // A same-date re-run does not retry; the next date's run pays the records again (the payee's bank now keeps it).
    expect((await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-05" })).body).toMatchObject({ payouts_created: 0 });
    expect((await app.sandbox!.send("POST", "/sandbox/v1/payees", { ...account, behaviour: "accept" })).status).toBe(201);
    clock.set(bj("2026-05-06T09:00:00"));
    const next = await app.admin("POST", "/admin/v1/settlements/run", { date: "2026-05-06" });
    expect(next.body).toMatchObject({ payouts_created: 1, amount_instructed: 9_940, payouts: { succeeded: 1 } });
    const paid = await app.ctx.db.selectFrom("settlements").select("status").where("settlement_id", "in", (await app.ctx.db.selectFrom("settlement_payout_items").select("settlement_id").where("instruction_id", "=", instruction.instruction_id).execute()).map((r) => r.settlement_id)).execute();
    expect(paid.map((r) => r.status)).toEqual(["paid", "paid"]);
    expect((await app.admin("GET", "/admin/v1/ledger/check")).body).toMatchObject({ ok: true, problems: [] });
  });
});
