import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvariantError } from "../../src/kernel/errors.ts";
import { newId } from "../../src/kernel/ids.ts";
import {
  buildEntry,
  checkLedger,
  computePaymentFee,
  merchantBalance,
  merchantPending,
  postEntries,
  postEntry,
  postNetworkSettled,
  postPaymentSucceeded,
  postPaymentsSucceeded,
  LEDGER_LIMITS,
  postRefundSucceeded,
  searchJournal,
  setRefundFeePolicy,
  trialBalance,
  RESERVE_FUNDS,
  FEE_INCOME,
  SETTLEMENT_IN_TRANSIT,
  applyLedgerBalances,
  lockMerchantAvailable,
  merchantAvailable,
} from "../../src/ledger/index.ts";
import { openWorld, type World } from "./world.ts";

describe("ledger: postings, idempotency, append-only journal, fees", () => {
  let w: World;
  let entity: string;
  let shop: string;

  beforeAll(async () => {
    w = await openWorld("ledger");
    entity = await w.entity();
    shop = await w.merchant({ entity_id: entity, fee_rate_bps: 60, fee_min: 10 });
  });
  afterAll(async () => w.close());

  const pay = (amount: bigint, fee: bigint, network_cost = 0n, merchant_id = shop) =>
    w.ctx.db.transaction().execute((trx) =>
      postPaymentSucceeded(trx, { payment_id: newId("pay"), merchant_id, amount, fee, channel_id: "netsunion", network_cost, at: w.clock.now() }),
    );

  it("computes the fee from the product rate, half up, with the minimum, and sub-merchants fall back to the parent's product", async () => {
    expect(await computePaymentFee(w.ctx.db, shop, 10_000n)).toEqual({ fee: 60n, rate_bps: 60, fee_min: 10n, priced_by: shop });
    expect((await computePaymentFee(w.ctx.db, shop, 10_083n)).fee).toBe(60n); // 60.498 fen
    expect((await computePaymentFee(w.ctx.db, shop, 10_084n)).fee).toBe(61n); // 60.504 fen
    expect((await computePaymentFee(w.ctx.db, shop, 10_075n)).fee).toBe(60n); // 60.45 fen
    expect((await computePaymentFee(w.ctx.db, shop, 1_000n)).fee).toBe(10n); // 6 fen, raised to the minimum
    expect((await computePaymentFee(w.ctx.db, shop, 7n)).fee).toBe(7n); // never above the amount
    const store = await w.merchant({ entity_id: entity, parent_merchant_id: shop, mode: "parent", product: "payout" });
    expect(await computePaymentFee(w.ctx.db, store, 10_000n)).toEqual({ fee: 60n, rate_bps: 60, fee_min: 10n, priced_by: shop });
  });

  it("posts a payment: receivable less network cost, merchant pending less the fee, fee income", async () => {
    const before = await merchantBalance(w.ctx.db, shop);
    const posted = await pay(10_000n, 60n, 25n);
    expect(posted.replayed).toBe(false);
    const after = await merchantBalance(w.ctx.db, shop);
    expect(after.pending - before.pending).toBe(9_940n);
    expect(after.available).toBe(0n);
    const journal = await searchJournal(w.ctx.db, { reference_id: (await w.ctx.db.selectFrom("journal_entries").select("reference_id").where("entry_id", "=", posted.entry_id).executeTakeFirstOrThrow()).reference_id, limit: 10 });
    const lines = journal.data[0]!.lines.map((l) => [l.account_code.split(":")[0], l.side, l.amount, l.line_kind]);
    expect(lines).toEqual([
      ["network_receivable", "debit", 9_975n, "payment"],
      ["network_cost", "debit", 25n, "network_cost"],
      ["merchant_pending", "credit", 10_000n, "payment"],
      ["merchant_pending", "debit", 60n, "fee"],
      ["fee_income", "credit", 60n, "fee"],
    ]);
    expect((await trialBalance(w.ctx.db)).balanced).toBe(true);
  });

  it("posts one entry per business event: a repeat returns the first, a repeat with other amounts is a bug", async () => {
    const payment_id = newId("pay");
    const event = { payment_id, merchant_id: shop, amount: 5_000n, fee: 30n, channel_id: "netsunion", network_cost: 0n, at: w.clock.now() };
    const first = await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, event));
    const before = await merchantBalance(w.ctx.db, shop);
    const again = await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, event));
    expect(again).toEqual({ ...first, replayed: true });
    expect(await merchantBalance(w.ctx.db, shop)).toEqual(before);
    await expect(w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, { ...event, fee: 31n }))).rejects.toThrow(InvariantError);
    const entries = await w.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", payment_id).execute();
    expect(entries).toHaveLength(1);
  });

  it("posts many payments in one statement: the same entries and balances as one by one, each once, a repeat replayed", async () => {
    const other = await w.merchant({ entity_id: entity, fee_rate_bps: 60, fee_min: 10 });
    const at = w.clock.now();
    const event = (i: number, merchant_id: string) => ({ payment_id: newId("pay"), merchant_id, amount: 10_000n + BigInt(i), fee: 60n, channel_id: i % 2 ? "netsunion" : "unionpay_nocard", network_cost: 4n, at });
    const events = Array.from({ length: 6 }, (_, i) => event(i, i % 3 ? shop : other));
    // The first is posted alone before the batch: the batch returns its entry and writes it again nowhere.
    const single = await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, events[0]!));
    const before = { shop: await merchantBalance(w.ctx.db, shop), other: await merchantBalance(w.ctx.db, other), trial: await trialBalance(w.ctx.db) };
    const posted = await w.ctx.db.transaction().execute((trx) => postPaymentsSucceeded(trx, events));
    expect(posted.map((p) => p.replayed)).toEqual([true, false, false, false, false, false]);
    expect(posted[0]).toEqual({ ...single, replayed: true });
    const owed = (list: typeof events) => list.reduce((s, e) => s + e.amount - e.fee, 0n);
    expect((await merchantBalance(w.ctx.db, shop)).pending - before.shop.pending).toBe(owed(events.slice(1).filter((e) => e.merchant_id === shop)));
    expect((await merchantBalance(w.ctx.db, other)).pending - before.other.pending).toBe(owed(events.slice(1).filter((e) => e.merchant_id === other)));
    const trial = await trialBalance(w.ctx.db);
    expect(trial.balanced).toBe(true);
    expect(trial.debits - before.trial.debits).toBe(events.slice(1).reduce((s, e) => s + e.amount + e.fee, 0n));
    // Each entry has the lines postPaymentSucceeded writes, in its order, and one pending item.
    const stored = await searchJournal(w.ctx.db, { reference_id: events[1]!.payment_id, limit: 10 });
    expect(stored.data[0]!.lines.map((l) => [l.account_code, l.side, l.amount, l.line_kind])).toEqual([
      ["network_receivable:netsunion", "debit", 9_997n, "payment"],
      ["network_cost:netsunion", "debit", 4n, "network_cost"],
      [`merchant_pending:${shop}`, "credit", 10_001n, "payment"],
      [`merchant_pending:${shop}`, "debit", 60n, "fee"],
      ["fee_income", "credit", 60n, "fee"],
    ]);
    const items = await w.ctx.db.selectFrom("pending_items").select(["payment_id", "amount", "fee"]).where("payment_id", "in", events.map((e) => e.payment_id)).execute();
    expect(items).toHaveLength(6);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
    // The whole batch again: every entry replayed, nothing written.
    const again = await w.ctx.db.transaction().execute((trx) => postPaymentsSucceeded(trx, events));
    expect(again).toEqual(posted.map((p) => ({ ...p, replayed: true })));
    expect(await trialBalance(w.ctx.db)).toEqual(trial);
    // A posted event with other amounts is a bug: the batch throws and its transaction leaves nothing.
    const fresh = event(7, shop);
    await expect(w.ctx.db.transaction().execute((trx) => postPaymentsSucceeded(trx, [fresh, { ...events[2]!, fee: 61n }]))).rejects.toThrow(InvariantError);
    expect(await w.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", fresh.payment_id).execute()).toHaveLength(0);
    await applyLedgerBalances(w.ctx.db);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("a batch refuses a guarded account, an event key twice and more entries than its limit", async () => {
    const guarded = { spec: { event_key: `settlement_matured:b_${shop}`, event_type: "settlement_matured" as const, reference_id: "b", merchant_id: shop, channel_id: null, effective_at: w.clock.now(), business_date: "2026-03-02", lines: [{ account: merchantPending(shop), side: "debit" as const, amount: 1n, line_kind: "settlement" }, { account: merchantAvailable(shop), side: "credit" as const, amount: 1n, line_kind: "settlement" }] } };
    await expect(w.ctx.db.transaction().execute((trx) => postEntries(trx, [guarded]))).rejects.toThrow(/guarded/);
    const e = { payment_id: newId("pay"), merchant_id: shop, amount: 100n, fee: 1n, channel_id: "netsunion", network_cost: 0n, at: w.clock.now() };
    await expect(w.ctx.db.transaction().execute((trx) => postPaymentsSucceeded(trx, [e, e]))).rejects.toThrow(/once/);
    await expect(w.ctx.db.transaction().execute((trx) => postEntries(trx, []))).rejects.toThrow(/batch holds/);
    const many = Array.from({ length: LEDGER_LIMITS.entries_per_batch_max + 1 }, () => ({ ...e, payment_id: newId("pay") }));
    await expect(w.ctx.db.transaction().execute((trx) => postPaymentsSucceeded(trx, many))).rejects.toThrow(/batch holds/);
    expect(await w.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", e.payment_id).execute()).toHaveLength(0);
  });

  it("rolls back with the caller's transaction: a failed state change leaves no entry", async () => {
    const payment_id = newId("pay");
    await expect(
      w.ctx.db.transaction().execute(async (trx) => {
        await postPaymentSucceeded(trx, { payment_id, merchant_id: shop, amount: 1_000n, fee: 10n, channel_id: "netsunion", network_cost: 0n, at: w.clock.now() });
        throw new Error("payment update failed");
      }),
    ).rejects.toThrow("payment update failed");
    expect(await w.ctx.db.selectFrom("journal_entries").select("entry_id").where("reference_id", "=", payment_id).execute()).toHaveLength(0);
  });

  it("returns the fee proportionally on partial refunds, the parts adding up to the whole fee", async () => {
    const payment_id = newId("pay");
    const at = w.clock.now();
    await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, { payment_id, merchant_id: shop, amount: 1_000n, fee: 10n, channel_id: "netsunion", network_cost: 3n, at }));
    const returned: bigint[] = [];
    for (const amount of [333n, 333n, 334n]) {
      const r = await w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id, merchant_id: shop, amount, at }));
      returned.push(r.fee_returned);
    }
    expect(returned).toEqual([3n, 4n, 3n]);
    expect(returned.reduce((a, b) => a + b, 0n)).toBe(10n);
    await expect(
      w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id, merchant_id: shop, amount: 1n, at })),
    ).rejects.toThrow(/exceed/);
  });

  it("keeps the fee on refunds when the merchant's (or else the platform's) policy says so", async () => {
    const keeper = await w.merchant({ entity_id: entity });
    await setRefundFeePolicy(w.ctx.db, keeper, "keep", w.clock.now());
    const payment_id = newId("pay");
    const at = w.clock.now();
    await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, { payment_id, merchant_id: keeper, amount: 2_000n, fee: 12n, channel_id: "unionpay_nocard", network_cost: 0n, at }));
    const refund = { refund_id: newId("ref"), payment_id, merchant_id: keeper, amount: 2_000n, at };
    const r = await w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, refund));
    expect(r.fee_returned).toBe(0n);
    expect((await merchantBalance(w.ctx.db, keeper)).pending).toBe(-12n);
    const again = await w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, refund));
    expect(again).toEqual({ ...r, replayed: true });
    // A caller expecting another fee return than the policy gives is told at once.
    const other_payment = newId("pay");
    await w.ctx.db.transaction().execute((trx) => postPaymentSucceeded(trx, { payment_id: other_payment, merchant_id: keeper, amount: 2_000n, fee: 12n, channel_id: "unionpay_nocard", network_cost: 0n, at }));
    await expect(
      w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id: other_payment, merchant_id: keeper, amount: 1_000n, fee_returned: 6n, at })),
    ).rejects.toThrow(/policy says 0/);
    await setRefundFeePolicy(w.ctx.db, keeper, null, w.clock.now());
    const proportional = await w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id: other_payment, merchant_id: keeper, amount: 1_000n, fee_returned: 6n, at }));
    expect(proportional.fee_returned).toBe(6n);
  });

  it("posts network settlements into the reserve funds account, once per channel, date and batch", async () => {
    const at = w.clock.now();
    const event = { channel_id: "netsunion", settlement_date: "2026-03-01", amount: 9_000n, at };
    const first = await w.ctx.db.transaction().execute((trx) => postNetworkSettled(trx, event));
    const again = await w.ctx.db.transaction().execute((trx) => postNetworkSettled(trx, event));
    expect(again.entry_id).toBe(first.entry_id);
    const out = await w.ctx.db.transaction().execute((trx) => postNetworkSettled(trx, { ...event, amount: -100n, batch_no: 2 }));
    expect(out.replayed).toBe(false);
    const reserve = await w.ctx.db.selectFrom("ledger_balances").selectAll().where("account_code", "=", "reserve_funds").executeTakeFirstOrThrow();
    expect(reserve.debits - reserve.credits).toBe(8_900n);
  });

  it("refuses unbalanced, one-line and negative entries before they reach the database", () => {
    const base = { event_key: "payment_succeeded:x", event_type: "payment_succeeded" as const, reference_id: "x", merchant_id: null, channel_id: null, effective_at: new Date(), business_date: "2026-03-02" };
    expect(() => buildEntry({ ...base, lines: [{ account: RESERVE_FUNDS, side: "debit", amount: 5n, line_kind: "x" }, { account: FEE_INCOME, side: "credit", amount: 4n, line_kind: "x" }] })).toThrow(/unbalanced/);
    expect(() => buildEntry({ ...base, lines: [{ account: RESERVE_FUNDS, side: "debit", amount: 5n, line_kind: "x" }, { account: FEE_INCOME, side: "credit", amount: 0n, line_kind: "x" }] })).toThrow(/two/);
    expect(() => buildEntry({ ...base, lines: [{ account: RESERVE_FUNDS, side: "debit", amount: -5n, line_kind: "x" }, { account: FEE_INCOME, side: "credit", amount: -5n, line_kind: "x" }] })).toThrow(/negative/);
  });

  it("the database refuses to update, delete or truncate the journal, an unbalanced entry, and lines added to a written entry", async () => {
    const any_entry = await w.ctx.db.selectFrom("journal_entries").select("entry_id").limit(1).executeTakeFirstOrThrow();
    await expect(sql`UPDATE journal_lines SET amount = amount + 1 WHERE entry_id = ${any_entry.entry_id}`.execute(w.ctx.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM journal_entries WHERE entry_id = ${any_entry.entry_id}`.execute(w.ctx.db)).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE journal_lines, journal_entries CASCADE`.execute(w.ctx.db)).rejects.toThrow(/append-only/);
    const entry_id = newId("jnl");
    await expect(
      w.ctx.db.transaction().execute(async (trx) => {
        await sql`INSERT INTO journal_entries (entry_id, event_key, event_type, reference_id, effective_at, business_date, posted_at, line_count, amount)
                  VALUES (${entry_id}, 'network_settled:forged', 'network_settled', 'forged', now(), '2026-03-02', now(), 2, 5)`.execute(trx);
        await sql`INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date) VALUES
                  (${entry_id}, 1, 'reserve_funds', 'debit', 5, 'x', '2026-03-02'), (${entry_id}, 2, 'fee_income', 'credit', 4, 'x', '2026-03-02')`.execute(trx);
      }),
    ).rejects.toThrow(/unbalanced/);
    // One statement writing an entry with unbalanced lines: refused by both checks (migration 1950).
    const forged = newId("jnl");
    await expect(
      sql`WITH e AS (INSERT INTO journal_entries (entry_id, event_key, event_type, reference_id, effective_at, business_date, posted_at, line_count, amount)
                     VALUES (${forged}, 'network_settled:forged2', 'network_settled', 'forged2', now(), '2026-03-02', now(), 2, 5) RETURNING entry_id)
          INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date)
          SELECT e.entry_id, v.n, v.code, v.side, v.amount, 'x', '2026-03-02' FROM e, (VALUES (1, 'reserve_funds', 'debit', 5), (2, 'fee_income', 'credit', 4)) AS v(n, code, side, amount)`.execute(w.ctx.db),
    ).rejects.toThrow(/unbalanced or incomplete: 2 of 2 lines, debits 5, credits 4/);
    // Lines added later to a written entry, even balanced ones, make it incomplete.
    const old = await w.ctx.db.selectFrom("journal_entries").select(["entry_id", "line_count"]).where("entry_id", "=", any_entry.entry_id).executeTakeFirstOrThrow();
    await expect(
      sql`INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date) VALUES
          (${old.entry_id}, ${old.line_count + 1}, 'reserve_funds', 'debit', 5, 'x', '2026-03-02'),
          (${old.entry_id}, ${old.line_count + 2}, 'fee_income', 'credit', 5, 'x', '2026-03-02')`.execute(w.ctx.db),
    ).rejects.toThrow(/incomplete/);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("the check finds a kept balance that differs from its journal", async () => {
    const code = `merchant_pending:${shop}`;
    await sql`UPDATE ledger_accounts SET credits = credits + 1 WHERE account_code = ${code}`.execute(w.ctx.db);
    const check = await checkLedger(w.ctx.db);
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => p.kind)).toContain("account_mismatch");
    expect(check.problems.map((p) => p.kind)).toContain("trial_unbalanced");
    await sql`UPDATE ledger_accounts SET credits = credits - 1 WHERE account_code = ${code}`.execute(w.ctx.db);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("without foreign keys on lines and unapplied amounts: unknown accounts and missing entries are refused, accounts never go, and the check and the applier find what slipped past (migration 2050)", async () => {
    // A payment first, so that the merchant's account named below exists when this test runs alone.
    await pay(1_000n, 10n);
    // One statement: an entry whose lines name an account that does not exist.
    const entry_id = newId("jnl");
    await expect(
      sql`WITH e AS (INSERT INTO journal_entries (entry_id, event_key, event_type, reference_id, effective_at, business_date, posted_at, line_count, amount)
                     VALUES (${entry_id}, 'network_settled:no-account', 'network_settled', 'no-account', now(), '2026-03-02', now(), 2, 5) RETURNING entry_id)
          INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date)
          SELECT e.entry_id, v.n, v.code, v.side, 5, 'x', '2026-03-02' FROM e, (VALUES (1, 'reserve_funds', 'debit'), (2, 'fee_income:nobody', 'credit')) AS v(n, code, side)`.execute(w.ctx.db),
    ).rejects.toThrow(/account fee_income:nobody, which does not exist/);
    // Balanced lines of an entry that does not exist.
    await expect(
      sql`INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date) VALUES
          ('jnl_nowhere', 1, 'reserve_funds', 'debit', 5, 'x', '2026-03-02'), ('jnl_nowhere', 2, 'fee_income', 'credit', 5, 'x', '2026-03-02')`.execute(w.ctx.db),
    ).rejects.toThrow(/entry jnl_nowhere, which does not exist/);
    // An account is never deleted, truncated or renamed; the applier's fold still updates it.
    const kept = `merchant_pending:${shop}`;
    await expect(sql`DELETE FROM ledger_accounts WHERE account_code = ${kept}`.execute(w.ctx.db)).rejects.toThrow(/never removed or renamed/);
    await expect(sql`TRUNCATE ledger_accounts CASCADE`.execute(w.ctx.db)).rejects.toThrow(/never removed or renamed/);
    await expect(sql`UPDATE ledger_accounts SET account_code = ${`${kept}_x`} WHERE account_code = ${kept}`.execute(w.ctx.db)).rejects.toThrow(/never removed or renamed/);
    await pay(1_000n, 10n);
    expect(await applyLedgerBalances(w.ctx.db)).toBeGreaterThanOrEqual(3);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);

    // An unapplied amount on an unknown account (only a bug could write one): the applier folds
    // nothing while it is there, and the check names it.
    await pay(1_000n, 10n);
    const orphan = await sql<{ seq: string }>`INSERT INTO ledger_unapplied (account_code, debits, credits, entry_id) VALUES ('fee_income:nobody', 0, 7, 'jnl_nowhere') RETURNING seq`.execute(w.ctx.db);
    await expect(applyLedgerBalances(w.ctx.db)).rejects.toThrow(InvariantError);
    expect((await w.ctx.db.selectFrom("ledger_unapplied").select("seq").execute()).length, "the failed fold deleted nothing").toBeGreaterThanOrEqual(4);
    const check = await checkLedger(w.ctx.db);
    expect(check.problems).toContainEqual(expect.objectContaining({ kind: "account_missing", subject: "fee_income:nobody" }));
    await sql`DELETE FROM ledger_unapplied WHERE seq = ${orphan.rows[0]!.seq}`.execute(w.ctx.db);
    expect(await applyLedgerBalances(w.ctx.db)).toBeGreaterThanOrEqual(3);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);

    // Lines written past the journal's check (its trigger disabled, inside a transaction rolled
    // back): the check names the missing entry and the unknown account.
    const rolled_back = new Error("rolled back");
    await expect(
      w.ctx.db.transaction().execute(async (trx) => {
        await sql`ALTER TABLE journal_lines DISABLE TRIGGER journal_lines_complete`.execute(trx);
        await sql`INSERT INTO journal_lines (entry_id, line_no, account_code, side, amount, line_kind, business_date) VALUES
                  ('jnl_nowhere', 1, 'reserve_funds', 'debit', 5, 'x', '2026-03-02'), ('jnl_nowhere', 2, 'fee_income:nobody', 'credit', 5, 'x', '2026-03-02')`.execute(trx);
        const kinds = (await checkLedger(trx)).problems.map((p) => `${p.kind} ${p.subject}`);
        expect(kinds).toContain("line_without_entry jnl_nowhere");
        expect(kinds).toContain("account_missing fee_income:nobody");
        throw rolled_back;
      }),
    ).rejects.toBe(rolled_back);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("concurrent postings on shared platform accounts neither deadlock nor lose an update", async () => {
    const shops = [shop, await w.merchant({ entity_id: entity }), await w.merchant({ entity_id: entity })];
    const before = await trialBalance(w.ctx.db);
    const posted = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const merchant_id = shops[i % shops.length]!;
        const payment_id = newId("pay");
        await w.ctx.db.transaction().execute((trx) =>
          postPaymentSucceeded(trx, { payment_id, merchant_id, amount: 1_000n + BigInt(i), fee: 6n, channel_id: i % 2 ? "netsunion" : "unionpay_nocard", network_cost: 2n, at: w.clock.now() }),
        );
        await w.ctx.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id, merchant_id, amount: 100n, at: w.clock.now() }));
        return 1_000n + BigInt(i);
      }),
    );
    const after = await trialBalance(w.ctx.db);
    expect(after.balanced).toBe(true);
    // Each payment adds amount + fee to both sides, each refund 100 + its fee returned (1 fen here).
    expect(after.debits - before.debits).toBe(posted.reduce((s, a) => s + a + 6n + 101n, 0n));
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("a payment's posting leaves the shared accounts' rows alone; the applier folds it in and every balance stays exact", async () => {
    await applyLedgerBalances(w.ctx.db);
    const hot = ["fee_income", "network_receivable:netsunion", `merchant_pending:${shop}`];
    const rows = () => w.ctx.db.selectFrom("ledger_accounts").select(["account_code", "debits", "credits", "updated_at"]).where("account_code", "in", hot).orderBy("account_code").execute();
    const exact = () => w.ctx.db.selectFrom("ledger_balances").select(["account_code", "debits", "credits"]).orderBy("account_code").execute();
    const kept_before = await rows();
    const balance_before = await merchantBalance(w.ctx.db, shop);
    await pay(10_000n, 60n, 20n);
    expect(await rows(), "kept totals of shared accounts are not written by the payment").toEqual(kept_before);
    expect((await merchantBalance(w.ctx.db, shop)).pending).toBe(balance_before.pending + 9_940n);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
    const exact_before_apply = await exact();
    const trial_before_apply = await trialBalance(w.ctx.db);
    expect(await applyLedgerBalances(w.ctx.db)).toBeGreaterThanOrEqual(4);
    expect(await w.ctx.db.selectFrom("ledger_unapplied").select("seq").execute()).toEqual([]);
    expect(await exact()).toEqual(exact_before_apply);
    expect(await trialBalance(w.ctx.db)).toEqual(trial_before_apply);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
    expect(await applyLedgerBalances(w.ctx.db)).toBe(0);
  });

  it("the applier folds a backlog larger than its batch in passes, each amount exactly once", async () => {
    await applyLedgerBalances(w.ctx.db);
    for (const amount of [1_000n, 2_000n, 3_000n]) await pay(amount, 10n);
    const waiting = (await w.ctx.db.selectFrom("ledger_unapplied").select("seq").execute()).length;
    expect(waiting).toBeGreaterThanOrEqual(9);
    const exact = () => w.ctx.db.selectFrom("ledger_balances").select(["account_code", "debits", "credits"]).orderBy("account_code").execute();
    const before = await exact();
    let folded = 0;
    for (let pass = 0; pass < 20; pass++) {
      const lines = (await applyLedgerBalances(w.ctx.db, 2))!;
      expect(lines).toBeLessThanOrEqual(2);
      folded += lines;
      expect(await exact(), `balances after pass ${pass}`).toEqual(before);
      if (lines < 2) break;
    }
    expect(folded).toBe(waiting);
    expect(await w.ctx.db.selectFrom("ledger_unapplied").select("seq").execute()).toEqual([]);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("an available balance is taken race-safely and never below zero", async () => {
    const other = await w.merchant({ entity_id: entity });
    const credit = (amount: bigint, key: string) =>
      w.ctx.db.transaction().execute((trx) => postEntry(trx, { event_key: `settlement_matured:${key}`, event_type: "settlement_matured", reference_id: key, merchant_id: other, channel_id: null, effective_at: w.clock.now(), business_date: "2026-03-02", lines: [{ account: merchantPending(other), side: "debit", amount, line_kind: "settlement" }, { account: merchantAvailable(other), side: "credit", amount, line_kind: "settlement" }] }));
    await credit(1_000n, `stl_${other}`);
    // Three concurrent reservations of 400 from 1,000: the locked read lets exactly two through.
    const reserve = (i: number) =>
      w.ctx.db.transaction().execute(async (trx) => {
        const available = await lockMerchantAvailable(trx, other);
        if (available < 400n) return false;
        await postEntry(trx, { event_key: `payout_instructed:po_${other}_${i}`, event_type: "payout_instructed", reference_id: `po_${i}`, merchant_id: other, channel_id: null, effective_at: w.clock.now(), business_date: "2026-03-02", lines: [{ account: merchantAvailable(other), side: "debit", amount: 400n, line_kind: "payout" }, { account: SETTLEMENT_IN_TRANSIT, side: "credit", amount: 400n, line_kind: "payout" }] });
        return true;
      });
    const taken = await Promise.all([0, 1, 2].map(reserve));
    expect(taken.filter(Boolean)).toHaveLength(2);
    expect((await merchantBalance(w.ctx.db, other)).available).toBe(200n);
    // Without the check, the database itself refuses to go below zero.
    await expect(
      w.ctx.db.transaction().execute((trx) => postEntry(trx, { event_key: `payout_instructed:po_${other}_x`, event_type: "payout_instructed", reference_id: "po_x", merchant_id: other, channel_id: null, effective_at: w.clock.now(), business_date: "2026-03-02", lines: [{ account: merchantAvailable(other), side: "debit", amount: 201n, line_kind: "payout" }, { account: SETTLEMENT_IN_TRANSIT, side: "credit", amount: 201n, line_kind: "payout" }] })),
    ).rejects.toThrow(/check constraint/);
    expect((await checkLedger(w.ctx.db)).ok).toBe(true);
  });

  it("refuses a posting for an unknown merchant or with a fee above the amount", async () => {
    await expect(pay(100n, 101n)).rejects.toThrow(InvariantError);
    await expect(pay(100n, 1n, 0n, "mch_NOPE")).rejects.toThrow(InvariantError);
    await expect(w.ctx.db.transaction().execute((trx) => postEntry(trx, { event_key: "network_settled:z", event_type: "network_settled", reference_id: "z", merchant_id: null, channel_id: null, effective_at: new Date(), business_date: "2026-13-01", lines: [{ account: merchantPending(shop), side: "debit", amount: 1n, line_kind: "x" }, { account: FEE_INCOME, side: "credit", amount: 1n, line_kind: "x" }] }))).rejects.toThrow(/business date/);
  });
});
