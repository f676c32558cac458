import { sql } from "kysely";
import { assert } from "../kernel/assert.ts";
import { PaycoreError, invalidRequest } from "../kernel/errors.ts";
import type { Fen } from "../kernel/money.ts";
import { LEDGER_LIMITS, addDays, beijingTime, dayClosesAt, isIsoDate, loadCalendar, type SettlementCalendar } from "../ledger/index.ts";
import type { PayoutDeps } from "../payouts/index.ts";
import { loadGroup, payeeCount, payeePage } from "./members.ts";
import { createGroupPayout, executePayouts, type PayoutPass } from "./payouts.ts";
import { settleMember, type MemberOutcome } from "./records.ts";
import { openSettlementRun, type SettlementRunRecord } from "./run-record.ts";

/**
 * The settlement run for one date. For every settlement group (a payee and the members whose
 * money goes to its account), in one transaction per group: each member whose window has closed
 * gets its settlement record (matured pending → available), then one payout instruction takes the
 * active members' payable records, paid by one payout (routed, reserved from the members'
 * available balances). After all groups, the payouts are sent. Running the same date again changes
 * nothing: records exist, nothing is payable, nothing is open.
 */
export interface RunProgress {
  phase: "settle" | "payout";
  done: number;
  total: number;
}

export interface RunSummary {
  /** The run's row in settlement_runs (its progress while it runs, its outcome after). */
  run_id: string;
  date: string;
  groups: number;
  records_created: number;
  carried_forward: number;
  held: number;
  not_closed: number;
  payouts_created: number;
  amount_instructed: Fen;
  payouts: PayoutPass | null;
}

export interface RunOptions {
  date: string;
  /**
   * False: make records, instructions and their payouts only; the sweeper (or `executePayouts`)
   * sends them. Nothing is sent either when `payouts` has no line to the rails.
   */
  execute: boolean;
  on_progress?: (progress: RunProgress) => void;
  /** Who started it (recorded on the run's row); null from the CLI. */
  operator_id?: string | null;
}

function emptySummary(run_id: string, date: string): RunSummary {
  return { run_id, date, groups: 0, records_created: 0, carried_forward: 0, held: 0, not_closed: 0, payouts_created: 0, amount_instructed: 0n, payouts: null };
}

function count(summary: RunSummary, outcome: MemberOutcome): void {
  if (outcome.kind === "not_closed") summary.not_closed += 1;
  if (outcome.kind !== "created") return;
  summary.records_created += 1;
  if (outcome.record.status === "carried_forward") summary.carried_forward += 1;
  if (outcome.record.status === "held") summary.held += 1;
}

/** One group in one transaction, serialised against a concurrent run of the same group. */
async function settleGroup(pd: PayoutDeps, calendar: SettlementCalendar, payee_merchant_id: string, date: string, summary: RunSummary, fresh: Set<string>): Promise<void> {
  const now = pd.ctx.clock.now();
  const made = await pd.ctx.db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`paycore:settle:${payee_merchant_id}`}))`.execute(trx);
    const group = await loadGroup(trx, payee_merchant_id);
    if (!group) return;
    for (const m of group.members) {
      const outcome = await settleMember(trx, { calendar, member: m.row, payee_merchant_id, held: m.held, date, now });
      count(summary, outcome);
    }
    return createGroupPayout(pd, trx, group, date, now);
  });
  if (made) {
    summary.payouts_created += 1;
    summary.amount_instructed += made.instruction.amount;
    if (made.payout.status === "processing") fresh.add(made.payout.payout_id);
  }
}

/**
 * A run for settlement date X pays money out on X, so X must have begun: the business day before
 * it (X − 1) must have closed. For a working day X, X − 1 is exactly the business day a T+1 member
 * settles; a T+N member settles days that closed earlier still, and a D+0 member waits for X
 * itself to close (reported `not_closed`). Without this, a run for a later date paid money out before
 * that date (T+2 money a day early, a weekend date's records on the Friday).
 */
export function assertSettlementDateBegun(calendar: SettlementCalendar, date: string, now: Date): void {
  const previous = addDays(date, -1);
  const closes_at = dayClosesAt(calendar.cutoffs, previous);
  if (now.getTime() >= closes_at.getTime()) return;
  throw new PaycoreError(
    "business_day_not_closed",
    `date: settlement date ${date} has not begun: business day ${previous} closes at ${beijingTime(closes_at)} Beijing time (${closes_at.toISOString()}); run it then or later`,
  );
}

export async function runSettlement(pd: PayoutDeps, options: RunOptions): Promise<RunSummary> {
  const ctx = pd.ctx;
  if (!isIsoDate(options.date)) throw invalidRequest("date", "must be a calendar date YYYY-MM-DD");
  const calendar = await loadCalendar(ctx.db);
  assertSettlementDateBegun(calendar, options.date, ctx.clock.now());
  const record = await openSettlementRun(ctx, options.date, options.operator_id ?? null);
  try {
    const summary = await settleAndPay(pd, calendar, options, record);
    await record.finish(summary);
    return summary;
  } catch (err) {
    await record.fail(err);
    throw err;
  }
}

/** The run's work; each progress point goes to the caller (the CLI's printer) and to the run's row. */
async function settleAndPay(pd: PayoutDeps, calendar: SettlementCalendar, options: RunOptions, record: SettlementRunRecord): Promise<RunSummary> {
  const ctx = pd.ctx;
  const report = (p: RunProgress) => {
    options.on_progress?.(p);
    record.note(p);
  };
  const summary = emptySummary(record.run_id, options.date);
  const fresh = new Set<string>();
  const total = await payeeCount(ctx.db);
  record.note({ phase: "settle", done: 0, total });
  let after: string | null = null;
  let exhausted = false;
  for (let page = 0; page < LEDGER_LIMITS.run_pages_max && !exhausted; page++) {
    const payees = await payeePage(ctx.db, after, LEDGER_LIMITS.run_page_groups_max);
    for (const payee of payees) {
      await settleGroup(pd, calendar, payee, options.date, summary, fresh);
      summary.groups += 1;
      report({ phase: "settle", done: summary.groups, total: Math.max(total, summary.groups) });
    }
    exhausted = payees.length < LEDGER_LIMITS.run_page_groups_max;
    after = payees.at(-1) ?? after;
  }
  assert(exhausted, "settlement run exceeded its page limit");
  if (options.execute) {
    // Every open settlement payout, not only this date's: a pending one from before is moved on too.
    summary.payouts = await executePayouts(pd, {
      fresh,
      on_progress: (done, total_open) => report({ phase: "payout", done, total: total_open }),
    });
  }
  return summary;
}
