import type { Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import type { Fen } from "../kernel/money.ts";
import { RESERVE_FUNDS, SETTLEMENT_IN_TRANSIT, merchantAvailable, merchantPending } from "./accounts.ts";
import { businessDateAt } from "./business-day.ts";
import { postEntry, type LineSpec, type PostedEntry } from "./journal.ts";

/** Postings of the settlement run and of payout execution (docs/ledger.md). */

export interface SettlementMatured {
  settlement_id: string;
  merchant_id: string;
  settlement_date: string;
  /** The settlement's positive net: matured pending money becoming available. */
  amount: Fen;
  at: Date;
}

export async function postSettlementMatured(trx: Kysely<Database>, e: SettlementMatured): Promise<PostedEntry> {
  assert(e.amount > 0n, "only a positive net matures into the available balance");
  return postEntry(trx, {
    event_key: `settlement_matured:${e.settlement_id}`,
    event_type: "settlement_matured",
    reference_id: e.settlement_id,
    merchant_id: e.merchant_id,
    channel_id: null,
    effective_at: e.at,
    business_date: e.settlement_date,
    lines: [
      { account: merchantPending(e.merchant_id), side: "debit", amount: e.amount, line_kind: "settlement" },
      { account: merchantAvailable(e.merchant_id), side: "credit", amount: e.amount, line_kind: "settlement" },
    ],
  });
}

export interface PayoutMember {
  merchant_id: string;
  amount: Fen;
}

export interface PayoutInstructed {
  instruction_id: string;
  payee_merchant_id: string;
  settlement_date: string;
  /** Each member's part, taken from its own available balance (separate books). */
  members: readonly PayoutMember[];
  at: Date;
}

function memberLines(members: readonly PayoutMember[], side: "debit" | "credit", line_kind: string): LineSpec[] {
  assert(members.length >= 1, "a payout has at least one member");
  assert(new Set(members.map((m) => m.merchant_id)).size === members.length, "one line per member");
  for (const m of members) assert(m.amount > 0n, `member ${m.merchant_id} part must be positive`);
  return members.map((m) => ({ account: merchantAvailable(m.merchant_id), side, amount: m.amount, line_kind }));
}

const total = (members: readonly PayoutMember[]) => members.reduce((s, m) => s + m.amount, 0n);

/** A payout instruction is made: the members' available money goes in transit to the payee's account. */
export async function postPayoutInstructed(trx: Kysely<Database>, e: PayoutInstructed): Promise<PostedEntry> {
  return postEntry(trx, {
    event_key: `payout_instructed:${e.instruction_id}`,
    event_type: "payout_instructed",
    reference_id: e.instruction_id,
    merchant_id: e.payee_merchant_id,
    channel_id: null,
    effective_at: e.at,
    business_date: e.settlement_date,
    lines: [...memberLines(e.members, "debit", "payout"), { account: SETTLEMENT_IN_TRANSIT, side: "credit", amount: total(e.members), line_kind: "payout" }],
  });
}

export interface PayoutFinished {
  instruction_id: string;
  payee_merchant_id: string;
  members: readonly PayoutMember[];
  at: Date;
}

/** The bank confirmed the transfer: the money left the reserve funds account. */
export async function postPayoutSucceeded(trx: Kysely<Database>, e: PayoutFinished): Promise<PostedEntry> {
  const amount = total(e.members);
  return postEntry(trx, {
    event_key: `payout_succeeded:${e.instruction_id}`,
    event_type: "payout_succeeded",
    reference_id: e.instruction_id,
    merchant_id: e.payee_merchant_id,
    channel_id: null,
    effective_at: e.at,
    business_date: await businessDateAt(trx, e.at),
    lines: [
      { account: SETTLEMENT_IN_TRANSIT, side: "debit", amount, line_kind: "payout" },
      { account: RESERVE_FUNDS, side: "credit", amount, line_kind: "payout" },
    ],
  });
}

/** The bank refused the transfer: the money goes back to each member's available balance. */
export async function postPayoutFailed(trx: Kysely<Database>, e: PayoutFinished): Promise<PostedEntry> {
  return postEntry(trx, {
    event_key: `payout_failed:${e.instruction_id}`,
    event_type: "payout_failed",
    reference_id: e.instruction_id,
    merchant_id: e.payee_merchant_id,
    channel_id: null,
    effective_at: e.at,
    business_date: await businessDateAt(trx, e.at),
    lines: [{ account: SETTLEMENT_IN_TRANSIT, side: "debit", amount: total(e.members), line_kind: "payout_returned" }, ...memberLines(e.members, "credit", "payout_returned")],
  });
}
