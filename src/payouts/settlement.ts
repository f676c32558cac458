import type { Kysely } from "kysely";
import type { Database, PayoutRow, SettlementPayoutStatus, SettlementStatus } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { canonicalJson } from "../kernel/canonical-json.ts";
import { newId } from "../kernel/ids.ts";
import type { Fen } from "../kernel/money.ts";
import { postPayoutReserved, type PayoutPosting } from "../ledger/index.ts";
import type { PayoutDeps } from "./deps.ts";
import { PAYOUT_LIMITS } from "./limits.ts";
import { routeNow } from "./rails.ts";

/**
 * Settlement payouts: a settlement run pays a payee's settlement account by an ordinary payout
 * (same router, rails, sweeper, crash safety), linked to its instruction by
 * `payouts.settlement_instruction_id`. What differs (docs/ledger.md, "Settlement payouts"):
 * - the money is reserved from each group member's available balance, where `settlement_matured`
 *   put it (one debit line per member), in the run's transaction with the records — not a second
 *   time: the run posts no other entry for it;
 * - no fee (the merchant paid its fees on each payment; the rail's cost is the institution's);
 * - a failure or a return gives each member its part back, and the instruction and its settlement
 *   records follow the payout's final state in the same transaction.
 */
export interface SettlementPayoutInput {
  instruction_id: string;
  payee_merchant_id: string;
  amount: Fen;
  /** Each member's part (sums to `amount`). */
  members: readonly { merchant_id: string; amount: Fen }[];
  payee: { account_name: string; account_number: string; bank_code: string };
  purpose: string;
}

/**
 * Records the payout of a settlement instruction in the caller's transaction (the run's, with the
 * instruction row already inserted): routed now, `processing` with its message id when a rail is
 * open, else `queued` for the rail that opens first (or, when no rail can take it at all, for
 * another routing a minute later). The caller sends it after the commit.
 */
export async function recordSettlementPayout(pd: PayoutDeps, trx: Kysely<Database>, input: SettlementPayoutInput): Promise<PayoutRow> {
  assert(trx.isTransaction, "a settlement payout is recorded in the run's transaction");
  const now = pd.ctx.clock.now();
  const route = await routeNow(pd, { amount: input.amount, urgency: "normal", payee_bank_code: input.payee.bank_code }, trx);
  const payout_id = newId("po", now.getTime());
  const send = route.kind === "send";
  const row: PayoutRow = {
    payout_id,
    merchant_id: input.payee_merchant_id,
    out_payout_no: `settlement:${input.instruction_id}`,
    request_hash: pd.ctx.box.fingerprint("request", canonicalJson({ settlement_instruction_id: input.instruction_id })),
    batch_id: null,
    amount: input.amount,
    fee: 0n,
    currency: "CNY",
    payee_account_name: input.payee.account_name,
    payee_account_number_enc: pd.ctx.box.seal(input.payee.account_number, `payout_payee:${payout_id}`),
    payee_account_last4: input.payee.account_number.slice(-4),
    payee_bank_code: input.payee.bank_code,
    purpose: input.purpose,
    urgency: "normal",
    status: send ? "processing" : "queued",
    rail: route.kind === "none" ? null : route.rail,
    route_reason: route.kind === "none" ? `${route.reason}: queued, routed again later` : route.reason,
    msg_id: send ? newId("ntx", now.getTime()) : null,
    failure_code: null,
    failure_message: null,
    attempt_count: 0,
    alert: false,
    next_attempt_at: send ? new Date(now.getTime() + PAYOUT_LIMITS.query_after_ms) : route.kind === "queue" ? route.opens_at : new Date(now.getTime() + PAYOUT_LIMITS.requeue_after_ms),
    created_at: now,
    updated_at: now,
    succeeded_at: null,
    returned_at: null,
    settlement_instruction_id: input.instruction_id,
  };
  await trx.insertInto("payouts").values(row).execute();
  await postPayoutReserved(trx, { ...postingBase(row, now), members: input.members });
  return row;
}

const postingBase = (p: PayoutRow, at: Date): PayoutPosting => ({ payout_id: p.payout_id, merchant_id: p.merchant_id, rail: p.rail, amount: p.amount, fee: p.fee, at });

/** Each member's part of a settlement instruction, from the records it pays. */
async function instructionMembers(trx: Kysely<Database>, instruction_id: string, amount: Fen): Promise<{ merchant_id: string; amount: Fen }[]> {
  const items = await trx.selectFrom("settlement_payout_items").select(["merchant_id", "amount"]).where("instruction_id", "=", instruction_id).execute();
  const parts = new Map<string, Fen>();
  for (const i of items) parts.set(i.merchant_id, (parts.get(i.merchant_id) ?? 0n) + i.amount);
  const members = [...parts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([merchant_id, part]) => ({ merchant_id, amount: part }));
  const total = members.reduce((s, m) => s + m.amount, 0n);
  assert(total === amount, `settlement instruction ${instruction_id}: payout ${amount}, records ${total}`);
  return members;
}

/** A payout's posting: for a settlement payout, split over the members whose money it carries. */
export async function payoutPosting(trx: Kysely<Database>, p: PayoutRow, at: Date): Promise<PayoutPosting> {
  const base = postingBase(p, at);
  if (!p.settlement_instruction_id) return base;
  return { ...base, members: await instructionMembers(trx, p.settlement_instruction_id, p.amount) };
}

const FOLLOW: Partial<Record<PayoutRow["status"], { instruction: SettlementPayoutStatus; records: SettlementStatus }>> = {
  succeeded: { instruction: "succeeded", records: "paid" },
  failed: { instruction: "failed", records: "payout_failed" },
  // The money is back in the members' available balances: the records are paid again by a later run.
  returned: { instruction: "returned", records: "payout_failed" },
};

/**
 * In the transaction of the payout's change: a settlement payout's instruction and records take
 * its final state (paid; or payout_failed, retried by the next date's run). Nothing for a
 * business payout or a state that is not final.
 */
export async function followSettlementPayout(trx: Kysely<Database>, p: PayoutRow, now: Date): Promise<void> {
  const to = FOLLOW[p.status];
  if (!p.settlement_instruction_id || !to) return;
  const failure = p.status === "succeeded" ? null : `${p.failure_code ?? p.status}: ${p.failure_message ?? p.status}`;
  await trx
    .updateTable("settlement_payouts")
    .set({ status: to.instruction, failure_reason: failure, updated_at: now, finished_at: now })
    .where("instruction_id", "=", p.settlement_instruction_id)
    .execute();
  await trx.updateTable("settlements").set({ status: to.records, updated_at: now }).where("payout_instruction_id", "=", p.settlement_instruction_id).execute();
}
