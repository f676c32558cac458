import { sql, type Kysely } from "kysely";
import type { Database, PayoutRow, SettlementPayoutRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { newId } from "../kernel/ids.ts";
import type { Fen } from "../kernel/money.ts";
import { LEDGER_LIMITS, type PayoutMember } from "../ledger/index.ts";
import { queryPayout, recordSettlementPayout, routeAgain, sendPayout, type PayoutDeps } from "../payouts/index.ts";
import type { SettlementGroup } from "./members.ts";

/**
 * Payout instructions: one payment to a payee's settlement account for the members' payable
 * settlement records, made by a payout of the payouts module (routed over HVPS/BEPS/IBPS/
 * bank-direct like any other; src/payouts/settlement.ts). The instruction, its payout and the
 * reservation are recorded in the run's transaction (the intent, committed); the message leaves
 * after it, outside any transaction; the outcome is recorded by the payouts module in a
 * transaction of its own, which also moves the instruction and its records to their final state.
 */

interface Payable {
  settlement_id: string;
  merchant_id: string;
  net: Fen;
}

/**
 * Records ready to pay for the group's active members: new ones, held ones now released, and
 * ones whose payout failed on an earlier date (retried the next day, so a same-day re-run changes nothing).
 */
async function payableRecords(trx: Kysely<Database>, member_ids: string[], date: string): Promise<Payable[]> {
  if (member_ids.length === 0) return [];
  const max = member_ids.length * LEDGER_LIMITS.payable_records_per_member_max;
  const rows = await trx
    .selectFrom("settlements as s")
    .leftJoin("settlement_payouts as p", "p.instruction_id", "s.payout_instruction_id")
    .select(["s.settlement_id", "s.merchant_id", "s.net"])
    .where("s.merchant_id", "in", member_ids)
    .where("s.settlement_date", "<=", date)
    .where((eb) => eb.or([eb("s.status", "in", ["held", "awaiting_payout"]), eb.and([eb("s.status", "=", "payout_failed"), eb("p.settlement_date", "<", date)])]))
    .orderBy("s.settlement_date")
    .orderBy("s.settlement_id")
    .limit(max)
    .execute();
  for (const r of rows) assert(r.net > 0n, `payable settlement ${r.settlement_id} has net ${r.net}`);
  return rows;
}

function partsByMember(records: readonly Payable[]): PayoutMember[] {
  const parts = new Map<string, Fen>();
  for (const r of records) parts.set(r.merchant_id, (parts.get(r.merchant_id) ?? 0n) + r.net);
  return [...parts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([merchant_id, amount]) => ({ merchant_id, amount }));
}

export interface GroupPayout {
  instruction: SettlementPayoutRow;
  payout: PayoutRow;
}

export async function createGroupPayout(pd: PayoutDeps, trx: Kysely<Database>, group: SettlementGroup, date: string, now: Date): Promise<GroupPayout | null> {
  const active = group.members.filter((m) => !m.held).map((m) => m.row.merchant_id);
  const records = await payableRecords(trx, active, date);
  if (records.length === 0) return null;
  const members = partsByMember(records);
  const amount = members.reduce((s, m) => s + m.amount, 0n);
  const payee = group.payee;
  assert(payee.settlement_account_number_enc && payee.settlement_account_name && payee.settlement_account_last4 && payee.settlement_bank_code, `payee ${payee.merchant_id} has no settlement account`);
  const last = await trx
    .selectFrom("settlement_payouts")
    .select(sql<number>`coalesce(max(batch_no), 0)::int4`.as("batch_no"))
    .where("payee_merchant_id", "=", payee.merchant_id)
    .where("settlement_date", "=", date)
    .executeTakeFirstOrThrow();
  const instruction: SettlementPayoutRow = {
    instruction_id: newId("spo", now.getTime()),
    payee_merchant_id: payee.merchant_id,
    settlement_date: date,
    batch_no: last.batch_no + 1,
    amount,
    account_name: payee.settlement_account_name,
    account_number_enc: payee.settlement_account_number_enc,
    account_last4: payee.settlement_account_last4,
    bank_code: payee.settlement_bank_code,
    status: "pending",
    failure_reason: null,
    attempt_count: 0,
    created_at: now,
    updated_at: now,
    finished_at: null,
  };
  await trx.insertInto("settlement_payouts").values(instruction).execute();
  await trx
    .insertInto("settlement_payout_items")
    .values(records.map((r) => ({ instruction_id: instruction.instruction_id, settlement_id: r.settlement_id, merchant_id: r.merchant_id, amount: r.net })))
    .execute();
  const account_number = pd.ctx.box.open(payee.settlement_account_number_enc, `settlement_account:${payee.merchant_id}`);
  const payout = await recordSettlementPayout(pd, trx, {
    instruction_id: instruction.instruction_id,
    payee_merchant_id: payee.merchant_id,
    amount,
    members,
    payee: { account_name: payee.settlement_account_name, account_number, bank_code: payee.settlement_bank_code },
    purpose: `paycore settlement ${date}`,
  });
  await trx
    .updateTable("settlements")
    .set({ status: "in_transit", payout_instruction_id: instruction.instruction_id, updated_at: now })
    .where("settlement_id", "in", records.map((r) => r.settlement_id))
    .execute();
  return { instruction, payout };
}

export interface PayoutPass {
  attempted: number;
  succeeded: number;
  /** Failed, or returned by the payee's bank: the records wait for the next date's run. */
  failed: number;
  /** Still open: processing at a rail, or queued until one opens (the sweeper carries on). */
  pending: number;
}

/**
 * Moves open settlement payouts on, oldest first: the `fresh` ones (just recorded by this run)
 * are sent; other processing ones are asked about by status query and sent again with the same
 * message id when the rail never got them; queued ones are routed again. The sweeper does the
 * same on its own; both are safe together (one message id per payout, outcomes applied once).
 * Without a line to the rails (no gateway in this process) nothing is sent: answers null.
 */
export async function executePayouts(
  pd: PayoutDeps,
  options: { fresh?: ReadonlySet<string>; on_progress?: (done: number, total: number) => void } = {},
): Promise<PayoutPass | null> {
  if (!pd.gateway) return null;
  const open = await pd.ctx.db
    .selectFrom("payouts")
    .selectAll()
    .where("settlement_instruction_id", "is not", null)
    .where("status", "in", ["queued", "processing"])
    .orderBy("created_at")
    .orderBy("payout_id")
    .limit(LEDGER_LIMITS.payouts_per_pass_max)
    .execute();
  const pass: PayoutPass = { attempted: 0, succeeded: 0, failed: 0, pending: 0 };
  for (const row of open) {
    const work = row.status === "queued" ? routeAgain(pd, row.payout_id) : options.fresh?.has(row.payout_id) ? sendPayout(pd, row) : queryPayout(pd, row);
    await work.catch((err: Error) => pd.ctx.log.warn({ payout_id: row.payout_id, err: err.message }, "settlement payout not moved on; the sweeper retries"));
    const now = await pd.ctx.db.selectFrom("payouts").select("status").where("payout_id", "=", row.payout_id).executeTakeFirstOrThrow();
    pass.attempted += 1;
    if (now.status === "succeeded") pass.succeeded += 1;
    else if (now.status === "failed" || now.status === "returned") pass.failed += 1;
    else pass.pending += 1;
    options.on_progress?.(pass.attempted, open.length);
  }
  return pass;
}
