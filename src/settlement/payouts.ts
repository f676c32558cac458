import { sql, type Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database, SettlementPayoutRow } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { newId } from "../kernel/ids.ts";
import type { Fen } from "../kernel/money.ts";
import { LEDGER_LIMITS, postPayoutFailed, postPayoutInstructed, postPayoutSucceeded, type PayoutMember } from "../ledger/index.ts";
import type { TransferExecutor, TransferOutcome } from "./executor.ts";
import type { SettlementGroup } from "./members.ts";

/**
 * Payout instructions: one transfer to a payee's settlement account for the members' payable
 * settlement records. Made in the run's transaction (the intent, committed); executed after it,
 * outside any transaction; the outcome is recorded in a transaction of its own.
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

export async function createGroupPayout(trx: Kysely<Database>, group: SettlementGroup, date: string, now: Date): Promise<SettlementPayoutRow | null> {
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
  const row: SettlementPayoutRow = {
    instruction_id: newId("spo", now.getTime()),
    payee_merchant_id: payee.merchant_id,
    settlement_date: date,
    batch_no: last.batch_no + 1,
    amount,
    account_name: payee.settlement_account_name,
    account_number_enc: payee.settlement_account_number_enc,
    account_last4: payee.settlement_account_last4,
    bank_code: payee.settlement_bank_code,
    status: "created",
    failure_reason: null,
    attempt_count: 0,
    created_at: now,
    updated_at: now,
    finished_at: null,
  };
  await trx.insertInto("settlement_payouts").values(row).execute();
  await postPayoutInstructed(trx, { instruction_id: row.instruction_id, payee_merchant_id: payee.merchant_id, settlement_date: date, members, at: now });
  await trx
    .insertInto("settlement_payout_items")
    .values(records.map((r) => ({ instruction_id: row.instruction_id, settlement_id: r.settlement_id, merchant_id: r.merchant_id, amount: r.net })))
    .execute();
  await trx
    .updateTable("settlements")
    .set({ status: "in_transit", payout_instruction_id: row.instruction_id, updated_at: now })
    .where("settlement_id", "in", records.map((r) => r.settlement_id))
    .execute();
  return row;
}

/** Each member's part of an instruction, from its settlement records. */
async function instructionMembers(trx: Kysely<Database>, instruction: SettlementPayoutRow): Promise<PayoutMember[]> {
  const items = await trx.selectFrom("settlement_payout_items").select(["settlement_id", "merchant_id", "amount as net"]).where("instruction_id", "=", instruction.instruction_id).execute();
  const members = partsByMember(items);
  const total = members.reduce((s, m) => s + m.amount, 0n);
  assert(total === instruction.amount, `instruction ${instruction.instruction_id}: amount ${instruction.amount}, records ${total}`);
  return members;
}

export type PayoutResult = "succeeded" | "failed" | "pending" | "already_final";

/** Records a transfer outcome once: the final state, its ledger entry, and the records' status. */
export async function recordOutcome(ctx: Pick<Ctx, "db" | "clock">, instruction_id: string, outcome: TransferOutcome): Promise<PayoutResult> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom("settlement_payouts").selectAll().where("instruction_id", "=", instruction_id).forUpdate().executeTakeFirstOrThrow();
    if (row.status === "succeeded" || row.status === "failed") return "already_final";
    const attempt_count = row.attempt_count + 1;
    if (outcome.status === "pending") {
      await trx.updateTable("settlement_payouts").set({ status: "pending", failure_reason: outcome.reason, attempt_count, updated_at: now }).where("instruction_id", "=", instruction_id).execute();
      return "pending";
    }
    const members = await instructionMembers(trx, row);
    const finished = { instruction_id, payee_merchant_id: row.payee_merchant_id, members, at: now };
    if (outcome.status === "succeeded") await postPayoutSucceeded(trx, finished);
    else await postPayoutFailed(trx, finished);
    await trx
      .updateTable("settlement_payouts")
      .set({ status: outcome.status, failure_reason: outcome.status === "failed" ? outcome.reason : null, attempt_count, updated_at: now, finished_at: now })
      .where("instruction_id", "=", instruction_id)
      .execute();
    await trx
      .updateTable("settlements")
      .set({ status: outcome.status === "succeeded" ? "paid" : "payout_failed", updated_at: now })
      .where("payout_instruction_id", "=", instruction_id)
      .execute();
    return outcome.status;
  });
}

async function attempt(ctx: Pick<Ctx, "box">, executor: TransferExecutor, row: SettlementPayoutRow): Promise<TransferOutcome> {
  if (row.status === "pending") {
    const known = await executor.status(row.instruction_id);
    if (known.status !== "not_found") return known;
  }
  const account_number = ctx.box.open(row.account_number_enc, `settlement_account:${row.payee_merchant_id}`);
  return executor.execute({
    transfer_id: row.instruction_id,
    amount: row.amount,
    payee: { account_name: row.account_name, account_number, bank_code: row.bank_code },
    purpose: `paycore settlement ${row.settlement_date}`,
  });
}

export interface PayoutPass {
  attempted: number;
  succeeded: number;
  failed: number;
  pending: number;
}

/**
 * Executes open instructions (created, or pending at the bank), oldest first. Safe to run again
 * and after a crash: the bank is idempotent by instruction id.
 */
export async function executePayouts(
  ctx: Pick<Ctx, "db" | "clock" | "box">,
  executor: TransferExecutor,
  options: { settlement_date?: string; on_progress?: (done: number, total: number) => void } = {},
): Promise<PayoutPass> {
  let q = ctx.db
    .selectFrom("settlement_payouts")
    .selectAll()
    .where("status", "in", ["created", "pending"])
    // Past the attempt limit an instruction waits for an operator instead of looping forever.
    .where("attempt_count", "<", LEDGER_LIMITS.payout_attempts_max)
    .orderBy("created_at")
    .orderBy("instruction_id")
    .limit(LEDGER_LIMITS.payouts_per_pass_max);
  if (options.settlement_date) q = q.where("settlement_date", "=", options.settlement_date);
  const open = await q.execute();
  const pass: PayoutPass = { attempted: 0, succeeded: 0, failed: 0, pending: 0 };
  for (const row of open) {
    const outcome = await attempt(ctx, executor, row);
    const result = await recordOutcome(ctx, row.instruction_id, outcome);
    pass.attempted += 1;
    if (result === "succeeded" || result === "failed" || result === "pending") pass[result] += 1;
    options.on_progress?.(pass.attempted, open.length);
  }
  return pass;
}
