import { sql, type Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { LEDGER_LIMITS } from "./limits.ts";
import { trialBalance, type TrialBalance } from "./queries.ts";

/**
 * Recomputes the ledger from the journal and compares: kept account totals against the sums of
 * their lines, every entry balanced and complete, and the trial balance. Read-only.
 */
export interface LedgerProblem {
  kind: "account_mismatch" | "account_missing" | "line_without_entry" | "entry_unbalanced" | "entry_incomplete" | "trial_unbalanced" | "pending_items_mismatch";
  subject: string;
  detail: string;
}

export interface LedgerCheck {
  ok: boolean;
  trial_balance: TrialBalance;
  accounts_checked: number;
  entries_checked: number;
  problems: LedgerProblem[];
}

/**
 * Kept totals (plus unapplied amounts) against the journal, per account; and, since no foreign key
 * ties lines and unapplied amounts to their accounts (migration 2050), lines or unapplied amounts
 * on an account that does not exist.
 */
async function accountMismatches(db: Kysely<Database>): Promise<{ checked: number; problems: LedgerProblem[] }> {
  const rows = await sql<{ account_code: string; missing: boolean; debits: bigint; credits: bigint; line_debits: bigint; line_credits: bigint }>`
    SELECT coalesce(a.account_code, l.account_code) AS account_code, a.account_code IS NULL AS missing,
           coalesce(a.debits, 0)::int8 AS debits, coalesce(a.credits, 0)::int8 AS credits,
           coalesce(l.debits, 0)::int8 AS line_debits, coalesce(l.credits, 0)::int8 AS line_credits
      FROM ledger_balances a
      FULL JOIN (
        SELECT account_code,
               sum(amount) FILTER (WHERE side = 'debit') AS debits,
               sum(amount) FILTER (WHERE side = 'credit') AS credits
          FROM journal_lines GROUP BY account_code
      ) l ON l.account_code = a.account_code`.execute(db);
  const problems: LedgerProblem[] = [];
  for (const r of rows.rows) {
    if (r.missing) {
      problems.push({ kind: "account_missing", subject: r.account_code, detail: `journal lines ${r.line_debits}/${r.line_credits} (debits/credits) on an account that does not exist` });
    } else if (r.debits !== r.line_debits || r.credits !== r.line_credits) {
      problems.push({ kind: "account_mismatch", subject: r.account_code, detail: `kept ${r.debits}/${r.credits}, journal ${r.line_debits}/${r.line_credits} (debits/credits)` });
    }
  }
  const unapplied = await sql<{ account_code: string; debits: bigint; credits: bigint }>`
    SELECT u.account_code, sum(u.debits)::int8 AS debits, sum(u.credits)::int8 AS credits
      FROM ledger_unapplied u
     WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.account_code = u.account_code)
     GROUP BY u.account_code`.execute(db);
  for (const r of unapplied.rows) {
    problems.push({ kind: "account_missing", subject: r.account_code, detail: `unapplied amounts ${r.debits}/${r.credits} (debits/credits) on an account that does not exist` });
  }
  return { checked: rows.rows.length, problems };
}

async function entryProblems(db: Kysely<Database>): Promise<{ checked: number; problems: LedgerProblem[] }> {
  const limit = LEDGER_LIMITS.check_problems_max;
  const bad = await sql<{ entry_id: string; line_count: number; amount: bigint; n: bigint; debits: bigint; credits: bigint }>`
    SELECT e.entry_id, e.line_count, e.amount, count(l.line_no) AS n,
           coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0)::int8 AS debits,
           coalesce(sum(l.amount) FILTER (WHERE l.side = 'credit'), 0)::int8 AS credits
      FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.entry_id
     GROUP BY e.entry_id, e.line_count, e.amount
    HAVING count(l.line_no) <> e.line_count
        OR coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0) <> coalesce(sum(l.amount) FILTER (WHERE l.side = 'credit'), 0)
        OR coalesce(sum(l.amount) FILTER (WHERE l.side = 'debit'), 0) <> e.amount
     LIMIT ${limit}`.execute(db);
  const problems: LedgerProblem[] = bad.rows.map((r) =>
    r.debits !== r.credits
      ? { kind: "entry_unbalanced", subject: r.entry_id, detail: `debits ${r.debits}, credits ${r.credits}` }
      : { kind: "entry_incomplete", subject: r.entry_id, detail: `${r.n} of ${r.line_count} lines, total ${r.debits} of ${r.amount}` },
  );
  // Lines whose entry does not exist: no foreign key refuses them since migration 2050 (the
  // journal's statement-level check does).
  const orphans = await sql<{ entry_id: string; n: bigint }>`
    SELECT l.entry_id, count(*) AS n FROM journal_lines l
     WHERE NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.entry_id = l.entry_id)
     GROUP BY l.entry_id LIMIT ${limit}`.execute(db);
  for (const r of orphans.rows) problems.push({ kind: "line_without_entry", subject: r.entry_id, detail: `${r.n} journal line(s) name an entry that does not exist` });
  const count = await db.selectFrom("journal_entries").select((eb) => eb.fn.countAll<bigint>().as("n")).executeTakeFirstOrThrow();
  return { checked: Number(count.n), problems };
}

/**
 * A merchant's pending balance is the sum of its unsettled items plus any negative net a
 * settlement carried forward (the settlement module knows the carry; it passes it in).
 */
export async function pendingItemsProblems(db: Kysely<Database>, carried: ReadonlyMap<string, bigint>): Promise<LedgerProblem[]> {
  const rows = await sql<{ merchant_id: string; pending: bigint; items: bigint }>`
    SELECT a.owner_id AS merchant_id, (a.credits - a.debits)::int8 AS pending,
           coalesce(i.net, 0)::int8 AS items
      FROM ledger_balances a
      LEFT JOIN (
        SELECT merchant_id,
               sum(CASE WHEN item_kind = 'payment' THEN amount - fee ELSE fee - amount END) AS net
          FROM pending_items WHERE settlement_id IS NULL GROUP BY merchant_id
      ) i ON i.merchant_id = a.owner_id
     WHERE a.kind = 'merchant_pending'`.execute(db);
  const problems: LedgerProblem[] = [];
  for (const r of rows.rows) {
    const expected = r.items + (carried.get(r.merchant_id) ?? 0n);
    if (r.pending !== expected) {
      problems.push({ kind: "pending_items_mismatch", subject: r.merchant_id, detail: `pending ${r.pending}, unsettled items ${r.items} + carried ${carried.get(r.merchant_id) ?? 0n}` });
    }
  }
  return problems;
}

export async function checkLedger(db: Kysely<Database>): Promise<LedgerCheck> {
  const trial_balance = await trialBalance(db);
  const accounts = await accountMismatches(db);
  const entries = await entryProblems(db);
  const problems = [...accounts.problems, ...entries.problems];
  if (!trial_balance.balanced) problems.push({ kind: "trial_unbalanced", subject: "ledger", detail: `debits ${trial_balance.debits}, credits ${trial_balance.credits}` });
  return {
    ok: problems.length === 0,
    trial_balance,
    accounts_checked: accounts.checked,
    entries_checked: entries.checked,
    problems: problems.slice(0, LEDGER_LIMITS.check_problems_max),
  };
}
