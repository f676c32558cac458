import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { applyLedgerBalances, checkLedger } from "../../src/ledger/index.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "./helpers.ts";

type Json = Record<string, unknown>;

/**
 * A success's outcome is one statement built once per shape (src/payments/effects.ts): the first
 * entry on an account creates it, later ones leave the accounts' insert out once a committed
 * entry has shown the accounts exist (src/ledger/journal.ts). Either way each payment has its
 * entry with the same lines, its unapplied amounts, its pending item and its event, and the
 * ledger check proves the balances.
 */
describe("a success's outcome statement", () => {
  const clock = new ManualClock("2026-05-06T03:00:00Z");
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ label: "outcome", clock, sandbox: true });
  });
  afterAll(async () => app.close());

  async function payer(): Promise<{ client: PaycoreClient; merchant_id: string; agreement_id: string }> {
    const m = await createTestMerchant(app);
    const client = app.merchantClient(m.creds);
    const agreement_id = await signCard(app, client, pickCard(await catalogue(app), { unified: true }), `outcome-sign-${m.creds.mch_id}`);
    return { client, merchant_id: m.creds.mch_id, agreement_id };
  }

  async function recorded(payment_id: string) {
    const db = app.ctx.db;
    const entry = await db.selectFrom("journal_entries").selectAll().where("reference_id", "=", payment_id).executeTakeFirstOrThrow();
    const lines = await db.selectFrom("journal_lines").select(["line_no", "account_code", "side", "amount", "line_kind"]).where("entry_id", "=", entry.entry_id).orderBy("line_no").execute();
    const unapplied = await db.selectFrom("ledger_unapplied").select(["account_code", "debits", "credits"]).where("entry_id", "=", entry.entry_id).orderBy("account_code").execute();
    const item = await db.selectFrom("pending_items").select(["merchant_id", "amount", "fee", "business_date"]).where("entry_id", "=", entry.entry_id).executeTakeFirstOrThrow();
    const events = await db.selectFrom("notify_events").select(["type"]).where("dedupe_key", "=", `payment.succeeded:${payment_id}`).execute();
    return { entry, lines, unapplied, item, events };
  }

  it("writes the same rows whether the entry's accounts are new or known, and the ledger check proves the balances", async () => {
    const a = await payer();
    const pays: Json[] = [];
    // The first payment of a new merchant ID creates its pending account; the next ones find it known.
    for (const [i, amount] of [10_000, 20_000, 30_000].entries()) {
      const res = await a.client.post<Json>("/v1/payments", { out_trade_no: `outcome-${i}`, agreement_id: a.agreement_id, amount, currency: "CNY", description: "outcome" });
      expect(res.body.status).toBe("succeeded");
      pays.push(res.body);
    }
    for (const p of pays) {
      const r = await recorded(p.payment_id as string);
      const amount = BigInt(p.amount as number);
      const fee = BigInt(p.fee as number);
      expect(r.entry.line_count).toBe(r.lines.length);
      expect(r.entry.amount).toBe(r.lines.filter((l) => l.side === "debit").reduce((s, l) => s + l.amount, 0n));
      const pending = r.lines.filter((l) => l.account_code === `merchant_pending:${a.merchant_id}`);
      expect(pending.map((l) => [l.side, l.amount, l.line_kind])).toEqual([
        ["credit", amount, "payment"],
        ["debit", fee, "fee"],
      ]);
      // One unapplied row per account the entry moves, with what it moved it by.
      const moved = new Map<string, { debits: bigint; credits: bigint }>();
      for (const l of r.lines) {
        const t = moved.get(l.account_code) ?? { debits: 0n, credits: 0n };
        if (l.side === "debit") t.debits += l.amount;
        else t.credits += l.amount;
        moved.set(l.account_code, t);
      }
      expect(r.unapplied).toEqual([...moved.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([account_code, t]) => ({ account_code, ...t })));
      expect(r.item).toEqual({ merchant_id: a.merchant_id, amount, fee, business_date: r.entry.business_date });
      expect(r.events).toEqual([{ type: "payment.succeeded" }]);
    }
    const account = await app.ctx.db.selectFrom("ledger_accounts").select(["kind", "account_type", "owner_id"]).where("account_code", "=", `merchant_pending:${a.merchant_id}`).executeTakeFirstOrThrow();
    expect(account).toEqual({ kind: "merchant_pending", account_type: "liability", owner_id: a.merchant_id });
    // A second merchant ID while the first one's accounts are known: its own account is created.
    const b = await payer();
    const res = await b.client.post<Json>("/v1/payments", { out_trade_no: "outcome-b", agreement_id: b.agreement_id, amount: 5_000, currency: "CNY", description: "outcome" });
    expect(res.body.status).toBe("succeeded");
    expect((await recorded(res.body.payment_id as string)).lines.filter((l) => l.account_code === `merchant_pending:${b.merchant_id}`)).toHaveLength(2);
    await applyLedgerBalances(app.ctx.db);
    const check = await checkLedger(app.ctx.db);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  });
});
