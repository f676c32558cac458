/**
 * The double-entry ledger: what other modules may use. Payments and refunds call the posting
 * functions inside the database transaction of their own state change.
 */
export {
  ACCOUNT_KINDS,
  FEE_INCOME,
  RESERVE_FUNDS,
  PAYOUTS_IN_TRANSIT,
  DEPOSITS_UNAPPLIED,
  railSettlement,
  SETTLEMENT_IN_TRANSIT,
  accountCode,
  balanceOf,
  merchantAvailable,
  merchantPending,
  networkCost,
  networkReceivable,
  normalSide,
  reconciliationLoss,
  reconciliationSuspense,
  type AccountRef,
  type AccountType,
  type Side,
} from "./accounts.ts";
export {
  addDays,
  beijingTime,
  businessDate,
  businessDateAt,
  businessDateIn,
  businessDayClosesAt,
  CUTOFF_EPOCH,
  cutoffFor,
  dayClosesAt,
  isIsoDate,
  isWorkingDay,
  lastMaturedBusinessDate,
  loadCalendar,
  loadCutoffHistory,
  maturityDate,
  updateCalendar,
  type CalendarChange,
  type CutoffHistory,
  type CutoffStep,
  type SettlementCalendar,
} from "./business-day.ts";
export { applyLedgerBalances, lockMerchantAvailable, startLedgerApplier, type LedgerApplier } from "./applier.ts";
export { checkLedger, pendingItemsProblems, type LedgerCheck, type LedgerProblem } from "./check.ts";
export {
  DEFAULT_REFUND_FEE_POLICY,
  PLATFORM_SCOPE,
  computePaymentFee,
  refundFeePolicy,
  refundFeeReturned,
  setRefundFeePolicy,
  type PaymentFee,
  type Product,
  type RefundFeePolicy,
} from "./fees.ts";
export {
  buildEntry,
  entryArity,
  entryWithinCtes,
  isGuarded,
  postEntries,
  postEntry,
  type EntryExtras,
  type EntryShape,
  type EntryToPost,
  type EntrySpec,
  type EntryWithin,
  type LineSpec,
  type PostedEntry,
} from "./journal.ts";
export { LEDGER_LIMITS } from "./limits.ts";
export {
  postNetworkSettled,
  paymentSucceededWithin,
  postPaymentSucceeded,
  postPaymentsSucceeded,
  postRefundSucceeded,
  type NetworkSettled,
  type PaymentSucceeded,
  type PostedRefund,
  type RefundSucceeded,
} from "./postings.ts";
export {
  accountView,
  listAccounts,
  marginReport,
  merchantBalance,
  searchJournal,
  trialBalance,
  type AccountView,
  type MarginRow,
  type MerchantBalance,
  type TrialBalance,
} from "./queries.ts";
export { postReconciliationAdjustment, type ReconciliationAdjustment } from "./reconciliation-postings.ts";
export { postSettlementMatured, type PayoutMember } from "./settlement-postings.ts";
export {
  postDepositCredited,
  postDepositReceived,
  postDepositReturned,
  postPayoutReleased,
  postPayoutReserved,
  postPayoutReturned,
  postPayoutSettled,
  reserveAvailable,
  type DepositPosting,
  type PayoutPosting,
} from "./payout-postings.ts";
