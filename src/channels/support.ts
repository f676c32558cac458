import { assert } from "../kernel/assert.ts";
import type { Clock } from "../kernel/clock.ts";
import { AMOUNT_FEN_MAX } from "../kernel/money.ts";
import type { Failed, FailureReason, Pending, PendingCause, VerifiedElements } from "./types.ts";
import { randomHexText } from "../kernel/random.ts";

/** Limits of the adapters' side of the wire. */
export const CHANNEL_LIMITS = {
  response_bytes_max: 64 * 1024,
  message_window_s: 300,
  replay_ids_max: 100_000,
  timeout_ms_default: 10_000,
  timeout_ms_max: 120_000,
  /** Connections kept to one network, and idle ones among them (src/channels/http.ts). */
  sockets_per_origin_max: 64,
  idle_sockets_per_origin_max: 16,
  /**
   * An idle connection to a network is closed after this: below the networks' keep-alive timeout
   * (the sandbox's 72 s, Node's default 5 s), so the network never closes one under a new request.
   */
  idle_socket_ms: 4_000,
  txn_id_pattern: /^[A-Za-z0-9_-]{1,32}$/,
} as const;

export const pending = (cause: PendingCause, message: string, network_code: string | null = null): Pending => ({ status: "pending", cause, network_code, message });
export const failed = (reason: FailureReason, network_code: string, message: string): Failed => ({ status: "failed", reason, network_code, message });

export function assertTxnId(value: string, what: string): void {
  assert(CHANNEL_LIMITS.txn_id_pattern.test(value), `${what} must be 1-32 letters, digits, _ or -`);
}

export function assertAmount(amount_fen: bigint): void {
  assert(amount_fen >= 1n && amount_fen <= AMOUNT_FEN_MAX, "amount must be between 1 fen and the wire maximum");
}

/** A 6-character bitmap name|id|card|phone|cvn2|expiry, as the networks answer it. */
export function decodeVerified(bitmap: string): VerifiedElements {
  const bit = (i: number) => bitmap[i] === "1";
  return { name: bit(0), id_number: bit(1), card_number: bit(2), phone: bit(3), cvn2: bit(4), expiry: bit(5) };
}

/** Beijing time helpers (UTC+8, no daylight saving), for the networks' timestamps. */
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

export function beijingIsoLocal(at: Date): string {
  return new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19);
}

export function beijingCompact(at: Date): string {
  return beijingIsoLocal(at).replace(/[-:T]/g, "");
}

export function parseBeijing(text: string): Date | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T?(\d{2}):?(\d{2}):?(\d{2})$/.exec(text);
  if (!m) return null;
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) - BEIJING_OFFSET_MS);
  return beijingCompact(at) === text.replace(/[-:T]/g, "") ? at : null;
}

export function isFresh(sent_at: Date, clock: Clock): boolean {
  return Math.abs(clock.now().getTime() - sent_at.getTime()) <= CHANNEL_LIMITS.message_window_s * 1000;
}

/**
 * Message ids of notifications already accepted, for the freshness window. In memory: it stops a
 * captured notification from being replayed to this process; paycore's callback handling also
 * deduplicates by notification id in the database.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  /** False when `id` was already accepted within the window. */
  accept(id: string): boolean {
    const now_ms = this.clock.now().getTime();
    const expires = this.seen.get(id);
    if (expires !== undefined && expires > now_ms) return false;
    if (this.seen.size >= CHANNEL_LIMITS.replay_ids_max) {
      for (const [key, until] of this.seen) if (until <= now_ms) this.seen.delete(key);
      // Still full: forget the oldest. Messages that old are refused as stale anyway.
      while (this.seen.size >= CHANNEL_LIMITS.replay_ids_max) this.seen.delete(this.seen.keys().next().value!);
    }
    this.seen.set(id, now_ms + 2 * CHANNEL_LIMITS.message_window_s * 1000);
    return true;
  }
}

export function randomHex(bytes: number): string {
  return randomHexText(bytes);
}
