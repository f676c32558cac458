import { sql, type Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database, PayoutRow, SettlementPayoutRow, SettlementRow } from "../db/index.ts";
import { toPage } from "../db/paging.ts";
import { PaycoreError, notFound } from "../kernel/errors.ts";
import { LEDGER_LIMITS, accountCode, merchantAvailable, merchantPending } from "../ledger/index.ts";

/** Reading settlement: records, payout instructions, holds, and the merchant's daily statement. */

export interface SettlementAccountView {
  account_name: string;
  account_number_last4: string;
  bank_code: string;
}

export interface SettlementView {
  settlement_id: string;
  merchant_id: string;
  settlement_date: string;
  payee_merchant_id: string;
  covers_through: string;
  item_count: number;
  gross: bigint;
  fees: bigint;
  refunds: bigint;
  carried_in: bigint;
  net: bigint;
  currency: "CNY";
  status: SettlementRow["status"];
  payout_instruction_id: string | null;
  settlement_account: SettlementAccountView | null;
  created_at: string;
}

async function payeeAccounts(db: Kysely<Database>, rows: readonly SettlementRow[]): Promise<Map<string, SettlementAccountView>> {
  const payees = [...new Set(rows.map((r) => r.payee_merchant_id))];
  if (payees.length === 0) return new Map();
  const merchants = await db
    .selectFrom("merchants")
    .select(["merchant_id", "settlement_account_name", "settlement_account_last4", "settlement_bank_code"])
    .where("merchant_id", "in", payees)
    .execute();
  const views = new Map<string, SettlementAccountView>();
  for (const m of merchants) {
    if (m.settlement_account_name && m.settlement_account_last4 && m.settlement_bank_code) {
      views.set(m.merchant_id, { account_name: m.settlement_account_name, account_number_last4: m.settlement_account_last4, bank_code: m.settlement_bank_code });
    }
  }
  return views;
}

export async function settlementViews(db: Kysely<Database>, rows: readonly SettlementRow[]): Promise<SettlementView[]> {
  const accounts = await payeeAccounts(db, rows);
  return rows.map((r) => ({
    settlement_id: r.settlement_id,
    merchant_id: r.merchant_id,
    settlement_date: r.settlement_date,
    payee_merchant_id: r.payee_merchant_id,
    covers_through: r.covers_through,
    item_count: r.item_count,
    gross: r.gross,
    fees: r.fees,
    refunds: r.refunds,
    carried_in: r.carried_in,
    net: r.net,
    currency: "CNY",
    status: r.status,
    payout_instruction_id: r.payout_instruction_id,
    settlement_account: accounts.get(r.payee_merchant_id) ?? null,
    created_at: r.created_at.toISOString(),
  }));
}

export interface SettlementQuery {
  merchant_id?: string | undefined;
  settlement_date?: string | undefined;
  status?: SettlementRow["status"] | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listSettlements(db: Kysely<Database>, q: SettlementQuery) {
  let query = db.selectFrom("settlements").selectAll().orderBy("settlement_id", "desc").limit(q.limit + 1);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.settlement_date) query = query.where("settlement_date", "=", q.settlement_date);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.cursor) query = query.where("settlement_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.settlement_id);
  return { data: await settlementViews(db, page.data), next_cursor: page.next_cursor };
}

export interface InstructionPayout {
  payout_id: string;
  status: PayoutRow["status"];
  rail: PayoutRow["rail"];
  route_reason: string;
}

