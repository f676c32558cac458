import type { Ctx } from "../context.ts";
import { assert } from "../kernel/assert.ts";
import { allowListOf } from "../kernel/net-guard.ts";
import { publishDelivery } from "../kernel/observe.ts";
import { postNotification, type AttemptOutcome } from "./http.ts";
import { NOTIFY_LIMITS } from "./limits.ts";
import { notificationBody, notificationHeaders, newestUsableKey } from "./signing.ts";
import { claimDue, finishAttempt, type ClaimedDelivery, type FinishResult } from "./store.ts";

export interface NotifierOptions {
  /** Poll for due deliveries on a timer (default true). Tests pass false and call `runOnce`. */
  background?: boolean;
  poll_interval_ms?: number;
  /** Deliveries claimed per poll. */
  claim_batch?: number;
  /** Attempts in flight at once in this process, across merchants. */
  concurrency?: number;
  /** Attempts in flight at once per merchant ID, across processes. */
  per_merchant_concurrency?: number;
  /** Bound on one POST (connect, send, answer). */
  attempt_timeout_ms?: number;
  /** How long a claimed delivery is held before another worker may take it over; > the timeout. */
  lease_ms?: number;
}

export interface Notifier {
  /** Stops polling and waits for the attempts in flight (each bounded by the attempt timeout). */
  stop(): Promise<void>;
  /** Claims one batch of due deliveries, makes the attempts, and answers how many it made. */
  runOnce(): Promise<number>;
}

type Settings = Required<Omit<NotifierOptions, "background">>;

function settingsOf(o: NotifierOptions): Settings {
  const s: Settings = {
    poll_interval_ms: o.poll_interval_ms ?? NOTIFY_LIMITS.poll_interval_ms_default,
    claim_batch: o.claim_batch ?? NOTIFY_LIMITS.claim_batch_default,
    concurrency: o.concurrency ?? NOTIFY_LIMITS.concurrency_default,
    per_merchant_concurrency: o.per_merchant_concurrency ?? NOTIFY_LIMITS.per_merchant_concurrency_default,
    attempt_timeout_ms: o.attempt_timeout_ms ?? NOTIFY_LIMITS.attempt_timeout_ms_default,
    lease_ms: o.lease_ms ?? NOTIFY_LIMITS.lease_ms_default,
  };
  assert(s.poll_interval_ms >= 10, "poll_interval_ms must be at least 10");
  assert(s.claim_batch >= 1 && s.claim_batch <= NOTIFY_LIMITS.claim_batch_max, `claim_batch must be 1..${NOTIFY_LIMITS.claim_batch_max}`);
  assert(s.concurrency >= 1 && s.concurrency <= NOTIFY_LIMITS.concurrency_max, `concurrency must be 1..${NOTIFY_LIMITS.concurrency_max}`);
  assert(s.per_merchant_concurrency >= 1 && s.per_merchant_concurrency <= s.concurrency, "per_merchant_concurrency must be 1..concurrency");
  assert(s.attempt_timeout_ms >= 1 && s.attempt_timeout_ms <= NOTIFY_LIMITS.attempt_timeout_ms_max, `attempt_timeout_ms must be 1..${NOTIFY_LIMITS.attempt_timeout_ms_max}`);
  assert(s.lease_ms > s.attempt_timeout_ms, "lease_ms must be longer than attempt_timeout_ms");
  return s;
}

/**
 * The delivery worker. It claims due deliveries in bounded batches and POSTs each on its own,
 * never inside a database transaction: a slow or dead receiver holds one slot until its attempt
 * times out, never the database, the payment path, or another merchant's deliveries.
 */
