/** Notifications: the transactional outbox and the webhook delivery worker (docs/notifications.md). */
export { enqueueEvent, eventArity, eventDataJson, eventWithin, eventWithinCtes, EVENT_TYPES, type EventInput, type EventType, type EventWithin } from "./outbox.ts";
export { startNotifier, type Notifier, type NotifierOptions } from "./notifier.ts";
export { NOTIFY_LIMITS, RETRY_SCHEDULE_MS, retryDelayMs } from "./limits.ts";
export { notificationBody, notificationStringToSign, type NotificationWire } from "./signing.ts";
export {
  getEvent,
  listEvents,
  redeliverEvent,
  eventDetailToWire,
  deliveryToWire,
  eventSummaryToWire,
  merchantEventToWire,
  type EventDetail,
  type EventQuery,
  type EventStatus,
} from "./events.ts";
export { checkNotifyUrl } from "./destination.ts";
