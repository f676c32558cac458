import { randomBase64urlText } from "../kernel/random.ts";
import type { Ctx } from "../context.ts";
import { unixSeconds } from "../kernel/clock.ts";
import { hmacSha256Base64 } from "../kernel/crypto/index.ts";
import { listKeys, usableKeySecret } from "../merchants/index.ts";
import type { EventType } from "./outbox.ts";

/** The JSON a merchant receives (docs/notifications.md). */
export interface NotificationWire {
  id: string;
  type: EventType;
  created_at: string;
  data: unknown;
}

export function notificationBody(event: { event_id: string; type: EventType; created_at: Date; data: unknown }): string {
  const wire: NotificationWire = { id: event.event_id, type: event.type, created_at: event.created_at.toISOString(), data: event.data };
  return JSON.stringify(wire);
}

/**
 * The layout paycore signs its answers with (docs/merchant-api.md,
 * `responseStringToSign` at the API edge): a merchant verifies a notification exactly like an
 * answer. Kept here, not imported, because the API edge depends on this module and not back;
 * a test checks both agree.
 */
export function notificationStringToSign(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export interface SigningKey {
  key_id: string;
  secret: string;
}

/** The merchant ID's newest usable API key (ids sort by creation time), or null when it has none. */
export async function newestUsableKey(ctx: Pick<Ctx, "db" | "box" | "clock">, merchant_id: string, now: Date): Promise<SigningKey | null> {
  const keys = await listKeys({ db: ctx.db, clock: ctx.clock }, merchant_id);
  const newest = keys.find((k) => k.status === "active");
  if (!newest) return null;
  const secret = await usableKeySecret(ctx, merchant_id, newest.key_id, now);
  return secret ? { key_id: newest.key_id, secret } : null;
}

/** The headers of one attempt: a fresh nonce and timestamp each time, the same event id always. */
export function notificationHeaders(key: SigningKey, event: { event_id: string; type: EventType }, body: string, now: Date): Record<string, string> {
  const timestamp = String(unixSeconds(now));
  const nonce = randomBase64urlText(12);
  return {
    "content-type": "application/json; charset=utf-8",
    "user-agent": "paycore-notify/1",
    "paycore-timestamp": timestamp,
    "paycore-nonce": nonce,
    "paycore-signature": hmacSha256Base64(key.secret, notificationStringToSign(timestamp, nonce, body)),
    "paycore-key-id": key.key_id,
    "paycore-event-id": event.event_id,
    "paycore-event-type": event.type,
  };
}