export function startNotifier(ctx: Ctx, options: NotifierOptions = {}): Notifier {
  const s = settingsOf(options);
  const in_flight = new Set<Promise<void>>();
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let polling: Promise<unknown> = Promise.resolve();

  let launching: Promise<unknown> = Promise.resolve();
  /** Claims as many deliveries as there are free slots and starts them; one claim at a time. */
  const launch = (): Promise<Promise<void>[]> => {
    const next = launching.then(claimAndStart);
    launching = next.catch(() => undefined);
    return next;
  };
  const claimAndStart = async (): Promise<Promise<void>[]> => {
    const free = s.concurrency - in_flight.size;
    if (stopping || free <= 0) return [];
    const claimed = await claimDue(ctx, { batch_max: Math.min(s.claim_batch, free), per_merchant_max: s.per_merchant_concurrency, lease_ms: s.lease_ms });
    return claimed.map((d) => {
      const p = deliver(ctx, d, s.attempt_timeout_ms).finally(() => {
        in_flight.delete(p);
        refill();
      });
      in_flight.add(p);
      return p;
    });
  };

  // A finished attempt frees a slot: claim again now, not at the next poll. Otherwise one merchant
  // ID's backlog drains at `per_merchant_concurrency` events per poll interval per process (4/s),
  // whatever its receiver's speed, and a busy merchant's events fall ever further behind. Refills
  // are coalesced: at most one claim runs for them, and one more follows if slots freed meanwhile.
  let refill_state: "idle" | "running" | "again" = "idle";
  const refill = (): void => {
    if (!(options.background ?? true) || stopping) return;
    if (refill_state !== "idle") {
      refill_state = "again";
      return;
    }
    refill_state = "running";
    void launch()
      .catch((err: Error) => ctx.log.warn({ err: err.message }, "notifier: claiming deliveries failed; will poll again"))
      .finally(() => {
        const again = refill_state === "again";
        refill_state = "idle";
        if (again) refill();
      });
  };

  const poll = async () => {
    timer = null;
    if (stopping) return;
    polling = launch().catch((err: Error) => ctx.log.warn({ err: err.message }, "notifier: claiming deliveries failed; will poll again"));
    await polling;
    if (!stopping) timer = setTimeout(() => void poll(), s.poll_interval_ms);
  };
  if (options.background ?? true) timer = setTimeout(() => void poll(), 0);

  return {
    async runOnce() {
      const started = await launch();
      await Promise.all(started);
      return started.length;
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await polling;
      // A refill's claim may be running: its deliveries join in_flight before it resolves.
      await launching;
      await Promise.allSettled([...in_flight]);
    },
  };
}

/** One attempt: sign, POST, record. Never throws: a failure to record leaves the lease to expire. */
async function deliver(ctx: Ctx, d: ClaimedDelivery, timeout_ms: number): Promise<void> {
  try {
    const { outcome, duration_ms } = await attempt(ctx, d, timeout_ms);
    const next = await finishAttempt(ctx, d, outcome, duration_ms);
    publishDelivery({ result: outcome.result });
    logAttempt(ctx, d, outcome, duration_ms, next);
  } catch (err) {
    ctx.log.error({ event_id: d.event_id, delivery_id: d.delivery_id, err: (err as Error).message }, "notifier: recording an attempt failed; the lease will expire and it is retried");
  }
}

async function attempt(ctx: Ctx, d: ClaimedDelivery, timeout_ms: number): Promise<{ outcome: AttemptOutcome; duration_ms: number }> {
  const now = ctx.clock.now();
  const key = await newestUsableKey(ctx, d.merchant_id, now);
  if (!key) return { outcome: { result: "no_key", http_status: null, error: "the merchant ID has no usable API key to sign with" }, duration_ms: 0 };
  const body = notificationBody(d.event);
  return postNotification(d.url, body, notificationHeaders(key, d.event, body, now), timeout_ms, allowListOf(ctx.settings.webhook_allow_hosts));
}

/** One line per attempt: ids, outcome, duration. Never the URL's query, the body, or a header. */
function logAttempt(ctx: Ctx, d: ClaimedDelivery, outcome: AttemptOutcome, duration_ms: number, next: FinishResult): void {
  const line = {
    event_id: d.event_id,
    delivery_id: d.delivery_id,
    mch_id: d.merchant_id,
    type: d.event.type,
    attempt_no: d.attempt_no,
    result: outcome.result,
    http_status: outcome.http_status,
    error: outcome.error,
    duration_ms,
    receiver: originOf(d.url),
    next: next.state,
    ...(next.state === "retry" ? { next_attempt_at: next.next_attempt_at.toISOString() } : {}),
  };
  if (outcome.result === "acknowledged") ctx.log.info(line, "notification delivered");
  else ctx.log.warn(line, "notification attempt failed");
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(unparsable url)";
  }
}
