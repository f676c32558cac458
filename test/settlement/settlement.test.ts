import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../src/kernel/ids.ts";
import { merchantBalance, postPaymentSucceeded, postRefundSucceeded } from "../../src/ledger/index.ts";
import { patchMerchant } from "../../src/merchants/index.ts";
import type { PayoutDeps } from "../../src/payouts/index.ts";
import {
  checkBooks,
  executePayouts,
  holdSettlement,
  listPayouts as listSettlementPayouts,
  listSettlements,
  releaseSettlementHold,
  runSettlement,
  statementCsv,
} from "../../src/settlement/index.ts";
import { accountNumber, openSandbox, openWorld, receivedBy, rejectingPayee, type RailsSandbox, type World } from "../ledger/world.ts";
import { booksSnapshot } from "./snapshot.ts";

const ACTOR = { operator_id: "op_test", request_id: "req_test" };

/** Beijing wall-clock time as an instant. */
const bj = (local: string) => new Date(`${local}+08:00`);
/** Settlement accounts at CCB (in IBPS) and CIB (not in IBPS); the world's default is ICBC, the reserve bank. */
const CCB = "105100000017";
const CIB = "309100000018";
const sortLines = (lines: (string | bigint)[][]) => [...lines].sort((a, b) => (String(a.slice(0, 3)) < String(b.slice(0, 3)) ? -1 : 1));