export function payoutView(row: SettlementPayoutRow, payout: InstructionPayout | null = null) {
  return {
    instruction_id: row.instruction_id,
    payee_merchant_id: row.payee_merchant_id,
    settlement_date: row.settlement_date,
    batch_no: row.batch_no,
    amount: row.amount,
    currency: "CNY" as const,
    payee: { account_name: row.account_name, account_number_last4: row.account_last4, bank_code: row.bank_code },
    status: row.status,
    failure_reason: row.failure_reason,
    attempt_count: row.attempt_count,
    payout,
    created_at: row.created_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}

/** Instructions newest first, each with the payout that pays it (its rail and why). */
export async function listPayouts(db: Kysely<Database>, q: { settlement_date?: string | undefined; payee_merchant_id?: string | undefined; cursor?: string | undefined; limit: number }) {
  let query = db.selectFrom("settlement_payouts").selectAll().orderBy("instruction_id", "desc").limit(q.limit + 1);
  if (q.settlement_date) query = query.where("settlement_date", "=", q.settlement_date);
  if (q.payee_merchant_id) query = query.where("payee_merchant_id", "=", q.payee_merchant_id);
  if (q.cursor) query = query.where("instruction_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.instruction_id);
  const ids = page.data.map((r) => r.instruction_id);
  const payouts = ids.length === 0 ? [] : await db.selectFrom("payouts").select(["payout_id", "status", "rail", "route_reason", "settlement_instruction_id"]).where("settlement_instruction_id", "in", ids).execute();
  const by = new Map(payouts.map((p) => [p.settlement_instruction_id!, { payout_id: p.payout_id, status: p.status, rail: p.rail, route_reason: p.route_reason }]));
  return { data: page.data.map((r) => payoutView(r, by.get(r.instruction_id) ?? null)), next_cursor: page.next_cursor };
}

/** Holds a merchant ID's payouts (risk): it is still settled, its money stays available. */
export async function holdSettlement(ctx: Pick<Ctx, "db" | "clock">, merchant_id: string, reason: string): Promise<void> {
  const m = await ctx.db.selectFrom("merchants").select("merchant_id").where("merchant_id", "=", merchant_id).executeTakeFirst();
  if (!m) throw notFound("merchant");
  await ctx.db
    .insertInto("settlement_holds")
    .values({ merchant_id, reason, created_at: ctx.clock.now() })
    .onConflict((oc) => oc.column("merchant_id").doUpdateSet({ reason }))
    .execute();
}

export async function releaseSettlementHold(db: Kysely<Database>, merchant_id: string): Promise<boolean> {
  const result = await db.deleteFrom("settlement_holds").where("merchant_id", "=", merchant_id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function getSettlementHold(db: Kysely<Database>, merchant_id: string) {
  return db.selectFrom("settlement_holds").selectAll().where("merchant_id", "=", merchant_id).executeTakeFirst();
}

interface StatementLine {
  entry_id: string;
  event_type: string;
  reference_id: string;
  effective_at: Date;
  account_code: string;
  side: "debit" | "credit";
  amount: bigint;
  line_kind: string;
  payment_id: string | null;
}

async function openingBalance(db: Kysely<Database>, account_code: string, date: string): Promise<bigint> {
  const row = await sql<{ balance: bigint }>`
    SELECT coalesce(sum(CASE WHEN side = 'credit' THEN amount ELSE -amount END), 0)::int8 AS balance
      FROM journal_lines WHERE account_code = ${account_code} AND business_date < ${date}`.execute(db);
  return row.rows[0]!.balance;
}

const CSV_HEADER = ["line_type", "occurred_at", "business_date", "account", "amount", "reference_id", "payment_id", "entry_id", "note"];

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function csvRow(fields: readonly string[]): string {
  return fields.map(csvField).join(",");
}

/** One balance line of a statement: signed fen as it moves the merchant's balance (+ owed to the merchant). */
export interface StatementBalanceLine {
  line_type: string;
  occurred_at: Date;
  account: "pending" | "available";
  amount: bigint;
  reference_id: string;
  payment_id: string | null;
  entry_id: string;
  event_type: string;
}

/** A merchant ID's statement for one business day, as data: what the CSV and the admin API both show. */
export interface Statement {
  merchant_id: string;
  date: string;
  /** For each account: opening + the day's lines = closing, to the fen. */
  accounts: { account: "pending" | "available"; opening: bigint; closing: bigint }[];
  lines: StatementBalanceLine[];
  /** The day's settlement records (they move no balance here: their lines are among `lines`). */
  settlements: { settlement_id: string; created_at: Date; status: string; gross: bigint; fees: bigint; refunds: bigint; carried_in: bigint; net: bigint; item_count: number; payee_merchant_id: string }[];
}

/**
 * A merchant ID's statement for one business day. Amounts are integer fen, signed as they move
 * the merchant's balance (+ owed to the merchant, − taken from it). For each account (pending,
 * available): opening + the day's lines = closing, to the fen. At most
 * LEDGER_LIMITS.statement_lines_max lines (`limit_exceeded` beyond).
 */
export async function buildStatement(db: Kysely<Database>, merchant_id: string, date: string): Promise<Statement> {
  const accounts = [
    { name: "pending" as const, code: accountCode(merchantPending(merchant_id)) },
    { name: "available" as const, code: accountCode(merchantAvailable(merchant_id)) },
  ];
  const rows = (await sql<StatementLine>`
    SELECT l.entry_id, e.event_type, e.reference_id, e.effective_at, l.account_code, l.side, l.amount, l.line_kind, pi.payment_id
      FROM journal_lines l
      JOIN journal_entries e ON e.entry_id = l.entry_id
      LEFT JOIN pending_items pi ON pi.entry_id = l.entry_id
     WHERE l.account_code IN (${accounts[0]!.code}, ${accounts[1]!.code}) AND l.business_date = ${date}
     ORDER BY e.effective_at, l.entry_id, l.line_no
     LIMIT ${LEDGER_LIMITS.statement_lines_max + 1}`.execute(db)).rows;
  if (rows.length > LEDGER_LIMITS.statement_lines_max) throw new PaycoreError("limit_exceeded", "statement too long for one file");
  const opening = new Map<string, bigint>();
  const closing = new Map<string, bigint>();
  for (const a of accounts) {
    const o = await openingBalance(db, a.code, date);
    opening.set(a.code, o);
    closing.set(a.code, o);
  }
  const lines: StatementBalanceLine[] = rows.map((l) => {
    const signed = l.side === "credit" ? l.amount : -l.amount;
    closing.set(l.account_code, closing.get(l.account_code)! + signed);
    const account = accounts.find((a) => a.code === l.account_code)!.name;
    return { line_type: l.line_kind, occurred_at: new Date(l.effective_at), account, amount: signed, reference_id: l.reference_id, payment_id: l.payment_id, entry_id: l.entry_id, event_type: l.event_type };
  });
  const records = await db.selectFrom("settlements").selectAll().where("merchant_id", "=", merchant_id).where("settlement_date", "=", date).execute();
  return {
    merchant_id,
    date,
    accounts: accounts.map((a) => ({ account: a.name, opening: opening.get(a.code)!, closing: closing.get(a.code)! })),
    lines,
    settlements: records.map((r) => ({ settlement_id: r.settlement_id, created_at: r.created_at, status: r.status, gross: r.gross, fees: r.fees, refunds: r.refunds, carried_in: r.carried_in, net: r.net, item_count: r.item_count, payee_merchant_id: r.payee_merchant_id })),
  };
}

/**
 * A merchant ID's statement for one business day, as CSV (see buildStatement): opening balances,
 * the day's lines, closing balances, then the date's settlement records as `settlement` rows
 * (not balance lines).
 */
export async function statementCsv(db: Kysely<Database>, merchant_id: string, date: string): Promise<string> {
  const st = await buildStatement(db, merchant_id, date);
  const out = [csvRow(CSV_HEADER)];
  for (const a of st.accounts) out.push(csvRow(["opening_balance", "", date, a.account, a.opening.toString(), "", "", "", ""]));
  for (const l of st.lines) out.push(csvRow([l.line_type, l.occurred_at.toISOString(), date, l.account, l.amount.toString(), l.reference_id, l.payment_id ?? "", l.entry_id, l.event_type]));
  for (const a of st.accounts) out.push(csvRow(["closing_balance", "", date, a.account, a.closing.toString(), "", "", "", ""]));
  for (const r of st.settlements) {
    const note = `status=${r.status} gross=${r.gross} fees=${r.fees} refunds=${r.refunds} carried_in=${r.carried_in} items=${r.item_count} payee=${r.payee_merchant_id}`;
    out.push(csvRow(["settlement", r.created_at.toISOString(), date, "", r.net.toString(), r.settlement_id, "", "", note]));
  }
  return out.join("\n") + "\n";
}
