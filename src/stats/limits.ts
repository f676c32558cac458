/** Bounds of the overview statistics (GET /admin/v1/stats/overview). */
export const STATS_LIMITS = {
  /** The longest period one request may cover: a quarter and two days. */
  span_days_max: 93,
  /** The most buckets one answer holds: 31 days of hours (a longer period goes by day). */
  buckets_max: 744,
  /** Open alerts and exceptions are counted up to this many each (a count on a status index). */
  open_count_max: 100_000,
} as const;

export const BUCKET_SECONDS = { hour: 3_600, day: 86_400 } as const;
export type Bucket = keyof typeof BUCKET_SECONDS;
