import type { Clock } from "../kernel/clock.ts";
import type { Logger } from "../kernel/log.ts";
import type { Agreement, TxnRecord } from "./engine.ts";
import { deliveryError, postToPaycore } from "./http-client.ts";
import { SANDBOX_LIMITS } from "./limits.ts";
import type { NetworkId } from "./model.ts";
import type { StateTable } from "./persistence.ts";

/** Something a network tells paycore on its own initiative. */
export type NotifyEvent =
  | { type: "txn_result"; notification_id: string; network: NetworkId; record: TxnRecord }
  | { type: "agreement_unbound"; notification_id: string; network: NetworkId; agreement: Agreement };

/** Encodes an event for one delivery attempt: each attempt is a fresh, freshly signed message. */
export type NotificationEncoder = (event: NotifyEvent, now: Date) => { content_type: string; body: string };

export interface DeliveryLog {
  notification_id: string;
  network: NetworkId;
  type: NotifyEvent["type"];
  attempts: number;
  status: "delivered" | "retrying" | "gave_up" | "no_callback_url";
  last_error: string | null;
}

const RETRY_DELAYS_MS = [1_000, 5_000, 25_000, 125_000];
const DELIVERY_LOG_MAX = 500;

/**
 * POSTs network notifications to `<callback_url>/<channel_id>`, retrying a failed delivery on a
 * growing schedule. Retries use real timers (they are about real sockets), cancelled on close.
 */
export class Notifier {
  callback_url: string | null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log_entries: DeliveryLog[] = [];
  private pending = 0;
  private counter = 0;
  private closed = false;

  constructor(
    callback_url: string | null,
    private readonly encoders: Record<NetworkId, NotificationEncoder>,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Keeps the id counter across restarts: paycore deduplicates on notification ids. */
    private readonly counters: StateTable<number> | null = null,
  ) {
    this.callback_url = callback_url;
    this.counter = counters?.get("notification_id") ?? 0;
  }

  nextId(network: NetworkId): string {
    this.counter += 1;
    this.counters?.set("notification_id", this.counter);
    return `NTF${network === "netsunion" ? "N" : "U"}${String(this.counter).padStart(12, "0")}`;
  }

  /** Queues the event; `copies` = 2 for a duplicate_notify fault (same notification id twice). */
  send(event: NotifyEvent, copies: 1 | 2): void {
    for (let i = 0; i < copies; i++) {
      const entry: DeliveryLog = { notification_id: event.notification_id, network: event.network, type: event.type, attempts: 0, status: "retrying", last_error: null };
      this.remember(entry);
      if (!this.callback_url) {
        entry.status = "no_callback_url";
        continue;
      }
      if (this.pending >= SANDBOX_LIMITS.notify_queue_max) {
        // Never fail the operation that caused the notification: it is already applied.
        entry.status = "gave_up";
        entry.last_error = "notification queue full";
        this.log.warn({ notification_id: entry.notification_id }, "notification dropped: queue full");
        continue;
      }
      this.pending += 1;
      void this.attempt(event, entry);
    }
  }

  deliveries(): DeliveryLog[] {
    return this.log_entries.map((e) => ({ ...e }));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async attempt(event: NotifyEvent, entry: DeliveryLog): Promise<void> {
    const base = this.callback_url;
    if (this.closed || !base) return this.finish(entry, "gave_up");
    entry.attempts += 1;
    const message = this.encoders[event.network](event, this.clock.now());
    this.counters?.flush(); // the notification reports changes: their journal lines are written first
    const posted = await postToPaycore(`${base.replace(/\/+$/, "")}/${event.network}`, message.content_type, message.body, SANDBOX_LIMITS.notify_timeout_ms);
    entry.last_error = deliveryError(posted);
    if (entry.last_error === null) return this.finish(entry, "delivered");
    const delay = RETRY_DELAYS_MS[entry.attempts - 1];
    if (delay === undefined || entry.attempts >= SANDBOX_LIMITS.notify_attempts_max || this.closed) return this.finish(entry, "gave_up");
    this.log.warn({ notification_id: entry.notification_id, attempts: entry.attempts, error: entry.last_error }, "notification delivery failed; will retry");
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(event, entry);
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  private finish(entry: DeliveryLog, status: DeliveryLog["status"]): void {
    entry.status = status;
    this.pending -= 1;
  }

  private remember(entry: DeliveryLog): void {
    this.log_entries.push(entry);
    if (this.log_entries.length > DELIVERY_LOG_MAX) this.log_entries.shift();
  }
}
