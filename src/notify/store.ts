import { sql, type Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database, NotifyEventRow } from "../db/index.ts";
import { assert, assertNever } from "../kernel/assert.ts";
import type { AttemptOutcome } from "./http.ts";
import { NOTIFY_LIMITS, retryDelayMs } from "./limits.ts";

/** A delivery a worker holds until `lease_until`, with the attempt it is about to make. */
export interface ClaimedDelivery {
  delivery_id: string;
  event_id: string;
  merchant_id: string;
  url: string;
  attempt_no: number;
  started_at: Date;
  event: Pick<NotifyEventRow, "event_id" | "type" | "created_at" | "data">;
}

export interface ClaimLimits {
  batch_max: number;
  per_merchant_max: number;
  lease_ms: number;
}

const ABANDONED = "the worker holding this attempt stopped before it finished (lease expired); retried";

/**
 * Takes up to `batch_max` due deliveries, at most `per_merchant_max` in flight per merchant ID
 * (counting leases other workers hold), so one merchant's backlog or dead endpoint cannot take
 * every slot. `FOR UPDATE SKIP LOCKED` lets several paycore processes claim side by side on
 * PostgreSQL; the lease makes a crashed worker's deliveries due again.
 */
export async function claimDue(ctx: Pick<Ctx, "db" | "clock">, limits: ClaimLimits): Promise<ClaimedDelivery[]> {
  const now = ctx.clock.now();
  const lease_until = new Date(now.getTime() + limits.lease_ms);
  const claimed = await ctx.db.transaction().execute(async (trx) => {
    await failExhausted(trx, now);
    const ids = await selectDue(trx, now, limits);
    if (ids.length === 0) return [];
    const rows = await trx
      .updateTable("notify_deliveries")
      .set((eb) => ({ attempt_count: eb("attempt_count", "+", 1), lease_until, updated_at: now }))
      .where("delivery_id", "in", ids)
      .returning(["delivery_id", "event_id", "merchant_id", "url", "attempt_count"])
      .execute();
    assert(rows.length === ids.length, "every selected delivery is locked and updated");
    await trx.updateTable("notify_attempts").set({ result: "abandoned", error: ABANDONED }).where("delivery_id", "in", ids).where("result", "=", "in_flight").execute();
    await trx
      .insertInto("notify_attempts")
      .values(rows.map((r) => ({ delivery_id: r.delivery_id, attempt_no: r.attempt_count, event_id: r.event_id, result: "in_flight" as const, http_status: null, error: null, started_at: now, duration_ms: null })))
      .execute();
    return rows;
  });
  if (claimed.length === 0) return [];
  const events = await ctx.db.selectFrom("notify_events").select(["event_id", "type", "created_at", "data"]).where("event_id", "in", claimed.map((r) => r.event_id)).execute();
  const by_id = new Map(events.map((e) => [e.event_id, e]));
  return claimed.map((r) => {
    const event = by_id.get(r.event_id);
    assert(event, `delivery ${r.delivery_id} has its event`);
    assert(r.attempt_count <= NOTIFY_LIMITS.attempts_per_delivery_max, `delivery ${r.delivery_id} claimed beyond its attempts`);
    return { delivery_id: r.delivery_id, event_id: r.event_id, merchant_id: r.merchant_id, url: r.url, attempt_no: r.attempt_count, started_at: now, event };
  });
}

async function selectDue(trx: Kysely<Database>, now: Date, limits: ClaimLimits): Promise<string[]> {
  const result = await sql<{ delivery_id: string }>`
    WITH busy AS (
      SELECT merchant_id, count(*) AS n FROM notify_deliveries
      WHERE status = 'pending' AND lease_until > ${now}
      GROUP BY merchant_id
    ), due AS (
      SELECT delivery_id, merchant_id,
             row_number() OVER (PARTITION BY merchant_id ORDER BY next_attempt_at, delivery_id) AS rank
      FROM notify_deliveries
      WHERE status = 'pending' AND next_attempt_at <= ${now}
        AND (lease_until IS NULL OR lease_until <= ${now})
        AND attempt_count < ${NOTIFY_LIMITS.attempts_per_delivery_max}
    )
    SELECT d.delivery_id FROM notify_deliveries d
    JOIN due ON due.delivery_id = d.delivery_id
    LEFT JOIN busy ON busy.merchant_id = due.merchant_id
    WHERE due.rank + coalesce(busy.n, 0) <= ${limits.per_merchant_max}
      AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until <= ${now})
    ORDER BY d.next_attempt_at, d.delivery_id
    LIMIT ${limits.batch_max}
    FOR UPDATE OF d SKIP LOCKED`.execute(trx);
  return result.rows.map((r) => r.delivery_id);
}

