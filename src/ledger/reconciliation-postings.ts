import type { Kysely } from "kysely";
import type { Database } from "../db/index.ts";
import { assert } from "../kernel/assert.ts";
import { AMOUNT_FEN_MAX, type Fen } from "../kernel/money.ts";
import { networkCost, networkReceivable, reconciliationLoss, reconciliationSuspense } from "./accounts.ts";
import { businessDateAt, isIsoDate } from "./business-day.ts";
import { postEntry, type LineSpec, type PostedEntry } from "./journal.ts";

/**
 * What reconciliation posts when an operator resolves an exception. One shape covers every action
 * (docs/reconciliation.md has the table): the network's receivable moves by `receivable_delta`
 * (positive: the network pays more than booked), its cost by `cost_delta` (positive: it charges
 * more), and the sum lands on the counterpart — the suspense account for money that is not
 * paycore's to keep, the loss account for money paycore will not get. Idempotent per exception and
 * action.
 *
 * Booked on the business day of the action (`at`: when the operator acts, or when a second
 * operator approves a write-off), never on the statement's day: the statement's day has closed and
 * been reported before anyone looks at its exceptions, and an adjustment is a decision made today
 * about it. The statement's day stays on the exception (the entry's `reference_id`).
 */
export interface ReconciliationAdjustment {
  exception_id: string;
  action: "accept_network" | "refund" | "write_off";
  channel_id: string;
  /** The statement day the exception belongs to (checked; the entry is booked on `at`'s business day). */
  settlement_date: string;
  receivable_delta: Fen;
  cost_delta: Fen;
  counterpart: "suspense" | "loss";
  at: Date;
}

function signedLine(account: LineSpec["account"], delta: Fen, line_kind: string, debit_when_positive: boolean): LineSpec {
  const positive = delta > 0n;
  return { account, side: positive === debit_when_positive ? "debit" : "credit", amount: positive ? delta : -delta, line_kind };
}

/** Posts the adjustment; null when it moves nothing (all deltas zero). */
export async function postReconciliationAdjustment(trx: Kysely<Database>, e: ReconciliationAdjustment): Promise<PostedEntry | null> {
  assert(isIsoDate(e.settlement_date), `bad settlement date ${e.settlement_date}`);
  for (const [what, v] of [["receivable_delta", e.receivable_delta], ["cost_delta", e.cost_delta]] as const) {
    assert(typeof v === "bigint" && v <= AMOUNT_FEN_MAX && v >= -AMOUNT_FEN_MAX, `${what} must be bigint fen within the maximum`);
  }
  const counter = e.receivable_delta + e.cost_delta;
  if (e.counterpart === "loss") assert(counter <= 0n, "a write-off books a shortfall, never a gain, to the loss account");
  if (e.receivable_delta === 0n && e.cost_delta === 0n) return null;
  const counterpart = e.counterpart === "loss" ? reconciliationLoss(e.channel_id) : reconciliationSuspense(e.channel_id);
  return postEntry(trx, {
    event_key: `reconciliation_adjusted:${e.exception_id}:${e.action}`,
    event_type: "reconciliation_adjusted",
    reference_id: e.exception_id,
    merchant_id: null,
    channel_id: e.channel_id,
    effective_at: e.at,
    business_date: await businessDateAt(trx, e.at),
    lines: [
      signedLine(networkReceivable(e.channel_id), e.receivable_delta, "reconciliation", true),
      signedLine(networkCost(e.channel_id), e.cost_delta, "reconciliation", true),
      // Suspense (a liability) grows on the credit side; loss (an expense) on the debit side.
      signedLine(counterpart, counter, "reconciliation", false),
    ],
  });
}
