import { sql, type Kysely } from "kysely";
import type { Database, JournalEventType, LedgerAccountKind, LedgerAccountRow } from "../db/index.ts";
import type { Fen } from "../kernel/money.ts";
import { toPage } from "../db/paging.ts";
import { LEDGER_LIMITS } from "./limits.ts";
import { ACCOUNT_KINDS, accountCode, balanceOf, merchantAvailable, merchantPending } from "./accounts.ts";

/** Reading the ledger: balances, the trial balance, accounts and journal search. */

export interface MerchantBalance {
  pending: Fen;
  available: Fen;
}

export async function merchantBalance(db: Kysely<Database>, merchant_id: string): Promise<MerchantBalance> {
  const codes = [accountCode(merchantPending(merchant_id)), accountCode(merchantAvailable(merchant_id))];
  const rows = await db.selectFrom("ledger_balances").selectAll().where("account_code", "in", codes).execute();
  const of = (code: string) => {
    const row = rows.find((r) => r.account_code === code);
    return row ? balanceOf(row) : 0n;
  };
  return { pending: of(codes[0]!), available: of(codes[1]!) };
}

export interface TrialBalance {
  debits: Fen;
  credits: Fen;
  balanced: boolean;
  accounts: number;
}

/**
 * Sum of every account's debits and credits, exact: kept totals plus amounts not yet applied to
 * them (docs/ledger.md "Balances: no hot rows"). Equal when the books balance.
 */
export async function trialBalance(db: Kysely<Database>): Promise<TrialBalance> {
  const result = await sql<{ debits: bigint; credits: bigint; accounts: bigint }>`
    SELECT (coalesce(a.debits, 0) + coalesce(u.debits, 0))::int8 AS debits,
           (coalesce(a.credits, 0) + coalesce(u.credits, 0))::int8 AS credits,
           a.accounts
      FROM (SELECT sum(debits) AS debits, sum(credits) AS credits, count(*) AS accounts FROM ledger_accounts) a,
           (SELECT sum(debits) AS debits, sum(credits) AS credits FROM ledger_unapplied) u`.execute(db);
  const { debits, credits, accounts } = result.rows[0]!;
  return { debits, credits, balanced: debits === credits, accounts: Number(accounts) };
}

export interface AccountView {
  account_code: string;
  kind: LedgerAccountKind;
  name_zh: string;
  account_type: LedgerAccountRow["account_type"];
  owner_id: string | null;
  debits: Fen;
  credits: Fen;
  balance: Fen;
}

export function accountView(row: LedgerAccountRow): AccountView {
  return {
    account_code: row.account_code,
    kind: row.kind,
    name_zh: ACCOUNT_KINDS[row.kind].name_zh,
    account_type: row.account_type,
    owner_id: row.owner_id,
    debits: row.debits,
    credits: row.credits,
    balance: balanceOf(row),
  };
}

export interface AccountQuery {
  kind?: LedgerAccountKind | undefined;
  owner_id?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listAccounts(db: Kysely<Database>, q: AccountQuery) {
  let query = db.selectFrom("ledger_balances").selectAll().orderBy("account_code").limit(q.limit + 1);
  if (q.kind) query = query.where("kind", "=", q.kind);
  if (q.owner_id) query = query.where("owner_id", "=", q.owner_id);
  if (q.cursor) query = query.where("account_code", ">", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.account_code);
  return { data: page.data.map(accountView), next_cursor: page.next_cursor };
}

export interface JournalQuery {
  merchant_id?: string | undefined;
  channel_id?: string | undefined;
  event_type?: JournalEventType | undefined;
  reference_id?: string | undefined;
  account_code?: string | undefined;
  business_date_from?: string | undefined;
  business_date_to?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** Journal entries with their lines, newest first. */
export async function searchJournal(db: Kysely<Database>, q: JournalQuery) {
  let query = db.selectFrom("journal_entries").selectAll().orderBy("entry_id", "desc").limit(q.limit + 1);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.channel_id) query = query.where("channel_id", "=", q.channel_id);
  if (q.event_type) query = query.where("event_type", "=", q.event_type);
  if (q.reference_id) query = query.where("reference_id", "=", q.reference_id);
  if (q.business_date_from) query = query.where("business_date", ">=", q.business_date_from);
  if (q.business_date_to) query = query.where("business_date", "<=", q.business_date_to);
  if (q.cursor) query = query.where("entry_id", "<", q.cursor);
  if (q.account_code) {
    const code = q.account_code;
    query = query.where("entry_id", "in", (eb) => eb.selectFrom("journal_lines").select("entry_id").where("account_code", "=", code));
  }
  const page = toPage(await query.execute(), q.limit, (e) => e.entry_id);
  const ids = page.data.map((e) => e.entry_id);
  const lines = ids.length ? await db.selectFrom("journal_lines").selectAll().where("entry_id", "in", ids).orderBy("entry_id").orderBy("line_no").execute() : [];
  const data = page.data.map((e) => ({ ...e, lines: lines.filter((l) => l.entry_id === e.entry_id) }));
  return { data, next_cursor: page.next_cursor };
}

export interface MarginRow {
  merchant_id: string;
  channel_id: string;
  /** Fees charged less fees returned. */
  fees: Fen;
  network_cost: Fen;
  margin: Fen;
}

/**
 * Margin per merchant ID and network over business days: fee income (net of fees returned on
 * refunds) less network cost, from the journal lines of those two accounts.
 */
export async function marginReport(db: Kysely<Database>, from: string, to: string): Promise<MarginRow[]> {
  const rows = await sql<{ merchant_id: string; channel_id: string; fees: bigint; network_cost: bigint }>`
    SELECT e.merchant_id, e.channel_id,
           coalesce(sum(CASE WHEN a.kind = 'fee_income' THEN (CASE WHEN l.side = 'credit' THEN l.amount ELSE -l.amount END) END), 0)::int8 AS fees,
           coalesce(sum(CASE WHEN a.kind = 'network_cost' THEN (CASE WHEN l.side = 'debit' THEN l.amount ELSE -l.amount END) END), 0)::int8 AS network_cost
      FROM journal_lines l
      JOIN ledger_accounts a ON a.account_code = l.account_code
      JOIN journal_entries e ON e.entry_id = l.entry_id
     WHERE a.kind IN ('fee_income', 'network_cost') AND l.business_date BETWEEN ${from} AND ${to}
       AND e.merchant_id IS NOT NULL AND e.channel_id IS NOT NULL
     GROUP BY e.merchant_id, e.channel_id
     ORDER BY e.merchant_id, e.channel_id
     LIMIT ${LEDGER_LIMITS.margin_rows_max}`.execute(db);
  return rows.rows.map((r) => ({ ...r, margin: r.fees - r.network_cost }));
}