/** A worker that died during the last attempt leaves nothing to retry: the delivery has failed. */
async function failExhausted(trx: Kysely<Database>, now: Date): Promise<void> {
  const failed = await trx
    .updateTable("notify_deliveries")
    .set({ status: "failed", finished_at: now, lease_until: null, updated_at: now })
    .where("status", "=", "pending")
    .where("attempt_count", ">=", NOTIFY_LIMITS.attempts_per_delivery_max)
    .where("lease_until", "<=", now)
    .returning(["delivery_id", "event_id"])
    .execute();
  if (failed.length === 0) return;
  const ids = failed.map((f) => f.delivery_id);
  await trx.updateTable("notify_attempts").set({ result: "abandoned", error: ABANDONED }).where("delivery_id", "in", ids).where("result", "=", "in_flight").execute();
  await trx.updateTable("notify_events").set({ status: "failed", updated_at: now }).where("event_id", "in", failed.map((f) => f.event_id)).execute();
}

export type FinishResult = { state: "delivered" } | { state: "retry"; next_attempt_at: Date } | { state: "failed" } | { state: "lease_lost" };

/**
 * Records how an attempt ended and what comes next, in one transaction. The update is fenced
 * by the attempt number: a worker whose lease another worker took over changes nothing but its
 * own log line.
 */
export async function finishAttempt(ctx: Pick<Ctx, "db" | "clock">, d: ClaimedDelivery, outcome: AttemptOutcome, duration_ms: number): Promise<FinishResult> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable("notify_attempts")
      .set({ result: outcome.result, http_status: outcome.http_status, error: outcome.error, duration_ms })
      .where("delivery_id", "=", d.delivery_id)
      .where("attempt_no", "=", d.attempt_no)
      .execute();
    const next = nextStep(outcome, d.attempt_no, now);
    const updated = await trx
      .updateTable("notify_deliveries")
      .set(
        next.state === "retry"
          ? { next_attempt_at: next.next_attempt_at, lease_until: null, updated_at: now }
          : { status: next.state === "delivered" ? "succeeded" : "failed", finished_at: now, lease_until: null, updated_at: now },
      )
      .where("delivery_id", "=", d.delivery_id)
      .where("status", "=", "pending")
      .where("attempt_count", "=", d.attempt_no)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return { state: "lease_lost" } as const;
    if (next.state === "delivered") await trx.updateTable("notify_events").set({ status: "delivered", delivered_at: now, updated_at: now }).where("event_id", "=", d.event_id).execute();
    if (next.state === "failed") await trx.updateTable("notify_events").set({ status: "failed", updated_at: now }).where("event_id", "=", d.event_id).execute();
    return next;
  });
}

function nextStep(outcome: AttemptOutcome, attempt_no: number, now: Date): Exclude<FinishResult, { state: "lease_lost" }> {
  switch (outcome.result) {
    case "acknowledged":
      return { state: "delivered" };
    // An internal destination stays internal: trying again would only knock on it again.
    case "refused":
      return { state: "failed" };
    case "http_error":
    case "timeout":
    case "network_error":
    case "no_key": {
      const delay_ms = retryDelayMs(attempt_no);
      return delay_ms === null ? { state: "failed" } : { state: "retry", next_attempt_at: new Date(now.getTime() + delay_ms) };
    }
    default:
      return assertNever(outcome, "attempt outcome");
  }
}
