/**
 * Retries: only when paycore did not answer (network error, timeout) or answered 5xx. A 4xx is an
 * answer about the request itself and is never retried. POSTs carry the same Idempotency-Key on
 * every try, so a retried payment is the same payment.
 */
export interface RetryPolicy {
  /** Tries in all, the first included (1 = no retry). */
  attempts_max: number;
  /** First wait; doubles each retry, with full jitter. */
  base_delay_ms: number;
  max_delay_ms: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts_max: 4, base_delay_ms: 200, max_delay_ms: 5_000 };
export const RETRY_ATTEMPTS_MAX = 10;

/** The wait before try number `attempt + 1` (attempt counts from 1): full jitter, capped. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
  if (!Number.isInteger(policy.attempts_max) || policy.attempts_max < 1 || policy.attempts_max > RETRY_ATTEMPTS_MAX) {
    throw new RangeError(`retry.attempts_max must be 1..${RETRY_ATTEMPTS_MAX}`);
  }
  if (!(policy.base_delay_ms >= 0) || !(policy.max_delay_ms >= policy.base_delay_ms)) throw new RangeError("retry delays must satisfy 0 <= base_delay_ms <= max_delay_ms");
  return policy;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
