import { PaycoreError } from "../kernel/errors.ts";

/**
 * Token bucket per merchant ID, in memory: `per_minute` requests a minute on average, bursts up to
 * the same number. The map is bounded; the least recently seen buckets go first.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at_ms: number }>();
  private static readonly BUCKETS_MAX = 100_000;

  constructor(private readonly per_minute: number) {}

  take(key: string, now_ms: number): boolean {
    const capacity = this.per_minute;
    const refill_per_ms = this.per_minute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: capacity, at_ms: now_ms };
    this.buckets.delete(key);
    bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now_ms - bucket.at_ms) * refill_per_ms);
    bucket.at_ms = now_ms;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > RateLimiter.BUCKETS_MAX) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return allowed;
  }

  /** Whole seconds until `key` has a token again (for Retry-After), at least 1. */
  retryAfterS(key: string, now_ms: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 1;
    const tokens = Math.min(this.per_minute, bucket.tokens + Math.max(0, now_ms - bucket.at_ms) * (this.per_minute / 60_000));
    return Math.max(1, Math.ceil(((1 - tokens) * 60_000) / this.per_minute / 1000));
  }
}

/** The 429 for a merchant ID over its rate; the edge sends `retry_after_s` as Retry-After. */
export class RateLimitedError extends PaycoreError {
  constructor(readonly retry_after_s: number) {
    super("rate_limited", "too many requests for this merchant ID; slow down");
  }
}
