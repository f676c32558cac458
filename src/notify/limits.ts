import { assert } from "../kernel/assert.ts";

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Waits before each retry: the n-th entry is the wait after the n-th failed attempt. The first
 * attempt goes out at once, so a delivery makes `RETRY_SCHEDULE_MS.length + 1` attempts over
 * about 30 hours before it is `failed` (docs/notifications.md: "for at least 24 hours").
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  15 * SECOND_MS,
  1 * MINUTE_MS,
  5 * MINUTE_MS,
  15 * MINUTE_MS,
  30 * MINUTE_MS,
  1 * HOUR_MS,
  2 * HOUR_MS,
  4 * HOUR_MS,
  6 * HOUR_MS,
  8 * HOUR_MS,
  8 * HOUR_MS,
];

export const NOTIFY_LIMITS = {
  attempts_per_delivery_max: RETRY_SCHEDULE_MS.length + 1,
  retry_span_ms_min: 24 * HOUR_MS,
  /** The serialized `data` of one event. */
  event_data_bytes_max: 16 * 1024,
  dedupe_key_chars_max: 128,
  /** Manual redeliveries of one event (each is a delivery with its own schedule). */
  deliveries_per_event_max: 20,
  /** Attempt errors are kept this short in the log. */
  attempt_error_chars_max: 300,
  /** Defaults of the worker (options may lower or raise them within the maxima below). */
  claim_batch_default: 32,
  claim_batch_max: 500,
  concurrency_default: 32,
  concurrency_max: 1_000,
  per_merchant_concurrency_default: 4,
  attempt_timeout_ms_default: 10_000,
  attempt_timeout_ms_max: 60_000,
  poll_interval_ms_default: 1_000,
  /** A claimed delivery not finished by then is taken over by another worker (crash safety). */
  lease_ms_default: 60_000,
} as const;

const span_ms = RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
assert(span_ms >= NOTIFY_LIMITS.retry_span_ms_min, `retry schedule spans ${span_ms} ms, less than 24 h`);
assert(RETRY_SCHEDULE_MS.every((ms, i) => i === 0 || ms >= RETRY_SCHEDULE_MS[i - 1]!), "retry schedule must not shrink");

/** The wait after failed attempt number `attempt_no` (1-based), or null when none is left. */
export function retryDelayMs(attempt_no: number): number | null {
  assert(Number.isInteger(attempt_no) && attempt_no >= 1, `attempt_no ${attempt_no} must be a positive integer`);
  return RETRY_SCHEDULE_MS[attempt_no - 1] ?? null;
}
