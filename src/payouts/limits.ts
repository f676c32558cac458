/** Named maxima and timings of business payouts and deposits. */
export const PAYOUT_LIMITS = {
  /** 100,000,000.00 yuan: the largest payout the Open API takes (HVPS itself has no cap). */
  amount_fen_max: 10_000_000_000n,
  batch_lines_max: 1_000,
  /** The body limit of `POST /v1/payout-batches` (1,000 lines of a few hundred bytes; other routes keep the server's). */
  batch_body_bytes_max: 2 * 1024 * 1024,
  payee_name_chars_max: 60,
  purpose_chars_max: 140,
  /** Payouts (or deposits) the sweeper claims per pass. */
  sweep_batch_max: 100,
  /** A claimed item is the claimer's for this long; another process may take it after. */
  lease_ms: 30_000,
  /** First status query this long after a message is sent and not final. */
  query_after_ms: 2_000,
  /** Waits between status queries (the NetsUnion back-off), then every minute. */
  query_backoff_ms: [1_000, 2_000, 4_000, 8_000, 16_000, 32_000] as readonly number[],
  query_interval_max_ms: 60_000,
  /** Status queries of one message (about an hour) after which a payout still not final is flagged (alert). */
  alert_after_queries: 66,
  /** Once flagged, the sweeper keeps asking this often. */
  alert_query_interval_ms: 10 * 60_000,
  /** After a rail refuses (closed, over its cap), route again this much later. */
  requeue_after_ms: 60_000,
  /** An approved operator import is its runner's for this long (1,000 lines take well under it); then another process may take it again. */
  import_lease_ms: 10 * 60_000,
  /** Lines recorded for an import whose proposal was never recorded (the process died in between) are dropped after this. */
  import_unproposed_ms: 60 * 60_000,
  /** Consecutive transport failures that make a rail unhealthy, and how long it stays so. */
  unhealthy_after_failures: 3,
  unhealthy_for_ms: 60_000,
} as const;

export function queryDelayMs(attempt_count: number): number {
  if (attempt_count >= PAYOUT_LIMITS.alert_after_queries) return PAYOUT_LIMITS.alert_query_interval_ms;
  return PAYOUT_LIMITS.query_backoff_ms[attempt_count] ?? PAYOUT_LIMITS.query_interval_max_ms;
}
