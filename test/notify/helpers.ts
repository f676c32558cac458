import type { TestApp } from "../support/app.ts";
import { enqueueEvent, type EventInput } from "../../src/notify/index.ts";

/** What a producer (payments, refunds, …) does: enqueue inside its own transaction. */
export async function enqueue(app: TestApp, input: Omit<EventInput, "at"> & { at?: Date }): Promise<string> {
  const { event_id } = await app.ctx.db.transaction().execute((trx) => enqueueEvent(trx, { at: app.ctx.clock.now(), ...input }));
  return event_id;
}

export const paymentData = (n: number) => ({ payment_id: `pay_test_${n}`, out_trade_no: `order-${n}`, amount: 10000n + BigInt(n), currency: "CNY", status: "succeeded" });

export interface AttemptWire {
  attempt_no: number;
  result: string;
  http_status: number | null;
  error: string | null;
}
export interface DeliveryWire {
  delivery_id: string;
  origin: string;
  status: string;
  attempt_count: number;
  next_attempt_at: string | null;
  attempts: AttemptWire[];
}
export interface EventWire {
  event_id: string;
  status: string;
  data: Record<string, unknown>;
  deliveries: DeliveryWire[];
}

export async function adminEvent(app: TestApp, event_id: string): Promise<EventWire> {
  const res = await app.admin("GET", `/admin/v1/events/${event_id}`);
  if (res.status !== 200) throw new Error(`GET event ${event_id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as EventWire;
}
