import { sql, type Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { LEDGER_LIMITS, checkLedger, pendingItemsProblems, type LedgerCheck, type LedgerProblem } from "../ledger/index.ts";

/**
 * The whole-books check: the ledger against its journal, and settlement against the ledger —
 * each merchant's available balance is what its unpaid settlement records hold (with its deposits
 * and business payouts), settlement money in transit is what open instructions from before the
 * payouts path carry (an instruction paid by a payout has its money in `payouts_in_transit`, like
 * any payout), an instruction is the sum of its records, and a pending balance
 * is its unsettled items plus any negative net carried forward.
 */
export interface SettlementProblem {
  kind: "available_mismatch" | "in_transit_mismatch" | "instruction_mismatch" | LedgerProblem["kind"];
  subject: string;
  detail: string;
}

export interface BooksCheck extends Omit<LedgerCheck, "problems"> {
  problems: SettlementProblem[];
}

/** The latest record of each merchant, when it carried a negative net forward. */
export async function carriedForward(db: Kysely<Database>): Promise<Map<string, bigint>> {
  const rows = await sql<{ merchant_id: string; status: string; net: bigint }>`
    SELECT DISTINCT ON (merchant_id) merchant_id, status, net
      FROM settlements ORDER BY merchant_id, settlement_date DESC`.execute(db);
  return new Map(rows.rows.filter((r) => r.status === "carried_forward").map((r) => [r.merchant_id, r.net]));
}

/**
 * A merchant ID's available balance is what its unpaid settlement records hold, plus the deposits
 * credited to it, less amount + fee of each business payout that holds a reservation or has gone
 * out (queued, processing, succeeded; a failed or returned one gave it back). A settlement payout
 * is not counted here: the records it pays left the unpaid ones when it took their money.
 */
async function availableProblems(db: Kysely<Database>): Promise<SettlementProblem[]> {
  const rows = await sql<{ merchant_id: string; available: bigint; unpaid: bigint; deposits: bigint; payouts: bigint }>`
    WITH sources AS (
      SELECT merchant_id, net AS unpaid, 0::int8 AS deposits, 0::int8 AS payouts FROM settlements
       WHERE status IN ('held', 'awaiting_payout', 'payout_failed')
      UNION ALL
      SELECT merchant_id, 0, amount, 0 FROM deposits WHERE status = 'credited' AND merchant_id IS NOT NULL
      UNION ALL
      SELECT merchant_id, 0, 0, amount + fee FROM payouts
       WHERE status IN ('queued', 'processing', 'succeeded') AND settlement_instruction_id IS NULL),
    expected AS (
      SELECT merchant_id, sum(unpaid) AS unpaid, sum(deposits) AS deposits, sum(payouts) AS payouts FROM sources GROUP BY merchant_id)
    SELECT coalesce(a.owner_id, e.merchant_id) AS merchant_id,
           coalesce(a.credits - a.debits, 0)::int8 AS available, coalesce(e.unpaid, 0)::int8 AS unpaid,
           coalesce(e.deposits, 0)::int8 AS deposits, coalesce(e.payouts, 0)::int8 AS payouts
      FROM (SELECT owner_id, credits, debits FROM ledger_balances WHERE kind = 'merchant_available') a
      FULL JOIN expected e ON e.merchant_id = a.owner_id`.execute(db);
  return rows.rows
    .filter((r) => BigInt(r.available) !== BigInt(r.unpaid) + BigInt(r.deposits) - BigInt(r.payouts))
    .map((r) => ({
      kind: "available_mismatch" as const,
      subject: r.merchant_id,
      detail: `available ${r.available}, unpaid settlement records ${r.unpaid} + credited deposits ${r.deposits} - business payouts ${r.payouts}`,
    }));
}

async function transitProblems(db: Kysely<Database>): Promise<SettlementProblem[]> {
  const rows = await sql<{ in_transit: bigint; open: bigint }>`
    SELECT coalesce((SELECT credits - debits FROM ledger_balances WHERE kind = 'settlement_in_transit'), 0)::int8 AS in_transit,
           coalesce((SELECT sum(amount) FROM settlement_payouts i WHERE status IN ('created', 'pending')
                        AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.settlement_instruction_id = i.instruction_id)), 0)::int8 AS open`.execute(db);
  const r = rows.rows[0]!;
  return r.in_transit === r.open ? [] : [{ kind: "in_transit_mismatch", subject: "settlement_in_transit", detail: `in transit ${r.in_transit}, open instructions ${r.open}` }];
}

async function instructionProblems(db: Kysely<Database>): Promise<SettlementProblem[]> {
  const rows = await sql<{ instruction_id: string; amount: bigint; records: bigint }>`
    SELECT p.instruction_id, p.amount, coalesce(sum(i.amount), 0)::int8 AS records
      FROM settlement_payouts p LEFT JOIN settlement_payout_items i ON i.instruction_id = p.instruction_id
     GROUP BY p.instruction_id, p.amount
    HAVING coalesce(sum(i.amount), 0) <> p.amount
     LIMIT ${LEDGER_LIMITS.check_problems_max}`.execute(db);
  return rows.rows.map((r) => ({ kind: "instruction_mismatch" as const, subject: r.instruction_id, detail: `amount ${r.amount}, records ${r.records}` }));
}

export async function checkBooks(db: Kysely<Database>): Promise<BooksCheck> {
  const ledger = await checkLedger(db);
  const problems: SettlementProblem[] = [
    ...ledger.problems,
    ...(await pendingItemsProblems(db, await carriedForward(db))),
    ...(await availableProblems(db)),
    ...(await transitProblems(db)),
    ...(await instructionProblems(db)),
  ].slice(0, LEDGER_LIMITS.check_problems_max);
  return { ...ledger, ok: problems.length === 0, problems };
}
