import { sql, type Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import type { Fen } from "../kernel/money.ts";
import { DEPOSITS_UNAPPLIED, FEE_INCOME, PAYOUTS_IN_TRANSIT, RESERVE_FUNDS, accountCode, merchantAvailable, railSettlement } from "./accounts.ts";
import { businessDateAt } from "./business-day.ts";
import { postEntry, type LineSpec, type PostedEntry } from "./journal.ts";

/**
 * Postings of business payouts and deposits (docs/payouts.md "Money"):
 * - reserved: merchant available → payouts in transit (amount + fee), with the payout's record;
 * - settled: in transit → the rail's settlement account (amount) and fee income (fee);
 * - released (failed): in transit → back to available;
 * - returned (after settled): the rail's account and fee income → back to available;
 * - deposit credited: reserve funds ← the payer, to the merchant ID's available balance;
 * - deposit received / returned (票款不一致): reserve funds ↔ deposits unapplied.
 */

/**
 * Takes `amount` from the merchant ID's available balance only if it covers it: the one place a
 * reservation checks the balance, race-safe by locking the merchant's available-balance row until
 * the caller's transaction ends (so concurrent reservations queue and each sees the last one's
 * result). Answers false, and changes nothing, when the balance is short.
 */
export async function reserveAvailable(trx: Kysely<Database>, merchant_id: string, amount: Fen): Promise<boolean> {
  assert(trx.isTransaction, "a reservation runs in the transaction that records what it is for");
  assert(amount > 0n, "a reservation takes a positive amount");
  const code = accountCode(merchantAvailable(merchant_id));
  const row = await sql<{ debits: bigint; credits: bigint }>`SELECT debits, credits FROM ledger_accounts WHERE account_code = ${code} FOR UPDATE`.execute(trx);
  const account = row.rows[0];
  if (!account) return false;
  return BigInt(account.credits) - BigInt(account.debits) >= amount;
}

export interface PayoutPosting {
  payout_id: string;
  merchant_id: string;
  /** Null only for a payout queued while no rail can take it. */
  rail: string | null;
  amount: Fen;
  fee: Fen;
  at: Date;
  /**
   * A settlement payout: whose available balances the amount comes from (and goes back to), each
   * member's part of a group's one transfer (separate books); no fee. Absent: all of it is the
   * payout's merchant ID's.
   */
  members?: readonly { merchant_id: string; amount: Fen }[] | undefined;
}

function settledBy(p: PayoutPosting): string {
  assert(p.rail !== null, "a settled payout went by a rail");
  return p.rail;
}

/** The merchant-available side of a payout entry: one line, or one per settlement group member. */
function availableLines(p: PayoutPosting, side: "debit" | "credit", line_kind: string): LineSpec[] {
  if (!p.members) return [{ account: merchantAvailable(p.merchant_id), side, amount: p.amount + p.fee, line_kind }];
  assert(p.fee === 0n, "a settlement payout carries no fee");
  assert(p.members.length >= 1 && new Set(p.members.map((m) => m.merchant_id)).size === p.members.length, "one line per member");
  assert(p.members.every((m) => m.amount > 0n) && p.members.reduce((s, m) => s + m.amount, 0n) === p.amount, "members' parts make the amount");
  return p.members.map((m) => ({ account: merchantAvailable(m.merchant_id), side, amount: m.amount, line_kind }));
}

async function post(trx: Kysely<Database>, event: "payout_reserved" | "payout_settled" | "payout_released" | "payout_returned", p: PayoutPosting, lines: LineSpec[]): Promise<PostedEntry> {
  assert(p.amount > 0n && p.fee >= 0n, "payout amounts");
  return postEntry(trx, {
    event_key: `${event}:${p.payout_id}`,
    event_type: event,
    reference_id: p.payout_id,
    merchant_id: p.merchant_id,
    channel_id: p.rail,
    effective_at: p.at,
    business_date: await businessDateAt(trx, p.at),
    lines,
  });
}

export async function postPayoutReserved(trx: Kysely<Database>, p: PayoutPosting): Promise<PostedEntry> {
  const total = p.amount + p.fee;
  return post(trx, "payout_reserved", p, [
    ...availableLines(p, "debit", "payout"),
    { account: PAYOUTS_IN_TRANSIT, side: "credit", amount: total, line_kind: "payout" },
  ]);
}

export async function postPayoutSettled(trx: Kysely<Database>, p: PayoutPosting): Promise<PostedEntry> {
  return post(trx, "payout_settled", p, [
    { account: PAYOUTS_IN_TRANSIT, side: "debit", amount: p.amount + p.fee, line_kind: "payout" },
    { account: railSettlement(settledBy(p)), side: "credit", amount: p.amount, line_kind: "payout" },
    { account: FEE_INCOME, side: "credit", amount: p.fee, line_kind: "fee" },
  ]);
}

export async function postPayoutReleased(trx: Kysely<Database>, p: PayoutPosting): Promise<PostedEntry> {
  const total = p.amount + p.fee;
  return post(trx, "payout_released", p, [
    { account: PAYOUTS_IN_TRANSIT, side: "debit", amount: total, line_kind: "payout_released" },
    ...availableLines(p, "credit", "payout_released"),
  ]);
}

export async function postPayoutReturned(trx: Kysely<Database>, p: PayoutPosting): Promise<PostedEntry> {
  return post(trx, "payout_returned", p, [
    { account: railSettlement(settledBy(p)), side: "debit", amount: p.amount, line_kind: "payout_returned" },
    { account: FEE_INCOME, side: "debit", amount: p.fee, line_kind: "fee_returned" },
    ...availableLines(p, "credit", "payout_returned"),
  ]);
}

export interface DepositPosting {
  deposit_id: string;
  merchant_id: string | null;
  amount: Fen;
  at: Date;
}

async function postDeposit(trx: Kysely<Database>, event: "deposit_credited" | "deposit_received" | "deposit_returned", d: DepositPosting, lines: LineSpec[]): Promise<PostedEntry> {
  assert(d.amount > 0n, "a deposit is positive");
  return postEntry(trx, {
    event_key: `${event}:${d.deposit_id}`,
    event_type: event,
    reference_id: d.deposit_id,
    merchant_id: d.merchant_id,
    channel_id: null,
    effective_at: d.at,
    business_date: await businessDateAt(trx, d.at),
    lines,
  });
}

/** 票款一致: the payer is the entity itself; the money is the merchant ID's to pay out. */
export async function postDepositCredited(trx: Kysely<Database>, d: DepositPosting & { merchant_id: string }): Promise<PostedEntry> {
  return postDeposit(trx, "deposit_credited", d, [
    { account: RESERVE_FUNDS, side: "debit", amount: d.amount, line_kind: "deposit" },
    { account: merchantAvailable(d.merchant_id), side: "credit", amount: d.amount, line_kind: "deposit" },
  ]);
}

/** The money arrived but may not be credited (another payer, an unknown merchant ID): held apart. */
export async function postDepositReceived(trx: Kysely<Database>, d: DepositPosting): Promise<PostedEntry> {
  return postDeposit(trx, "deposit_received", d, [
    { account: RESERVE_FUNDS, side: "debit", amount: d.amount, line_kind: "deposit" },
    { account: DEPOSITS_UNAPPLIED, side: "credit", amount: d.amount, line_kind: "deposit" },
  ]);
}

/** The held deposit went back to its payer. */
export async function postDepositReturned(trx: Kysely<Database>, d: DepositPosting): Promise<PostedEntry> {
  return postDeposit(trx, "deposit_returned", d, [
    { account: DEPOSITS_UNAPPLIED, side: "debit", amount: d.amount, line_kind: "deposit_returned" },
    { account: RESERVE_FUNDS, side: "credit", amount: d.amount, line_kind: "deposit_returned" },
  ]);
}
