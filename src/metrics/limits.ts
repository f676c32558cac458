/** Bounds on what one scrape may cost the database and how many series metrics may grow to. */
export const METRICS_LIMITS = {
  /** Backlog counts stop at this many rows: past it the gauge reads the cap ("at least"). */
  backlog_count_max: 10_000,
  /** A scrape's queries give up after this long; the gauges keep their last values. */
  scrape_timeout_ms: 5_000,
  /** Distinct route labels kept; a path outside the route table counts as "unmatched". */
  route_label_max: 300,
} as const;

/** Seconds. HTTP answers: most under 100 ms; channel outcomes: seconds to minutes (the sweeper). */
export const HTTP_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const OUTCOME_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];
