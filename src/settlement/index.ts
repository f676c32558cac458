/** Settlement: cycles, group settlement with separate books, payout instructions, statements. */
export { carriedForward, checkBooks, type BooksCheck, type SettlementProblem } from "./check.ts";
export { loadGroup, type GroupMember, type SettlementGroup } from "./members.ts";
export { executePayouts, type PayoutPass } from "./payouts.ts";
export {
  getSettlementHold,
  holdSettlement,
  listPayouts,
  listSettlements,
  payoutView,
  releaseSettlementHold,
  settlementViews,
  statementCsv,
  buildStatement,
  type Statement,
  type SettlementView,
} from "./queries.ts";
export { runSettlement, type RunOptions, type RunProgress, type RunSummary } from "./run.ts";
export { HOLD_RELEASE_KIND, PAYOUT_OVERRIDE_KIND, holdReleaseKind, payoutOverrideKind } from "./proposals.ts";
export { SETTLEMENT_RUN_STALE_MS, getSettlementRun, listSettlementRuns, type RunProgressPoint } from "./run-record.ts";