describe("settlement: cycles, cut-off, group settlement with separate books, carry, holds, payouts", () => {
  let w: World;
  let sandbox: RailsSandbox;
  let pd: PayoutDeps;
  let entity: string;

  beforeAll(async () => {
    w = await openWorld("settle");
    sandbox = await openSandbox({ clock: w.clock });
    pd = sandbox.payouts(w.ctx);
    entity = await w.entity();
  });
  afterAll(async () => {
    await sandbox.close();
    await w.close();
  });

  const pay = async (merchant_id: string, amount: bigint, at: Date, fee = (amount * 6n) / 1000n) => {
    const payment_id = newId("pay");
    await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, { payment_id, merchant_id, amount, fee, channel_id: "netsunion", network_cost: 0n, at }));
    return payment_id;
  };
  const refund = (merchant_id: string, payment_id: string, amount: bigint, at: Date) =>
    w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id, merchant_id, amount, at }));
  const run = async (date: string, at: Date) => {
    w.clock.set(at);
    return runSettlement(pd, { date, execute: true });
  };
  const payoutOf = (instruction_id: string) => w.ctx.db.selectFrom("payouts").selectAll().where("settlement_instruction_id", "=", instruction_id).executeTakeFirstOrThrow();
  /** A payout's journal lines as [event, account, side, amount], sorted. */
  const entryLines = async (payout_id: string) => {
    const rows = await w.ctx.db
      .selectFrom("journal_lines as l")
      .innerJoin("journal_entries as e", "e.entry_id", "l.entry_id")
      .select(["e.event_type", "l.account_code", "l.side", "l.amount"])
      .where("e.reference_id", "=", payout_id)
      .execute();
    return sortLines(rows.map((r) => [r.event_type, r.account_code, r.side, BigInt(r.amount)]));
  };
  const record = async (merchant_id: string, date: string) => (await listSettlements(w.ctx.db, { merchant_id, settlement_date: date, limit: 10 })).data[0];
  const expectBooksOk = async () => {
    const check = await checkBooks(w.ctx.db);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  };

  it("T+1: money of Monday is settled and paid on Tuesday, once; a re-run changes nothing", async () => {
    const account = accountNumber();
    const shop = await w.merchant({ entity_id: entity, account_number: account });
    await pay(shop, 10_000n, bj("2026-03-02T10:00:00"));
    const monday = await run("2026-03-02", bj("2026-03-02T23:30:00"));
    expect(await record(shop, "2026-03-02")).toBeUndefined();
    expect(monday.records_created).toBe(0);
    await run("2026-03-03", bj("2026-03-03T09:00:00"));
    const r = (await record(shop, "2026-03-03"))!;
    expect(r).toMatchObject({ gross: 10_000n, fees: 60n, refunds: 0n, net: 9_940n, status: "paid", covers_through: "2026-03-02", payee_merchant_id: shop });
    expect(r.settlement_account?.account_number_last4).toBe(account.slice(-4));
    expect(await receivedBy(sandbox.url, account)).toBe(9_940n);
    expect(await merchantBalance(w.ctx.db, shop)).toEqual({ pending: 0n, available: 0n });
    const before = await booksSnapshot(w.ctx.db);
    const again = await run("2026-03-03", bj("2026-03-03T12:00:00"));
    expect(again).toMatchObject({ records_created: 0, payouts_created: 0 });
    expect(await booksSnapshot(w.ctx.db)).toEqual(before);
    expect(await receivedBy(sandbox.url, account)).toBe(9_940n);
    await expectBooksOk();
  });

  it("group settlement: the parent's account gets one transfer for its own and its stores' nets; every store keeps its own record and statement", async () => {
    const group_account = accountNumber();
    const own_account = accountNumber();
    const parent = await w.merchant({ entity_id: entity, account_number: group_account });
    const store1 = await w.merchant({ entity_id: entity, parent_merchant_id: parent, mode: "parent" });
    const store2 = await w.merchant({ entity_id: entity, parent_merchant_id: parent, mode: "parent", fee_rate_bps: 100, fee_min: 0 });
    const store3 = await w.merchant({ entity_id: entity, parent_merchant_id: parent, mode: "own", account_number: own_account });
    const at = bj("2026-03-04T11:00:00");
    await pay(parent, 5_000n, at, 30n);
    const p1 = await pay(store1, 20_000n, at, 120n);
    await refund(store1, p1, 5_000n, bj("2026-03-04T15:00:00"));
    await pay(store2, 8_000n, at, 80n);
    await pay(store3, 3_000n, at, 18n);
    await run("2026-03-05", bj("2026-03-05T08:00:00"));
    const nets = { parent: (await record(parent, "2026-03-05"))!, store1: (await record(store1, "2026-03-05"))!, store2: (await record(store2, "2026-03-05"))!, store3: (await record(store3, "2026-03-05"))! };
    expect(nets.parent.net).toBe(4_970n);
    expect(nets.store1).toMatchObject({ gross: 20_000n, fees: 90n, refunds: 5_000n, net: 14_910n, payee_merchant_id: parent });
    expect(nets.store2).toMatchObject({ net: 7_920n, payee_merchant_id: parent });
    expect(nets.store3).toMatchObject({ net: 2_982n, payee_merchant_id: store3 });
    expect(nets.store1.payout_instruction_id).toBe(nets.parent.payout_instruction_id);
    expect(await receivedBy(sandbox.url, group_account)).toBe(4_970n + 14_910n + 7_920n);
    expect(await receivedBy(sandbox.url, own_account)).toBe(2_982n);
    const csv = await statementCsv(w.ctx.db, store1, "2026-03-04");
    const rows = csv.trim().split("\n").map((l) => l.split(","));
    expect(rows[0]).toEqual(["line_type", "occurred_at", "business_date", "account", "amount", "reference_id", "payment_id", "entry_id", "note"]);
    const lines = rows.slice(1).map((r) => [r[0], r[3], r[4]]);
    expect(lines).toEqual([
      ["opening_balance", "pending", "0"],
      ["opening_balance", "available", "0"],
      ["payment", "pending", "20000"],
      ["fee", "pending", "-120"],
      ["refund", "pending", "-5000"],
      ["fee_returned", "pending", "30"],
      ["closing_balance", "pending", "14910"],
      ["closing_balance", "available", "0"],
    ]);
    const settled = (await statementCsv(w.ctx.db, store1, "2026-03-05")).trim().split("\n").map((l) => l.split(","));
    expect(settled.map((r) => [r[0], r[3], r[4]]).slice(1)).toEqual([
      ["opening_balance", "pending", "14910"],
      ["opening_balance", "available", "0"],
      ["settlement", "pending", "-14910"],
      ["settlement", "available", "14910"],
      ["payout", "available", "-14910"],
      ["closing_balance", "pending", "0"],
      ["closing_balance", "available", "0"],
      ["settlement", "", "14910"],
    ]);
    await expectBooksOk();
  });

  it("a negative net (refunds above income) carries forward instead of paying out, and is taken from the next net", async () => {
    const account = accountNumber();
    const shop = await w.merchant({ entity_id: entity, account_number: account });
    const p = await pay(shop, 10_000n, bj("2026-03-09T10:00:00"), 60n);
    await run("2026-03-10", bj("2026-03-10T08:00:00"));
    expect(await receivedBy(sandbox.url, account)).toBe(9_940n);
    await refund(shop, p, 10_000n, bj("2026-03-10T10:00:00"));
    await pay(shop, 1_000n, bj("2026-03-10T11:00:00"), 6n);
    await run("2026-03-11", bj("2026-03-11T08:00:00"));
    const carried = (await record(shop, "2026-03-11"))!;
    expect(carried).toMatchObject({ gross: 1_000n, fees: -54n, refunds: 10_000n, net: -8_946n, status: "carried_forward", payout_instruction_id: null });
    expect(await merchantBalance(w.ctx.db, shop)).toEqual({ pending: -8_946n, available: 0n });
    await run("2026-03-12", bj("2026-03-12T08:00:00"));
    expect(await record(shop, "2026-03-12")).toBeUndefined(); // nothing new: the carry stays where it is
    await pay(shop, 20_000n, bj("2026-03-12T10:00:00"), 120n);
    await run("2026-03-13", bj("2026-03-13T08:00:00"));
    const next = (await record(shop, "2026-03-13"))!;
    expect(next).toMatchObject({ gross: 20_000n, fees: 120n, carried_in: -8_946n, net: 10_934n, status: "paid" });
    expect(await receivedBy(sandbox.url, account)).toBe(9_940n + 10_934n);
    await expectBooksOk();
  });

  it("suspended or held merchants are settled but not paid; released, they are paid by the next run", async () => {
    const account = accountNumber();
    const parent = await w.merchant({ entity_id: entity, account_number: account });
    const store = await w.merchant({ entity_id: entity, parent_merchant_id: parent, mode: "parent" });
    await pay(parent, 1_000n, bj("2026-03-16T10:00:00"), 6n);
    await pay(store, 2_000n, bj("2026-03-16T10:00:00"), 12n);
    await holdSettlement(w.ctx, store, "risk review");
    await run("2026-03-17", bj("2026-03-17T08:00:00"));
    expect((await record(store, "2026-03-17"))!.status).toBe("held");
    expect(await merchantBalance(w.ctx.db, store)).toEqual({ pending: 0n, available: 1_988n });
    expect(await receivedBy(sandbox.url, account)).toBe(994n);
    await releaseSettlementHold(w.ctx.db, store);
    await patchMerchant(w.ctx, parent, { status: "suspended" }, ACTOR);
    await pay(store, 500n, bj("2026-03-17T10:00:00"), 3n);
    await run("2026-03-18", bj("2026-03-18T08:00:00"));
    // A suspended parent holds its stores too.
    expect((await record(store, "2026-03-18"))!.status).toBe("held");
    expect(await receivedBy(sandbox.url, account)).toBe(994n);
    await patchMerchant(w.ctx, parent, { status: "active" }, ACTOR);
    const released = await run("2026-03-18", bj("2026-03-18T12:00:00"));
    expect(released.payouts_created).toBe(1);
    expect(await receivedBy(sandbox.url, account)).toBe(994n + 1_988n + 497n);
    expect((await record(store, "2026-03-17"))!.status).toBe("paid");
    expect(await merchantBalance(w.ctx.db, store)).toEqual({ pending: 0n, available: 0n });
    await expectBooksOk();
  });

  it("a payee-bank rejection fails the payout: each member gets its part back, the records are payout_failed; a same-day re-run does not retry, the next day's does", async () => {
    const rejecting = accountNumber();
    await rejectingPayee(sandbox.url, rejecting);
    const shop = await w.merchant({ entity_id: entity, account_number: rejecting });
    const store = await w.merchant({ entity_id: entity, parent_merchant_id: shop, mode: "parent" });
    await pay(shop, 4_000n, bj("2026-03-23T10:00:00"), 24n);
    await pay(store, 1_000n, bj("2026-03-23T10:00:00"), 6n);
    const first = await run("2026-03-24", bj("2026-03-24T08:00:00"));
    expect(first.payouts).toMatchObject({ failed: 1 });
    const failed = (await record(shop, "2026-03-24"))!;
    expect(failed.status).toBe("payout_failed");
    expect((await record(store, "2026-03-24"))!.status).toBe("payout_failed");
    const payout = await payoutOf(failed.payout_instruction_id!);
    expect(payout).toMatchObject({ status: "failed", failure_code: "AC04", rail: "bank_direct", amount: 4_970n, fee: 0n });
    const instruction = await w.ctx.db.selectFrom("settlement_payouts").selectAll().where("instruction_id", "=", failed.payout_instruction_id!).executeTakeFirstOrThrow();
    expect(instruction.status).toBe("failed");
    // Reserved from each member's available balance and given back to each: one line per member.
    expect(await entryLines(payout.payout_id)).toEqual(sortLines([
      ["payout_released", `merchant_available:${shop}`, "credit", 3_976n],
      ["payout_released", `merchant_available:${store}`, "credit", 994n],
      ["payout_released", "payouts_in_transit", "debit", 4_970n],
      ["payout_reserved", `merchant_available:${shop}`, "debit", 3_976n],
      ["payout_reserved", `merchant_available:${store}`, "debit", 994n],
      ["payout_reserved", "payouts_in_transit", "credit", 4_970n],
    ]));
    expect(await merchantBalance(w.ctx.db, shop)).toEqual({ pending: 0n, available: 3_976n });
    expect(await merchantBalance(w.ctx.db, store)).toEqual({ pending: 0n, available: 994n });
    expect(await receivedBy(sandbox.url, rejecting)).toBe(0n);
    await expectBooksOk();
    const snapshot = await booksSnapshot(w.ctx.db);
    await run("2026-03-24", bj("2026-03-24T09:00:00"));
    expect(await booksSnapshot(w.ctx.db)).toEqual(snapshot);
    const good = accountNumber();
    await patchMerchant(w.ctx, shop, { settlement: { mode: "own", cycle_days: 1, account: { account_name: "Shop Co.", account_number: good, bank_code: "102290000012" } } }, ACTOR);
    await run("2026-03-25", bj("2026-03-25T08:00:00"));
    expect((await record(shop, "2026-03-24"))!.status).toBe("paid");
    expect((await record(store, "2026-03-24"))!.status).toBe("paid");
    expect(await receivedBy(sandbox.url, good)).toBe(4_970n);
    expect(await merchantBalance(w.ctx.db, shop)).toEqual({ pending: 0n, available: 0n });
    expect(await merchantBalance(w.ctx.db, store)).toEqual({ pending: 0n, available: 0n });
    await expectBooksOk();
  });

  it("D+0 with the 23:00 cut-off: a run waits for the day to close; a payment at 23:00 belongs to the next day", async () => {
    const account = accountNumber();
    const shop = await w.merchant({ entity_id: entity, account_number: account, cycle_days: 0 });
    await pay(shop, 1_000n, bj("2026-03-26T22:59:59"), 6n);
    await pay(shop, 2_000n, bj("2026-03-26T23:00:00"), 12n);
    const early = await run("2026-03-26", bj("2026-03-26T22:00:00"));
    expect(early.not_closed).toBeGreaterThanOrEqual(1);
    expect(await record(shop, "2026-03-26")).toBeUndefined();
    await run("2026-03-26", bj("2026-03-26T23:10:00"));
    expect((await record(shop, "2026-03-26"))!).toMatchObject({ gross: 1_000n, net: 994n, status: "paid" });
    await run("2026-03-27", bj("2026-03-27T23:10:00"));
    expect((await record(shop, "2026-03-27"))!).toMatchObject({ gross: 2_000n, net: 1_988n });
    expect(await receivedBy(sandbox.url, account)).toBe(994n + 1_988n);
    await expectBooksOk();
  });

  it("T+1 counts working days: Friday's money is paid on Monday, not on Saturday", async () => {
    const account = accountNumber();
    const shop = await w.merchant({ entity_id: entity, account_number: account });
    await pay(shop, 1_000n, bj("2026-04-03T10:00:00"), 6n); // Friday
    await run("2026-04-04", bj("2026-04-04T08:00:00")); // Saturday
    expect(await record(shop, "2026-04-04")).toBeUndefined();
    await run("2026-04-06", bj("2026-04-06T08:00:00")); // Monday
    expect((await record(shop, "2026-04-06"))!).toMatchObject({ net: 994n, covers_through: "2026-04-05" });
    await expectBooksOk();
  });

  it("a BEPS payout (payee bank not in IBPS) stays in transit until a later pass finds its batch settled", async () => {
    const account = accountNumber();
    const shop = await w.merchant({ entity_id: entity, account_number: account });
    await patchMerchant(w.ctx, shop, { settlement: { mode: "own", cycle_days: 1, account: { account_name: "Shop Co.", account_number: account, bank_code: CIB } } }, ACTOR);
    await pay(shop, 3_000n, bj("2026-04-06T10:00:00"), 18n);
    const summary = await run("2026-04-07", bj("2026-04-07T08:00:00"));
    expect(summary.payouts).toMatchObject({ pending: 1 });
    const r = (await record(shop, "2026-04-07"))!;
    expect(r.status).toBe("in_transit");
    expect(await payoutOf(r.payout_instruction_id!)).toMatchObject({ status: "processing", rail: "beps", route_reason: "the payee bank is not in IBPS; BEPS is the cheapest open rail that can take it: sent by BEPS" });
    await expectBooksOk();
    let pass = await executePayouts(pd);
    for (let i = 0; i < 200 && pass?.succeeded !== 1; i++) {
      await new Promise((done) => setTimeout(done, 25)); // the sandbox settles BEPS batches every 300 ms
      pass = await executePayouts(pd);
    }
    expect(pass).toMatchObject({ succeeded: 1, pending: 0 });
    expect((await record(shop, "2026-04-07"))!.status).toBe("paid");
    expect(await receivedBy(sandbox.url, account)).toBe(2_982n);
    await expectBooksOk();
  });

  it("each settlement record is paid by one payout, routed like any other: a rail and a route_reason, no fee, no second reservation", async () => {
    const ccb = accountNumber();
    const big = accountNumber();
    const small_shop = await w.merchant({ entity_id: entity, account_number: ccb });
    const big_shop = await w.merchant({ entity_id: entity, account_number: big });
    for (const [id, account] of [[small_shop, ccb], [big_shop, big]] as const) {
      await patchMerchant(w.ctx, id, { settlement: { mode: "own", cycle_days: 1, account: { account_name: "Shop Co.", account_number: account, bank_code: CCB } } }, ACTOR);
    }
    await pay(small_shop, 2_000_000n, bj("2026-04-13T10:00:00"), 0n); // 20,000.00 yuan
    await pay(big_shop, 6_000_000n, bj("2026-04-13T10:00:00"), 0n); // 60,000.00 yuan
    const summary = await run("2026-04-14", bj("2026-04-14T09:00:00")); // Tuesday morning: HVPS is open
    expect(summary.payouts).toMatchObject({ failed: 0, pending: 0 }); // these two, and any other shop's of the shared world
    const small = (await record(small_shop, "2026-04-14"))!;
    const large = (await record(big_shop, "2026-04-14"))!;
    expect([small.status, large.status]).toEqual(["paid", "paid"]);
    expect(await payoutOf(small.payout_instruction_id!)).toMatchObject({
      merchant_id: small_shop, status: "succeeded", rail: "ibps", amount: 2_000_000n, fee: 0n, payee_account_last4: ccb.slice(-4), payee_bank_code: CCB,
      route_reason: "IBPS is the cheapest open rail that can take it: sent by IBPS",
    });
    expect(await payoutOf(large.payout_instruction_id!)).toMatchObject({
      status: "succeeded", rail: "hvps", amount: 6_000_000n, fee: 0n, route_reason: "60,000.00 yuan is over the BEPS/IBPS cap of 50,000.00; HVPS is open: sent by HVPS",
    });
    const payout = await payoutOf(small.payout_instruction_id!);
    expect(await entryLines(payout.payout_id)).toEqual([
      ["payout_reserved", `merchant_available:${small_shop}`, "debit", 2_000_000n],
      ["payout_reserved", "payouts_in_transit", "credit", 2_000_000n],
      ["payout_settled", "payouts_in_transit", "debit", 2_000_000n],
      ["payout_settled", "rail_settlement:ibps", "credit", 2_000_000n],
    ]);
    // The money left the merchant's available balance once: settlement matured it, the payout took it.
    const events = await w.ctx.db.selectFrom("journal_entries").select("event_type").where("merchant_id", "=", small_shop).orderBy("event_type").execute();
    expect(events.map((e) => e.event_type)).toEqual(["payment_succeeded", "payout_reserved", "payout_settled", "settlement_matured"]);
    expect(await receivedBy(sandbox.url, ccb)).toBe(2_000_000n);
    expect(await receivedBy(sandbox.url, big)).toBe(6_000_000n);
    const admin = await listSettlementPayouts(w.ctx.db, { settlement_date: "2026-04-14", payee_merchant_id: small_shop, limit: 10 });
    expect(admin.data).toEqual([expect.objectContaining({ status: "succeeded", payout: { payout_id: payout.payout_id, status: "succeeded", rail: "ibps", route_reason: payout.route_reason } })]);
    await expectBooksOk();
  });

  it("two processes running the same date at once make one payout per record", async () => {
    const account = accountNumber();
    const shop = await w.merchant({ entity_id: entity, account_number: account });
    await pay(shop, 7_000n, bj("2026-04-20T10:00:00"), 42n);
    w.clock.set(bj("2026-04-21T08:00:00"));
    const other = sandbox.payouts(w.ctx); // a second process: its own rail health, the same database
    await Promise.all([runSettlement(pd, { date: "2026-04-21", execute: true }), runSettlement(other, { date: "2026-04-21", execute: true })]);
    const r = (await record(shop, "2026-04-21"))!;
    expect(r.status).toBe("paid");
    const payouts = await w.ctx.db.selectFrom("payouts").select("payout_id").where("merchant_id", "=", shop).execute();
    expect(payouts).toHaveLength(1);
    expect(await receivedBy(sandbox.url, account)).toBe(6_958n);
    await expectBooksOk();
  });

  it("refuses a date that is not a calendar date", async () => {
    await expect(runSettlement(pd, { date: "2026-02-30", execute: false })).rejects.toMatchObject({ code: "invalid_request" });
  });
});
