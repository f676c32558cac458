/** Bounds of reconciliation (TigerBeetle's habit: every loop, batch and page has a maximum). */
export const RECONCILIATION_LIMITS = {
  /** File lines inserted per statement: big enough to amortise the round trip, small enough for flat memory (two batches held at once). */
  line_batch_max: 10_000,
  /** A day's file: at most this many lines (the benchmark's million, with room). */
  file_lines_max: 5_000_000,
  /** Status mismatches resolved automatically (each one a network query) per run. */
  auto_resolve_max: 1_000,
  /** Buffered platform-only records released per run. */
  buffer_release_max: 100_000,
  /** Exceptions written per run, beyond which the file is surely wrong: stop and alert. */
  exceptions_per_run_max: 100_000,
  list_limit_max: 100,
  note_chars_max: 500,
  /** CSV export: rows at most (one day of one channel). */
  csv_rows_max: 200_000,
  /** Scheduled runs look this many days back for files still missing. */
  schedule_lookback_days: 3,
  schedule_interval_ms: 60_000,
} as const;
