import type { Kysely } from "kysely";
import type { Database } from "../../src/db/index.ts";

/** Everything a settlement run could change, to show that a re-run changed nothing. */
export async function booksSnapshot(db: Kysely<Database>) {
  const entries = await db.selectFrom("journal_entries").select("entry_id").orderBy("entry_id").execute();
  const accounts = await db.selectFrom("ledger_balances").select(["account_code", "debits", "credits"]).orderBy("account_code").execute();
  const settlements = await db.selectFrom("settlements").select(["settlement_id", "status", "net", "payout_instruction_id"]).orderBy("settlement_id").execute();
  const payouts = await db.selectFrom("settlement_payouts").select(["instruction_id", "status", "amount", "attempt_count"]).orderBy("instruction_id").execute();
  const rail_payouts = await db.selectFrom("payouts").select(["payout_id", "status", "amount", "settlement_instruction_id"]).orderBy("payout_id").execute();
  const items = await db.selectFrom("pending_items").select(["entry_id", "settlement_id"]).orderBy("entry_id").execute();
  return { entries: entries.map((e) => e.entry_id), accounts, settlements, payouts, rail_payouts, items };
}
