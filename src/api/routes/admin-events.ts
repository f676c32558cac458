import { z } from "zod";
import type { Ctx } from "../../context.ts";
import { EVENT_TYPES, deliveryToWire, eventDetailToWire, getEvent, listEvents, merchantEventToWire, redeliverEvent } from "../../notify/index.ts";
import { adminRoute, merchantRoute, type RouteDef } from "../route.ts";
import { PageQuery, listOf } from "./common.ts";

const EventType = z.enum(EVENT_TYPES);
const EventStatus = z.enum(["pending", "delivered", "failed", "no_url"]);
const EventIdParam = z.strictObject({ event_id: z.string().min(1).max(64) });

const AttemptOut = z.object({
  attempt_no: z.number().int(),
  started_at: z.string(),
  result: z.enum(["in_flight", "acknowledged", "http_error", "timeout", "network_error", "no_key", "abandoned", "refused"]),
  http_status: z.number().int().nullable(),
  error: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
});
const DeliveryOut = z.object({
  delivery_id: z.string(),
  url: z.string(),
  origin: z.enum(["initial", "redeliver"]),
  status: z.enum(["pending", "succeeded", "failed"]),
  attempt_count: z.number().int(),
  attempt_count_max: z.number().int(),
  next_attempt_at: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
});
const EventSummaryOut = z.object({
  event_id: z.string(),
  merchant_id: z.string(),
  type: EventType,
  status: EventStatus,
  created_at: z.string(),
  delivered_at: z.string().nullable(),
});
const EventDetailOut = EventSummaryOut.extend({
  notify_url: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  deliveries: z.array(DeliveryOut.extend({ attempts: z.array(AttemptOut) })),
});
const MerchantEventOut = z.object({
  id: z.string(),
  type: EventType,
  created_at: z.string(),
  data: z.record(z.string(), z.unknown()),
  status: EventStatus,
  delivered_at: z.string().nullable(),
  attempt_count: z.number().int(),
  last_attempt: AttemptOut.nullable(),
  next_attempt_at: z.string().nullable(),
});

/** Notifications: the operator's view and redelivery, and a merchant's view of its own events. */
export function adminEventRoutes(ctx: Ctx): RouteDef[] {
  return [
    adminRoute({
      method: "GET",
      url: "/admin/v1/events",
      summary: "List notification events, newest first (filter by merchant_id, type, status)",
      tags: ["Admin: notifications"],
      query: z.strictObject({ ...PageQuery, merchant_id: z.string().min(1).max(64).optional(), type: EventType.optional(), status: EventStatus.optional() }),
      response: listOf(EventSummaryOut),
      handler: async (i) => ({ body: await listEvents(ctx.db, i.query) }),
    }),
    adminRoute({
      method: "GET",
      url: "/admin/v1/events/:event_id",
      summary: "Get a notification event with its deliveries and the log of every attempt",
      tags: ["Admin: notifications"],
      params: EventIdParam,
      response: EventDetailOut,
      handler: async (i) => ({ body: eventDetailToWire(await getEvent(ctx.db, i.params.event_id)) }),
    }),
    adminRoute({
      method: "POST",
      url: "/admin/v1/events/:event_id/redeliver",
      summary: "Deliver an event again now (same event id); a delivery still under way is brought forward",
      description: "Answers 201 with a new delivery (full retry schedule, to the event's notify_url or the merchant ID's current default), or 200 with the delivery that was already under way.",
      tags: ["Admin: notifications"],
      params: EventIdParam,
      body: z.strictObject({}).optional(),
      response: DeliveryOut.extend({ event_id: z.string() }),
      success_status: 201,
      handler: async (i) => {
        const { delivery, created } = await redeliverEvent(ctx, i.params.event_id, { operator_id: i.operator.operator_id, request_id: i.request_id });
        return { status: created ? 201 : 200, body: { event_id: delivery.event_id, ...deliveryToWire(delivery) } };
      },
    }),
    merchantRoute({
      method: "GET",
      url: "/v1/events/:event_id",
      summary: "Get one of your notification events and how delivering it went",
      tags: ["Notifications"],
      params: EventIdParam,
      response: MerchantEventOut,
      handler: async (i) => ({ body: merchantEventToWire(await getEvent(ctx.db, i.params.event_id, i.merchant.merchant_id)) }),
    }),
  ];
}
