/**
 * Risk: pre-payment and signing rules as data, blocklists kept as keyed fingerprints, the
 * decisions they take (stored with the payment, explained), alerts, and merchant monitoring.
 */
export { screenPayment, screenSigning, type PaymentScreening, type SigningScreening } from "./screen.ts";
export { rebuildCounters, releaseFailedPayment, sweepOldCounters } from "./counters.ts";
export { countersOnly, intentRiskWrites, namedWrites, RiskScopesMoved, type IntentRisk } from "./intent-writes.ts";
export * from "./rules.ts";
export * from "./blocklist.ts";
export * from "./decisions.ts";
export { RISK_LIMITS } from "./limits.ts";
export type * from "./rows.ts";
export {
  MONITOR_ACTOR,
  MerchantAction,
  MerchantScoreOut,
  SettingsPatch,
  actOnMerchant,
  getMerchantScore,
  getMonitorSettings,
  listMerchantScores,
  patchMonitorSettings,
  runMonitor,
  scoreToWire,
  type MonitorProgress,
} from "./monitor/run.ts";
export { startMonitorSchedule } from "./monitor/schedule.ts";
export { SIGNALS, CATEGORY_TICKET_FEN, scoreMerchant, type MerchantFeatures, type Signal } from "./monitor/signals.ts";
