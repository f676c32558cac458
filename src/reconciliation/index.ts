/**
 * Reconciliation: each channel's statement file for a day against paycore's records, an exception
 * queue for operators, the network's settlement booked when it arrives. docs/reconciliation.md.
 */
export { listAlerts, raiseAlert, type AlertKind } from "./alerts.ts";
export { RECONCILIATION_LIMITS } from "./limits.ts";
export { networkDayWindow } from "./platform-only.ts";
export {
  RESULT_NAMES,
  exceptionToWire,
  getReconciliation,
  listExceptions,
  listReconciliations,
  reconciliationViews,
  reportCsv,
  type Counts,
  type ExceptionFilter,
  type ReconciliationView,
} from "./queries.ts";
export { runReconciliation, type RunOptions, type RunPhase, type RunProgress } from "./run.ts";
export { DEFAULT_RECONCILIATION_SETTINGS, RECONCILED_CHANNELS, listSettings, loadSettings, updateSettings, type ReconciliationSettings } from "./settings.ts";
export { sandboxSettlementSource, settleDay, type NetworkSettlementSource } from "./settle.ts";
export { fetchStatementFile, type StatementFile } from "./source.ts";
export { fileDueAt, fileLateAt } from "./schedule-times.ts";
export { dueDays, runScheduledOnce, startReconciliationSchedule, type ScheduledOutcome } from "./schedule.ts";
export { resolveException, truthDelta, writeOffProposalKind, WRITE_OFF_KIND, type ExceptionAction, type ResolveRequest } from "./resolve.ts";
