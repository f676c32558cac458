/** Named maxima of the risk module. */
export const RISK_LIMITS = {
  /** The longest sliding window a rule may count over (31 days). */
  window_seconds_max: 31 * 86_400,
  /** Enabled rules of one subject that may apply to one payment: bounds the work per payment. */
  rules_per_payment_max: 50,
  /** Merchant IDs whose applicable rules a process keeps per configuration version (src/risk/rules.ts). */
  applicable_sets_max: 10_000,
  /** Rules in total (enabled or not). */
  rules_max: 500,
  max_count_max: 1_000_000,
  /**
   * How long counter buckets are kept (33 days): longer than the longest window (31 days) a rule
   * may count, so no window ever reads a deleted bucket; older ones are swept.
   */
  counter_keep_seconds: 33 * 86_400,
  /** Rows each merchant-ID counter bucket is split into (concurrent payments spread over them). */
  counter_stripes: 4,
  rule_name_chars_max: 128,
  reason_chars_max: 500,
  /** Merchant IDs the monitor scores per run. */
  monitor_merchants_max: 10_000,
  /** Cards given their phone fingerprint per statement when the monitor fills the ones stored before it existed. */
  fingerprint_fill_batch: 1_000,
  /** Below this many payments in the window a merchant ID is not scored (too little to judge). */
  monitor_min_payments: 20,
  /** The hourly monitor run. */
  monitor_interval_ms: 3_600_000,
} as const;
