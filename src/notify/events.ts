import { toPage } from "../db/paging.ts";
import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database, NotifyAttemptRow, NotifyDeliveryRow, NotifyEventRow } from "../db/index.ts";
import { PaycoreError, notFound } from "../kernel/errors.ts";
import { loadMerchant } from "../merchants/index.ts";
import { recordAudit } from "../operators/index.ts";
import { NOTIFY_LIMITS } from "./limits.ts";
import { insertDelivery, type EventType } from "./outbox.ts";

export type EventStatus = NotifyEventRow["status"];

export interface EventQuery {
  merchant_id?: string | undefined;
  type?: EventType | undefined;
  status?: EventStatus | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** Newest first; the cursor is the last event id of the previous page. */
export async function listEvents(db: Kysely<Database>, q: EventQuery) {
  let query = db.selectFrom("notify_events").selectAll().orderBy("event_id", "desc").limit(q.limit + 1);
  if (q.merchant_id) query = query.where("merchant_id", "=", q.merchant_id);
  if (q.type) query = query.where("type", "=", q.type);
  if (q.status) query = query.where("status", "=", q.status);
  if (q.cursor) query = query.where("event_id", "<", q.cursor);
  const page = toPage(await query.execute(), q.limit, (r) => r.event_id);
  return { data: page.data.map(eventSummaryToWire), next_cursor: page.next_cursor };
}

export interface EventDetail {
  event: NotifyEventRow;
  deliveries: { delivery: NotifyDeliveryRow; attempts: NotifyAttemptRow[] }[];
}

/** An event with every delivery and attempt (bounded: deliveries per event × attempts per delivery). */
export async function getEvent(db: Kysely<Database>, event_id: string, merchant_id?: string): Promise<EventDetail> {
  let q = db.selectFrom("notify_events").selectAll().where("event_id", "=", event_id);
  if (merchant_id !== undefined) q = q.where("merchant_id", "=", merchant_id);
  const event = await q.executeTakeFirst();
  if (!event) throw notFound("event");
  const deliveries = await db.selectFrom("notify_deliveries").selectAll().where("event_id", "=", event_id).orderBy("delivery_id").limit(NOTIFY_LIMITS.deliveries_per_event_max + 1).execute();
  const attempts = await db.selectFrom("notify_attempts").selectAll().where("event_id", "=", event_id).orderBy("delivery_id").orderBy("attempt_no").execute();
  return {
    event,
    deliveries: deliveries.map((delivery) => ({ delivery, attempts: attempts.filter((a) => a.delivery_id === delivery.delivery_id) })),
  };
}

export interface Actor {
  operator_id: string;
  request_id: string;
}

/**
 * Schedules an immediate delivery. A delivery still under way is brought forward; otherwise a new
 * one starts with the full retry schedule, to the event's own URL or else the merchant ID's
 * current default (so a fixed URL takes effect). Audited in the same transaction.
 */
export async function redeliverEvent(ctx: Ctx, event_id: string, actor: Actor): Promise<{ delivery: NotifyDeliveryRow; created: boolean }> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const event = await trx.selectFrom("notify_events").selectAll().where("event_id", "=", event_id).forUpdate().executeTakeFirst();
    if (!event) throw notFound("event");
    const pending = await trx.selectFrom("notify_deliveries").selectAll().where("event_id", "=", event_id).where("status", "=", "pending").executeTakeFirst();
    let delivery: NotifyDeliveryRow;
    if (pending) {
      delivery = await trx.updateTable("notify_deliveries").set({ next_attempt_at: now, updated_at: now }).where("delivery_id", "=", pending.delivery_id).returningAll().executeTakeFirstOrThrow();
    } else {
      delivery = await newDelivery(trx, event, now);
      await trx.updateTable("notify_events").set({ status: "pending", updated_at: now }).where("event_id", "=", event_id).execute();
    }
    await recordAudit(
      trx,
      { ...actor, action: "event.redeliver", target_type: "event", target_id: event_id, before: { status: event.status }, after: { status: "pending", delivery_id: delivery.delivery_id, new_delivery: !pending } },
      now,
    );
    return { delivery, created: !pending };
  });
}

async function newDelivery(trx: Kysely<Database>, event: NotifyEventRow, now: Date): Promise<NotifyDeliveryRow> {
  const count = await trx.selectFrom("notify_deliveries").select((eb) => eb.fn.countAll<bigint>().as("n")).where("event_id", "=", event.event_id).executeTakeFirstOrThrow();
  if (Number(count.n) >= NOTIFY_LIMITS.deliveries_per_event_max) {
    throw new PaycoreError("invalid_request", `an event is delivered at most ${NOTIFY_LIMITS.deliveries_per_event_max} times; this one has reached it`);
  }
  const url = event.notify_url ?? (await loadMerchant(trx, event.merchant_id)).row.notify_url;
  if (!url) throw new PaycoreError("invalid_request", "nowhere to deliver: the event names no notify_url and the merchant ID has none; set one with PATCH /admin/v1/merchants/{id}");
  const delivery_id = await insertDelivery(trx, { event_id: event.event_id, merchant_id: event.merchant_id, url, origin: "redeliver", at: now });
  return trx.selectFrom("notify_deliveries").selectAll().where("delivery_id", "=", delivery_id).executeTakeFirstOrThrow();
}

// ---- wire shapes (separate from the rows) ----

export function eventSummaryToWire(e: NotifyEventRow) {
  return {
    event_id: e.event_id,
    merchant_id: e.merchant_id,
    type: e.type,
    status: e.status,
    created_at: e.created_at.toISOString(),
    delivered_at: e.delivered_at?.toISOString() ?? null,
  };
}

export function deliveryToWire(d: NotifyDeliveryRow) {
  return {
    delivery_id: d.delivery_id,
    url: d.url,
    origin: d.origin,
    status: d.status,
    attempt_count: d.attempt_count,
    attempt_count_max: NOTIFY_LIMITS.attempts_per_delivery_max,
    next_attempt_at: d.status === "pending" ? d.next_attempt_at.toISOString() : null,
    created_at: d.created_at.toISOString(),
    finished_at: d.finished_at?.toISOString() ?? null,
  };
}

export function attemptToWire(a: NotifyAttemptRow) {
  return {
    attempt_no: a.attempt_no,
    started_at: a.started_at.toISOString(),
    result: a.result,
    http_status: a.http_status,
    error: a.error,
    duration_ms: a.duration_ms,
  };
}

export function eventDetailToWire(d: EventDetail) {
  return {
    ...eventSummaryToWire(d.event),
    notify_url: d.event.notify_url,
    data: d.event.data,
    deliveries: d.deliveries.map((x) => ({ ...deliveryToWire(x.delivery), attempts: x.attempts.map(attemptToWire) })),
  };
}

/** What a merchant sees of its own event: the notification itself and how delivering it went. */
export function merchantEventToWire(d: EventDetail) {
  const attempts = d.deliveries.flatMap((x) => x.attempts);
  const last = attempts.at(-1);
  const pending = d.deliveries.find((x) => x.delivery.status === "pending");
  return {
    id: d.event.event_id,
    type: d.event.type,
    created_at: d.event.created_at.toISOString(),
    data: d.event.data,
    status: d.event.status,
    delivered_at: d.event.delivered_at?.toISOString() ?? null,
    attempt_count: attempts.length,
    last_attempt: last ? attemptToWire(last) : null,
    next_attempt_at: pending ? pending.delivery.next_attempt_at.toISOString() : null,
  };
}
