import { CapacityError, SANDBOX_LIMITS } from "./limits.ts";

/** Message ids seen within the freshness window; a second sighting is a replay. */
export class SeenMessages {
  private readonly seen = new Map<string, number>();

  /** False when the id was already seen (and is still within its window). */
  remember(id: string, now_ms: number): boolean {
    const expires = this.seen.get(id);
    if (expires !== undefined && expires > now_ms) return false;
    if (this.seen.size >= SANDBOX_LIMITS.seen_messages_max) this.prune(now_ms);
    if (this.seen.size >= SANDBOX_LIMITS.seen_messages_max) throw new CapacityError("seen message ids");
    this.seen.set(id, now_ms + 2 * SANDBOX_LIMITS.message_window_s * 1000);
    return true;
  }

  private prune(now_ms: number): void {
    for (const [id, expires] of this.seen) if (expires <= now_ms) this.seen.delete(id);
  }
}

/** Is `sent_at` within the window around `now`? */
export function isFresh(sent_at: Date, now: Date): boolean {
  return Math.abs(now.getTime() - sent_at.getTime()) <= SANDBOX_LIMITS.message_window_s * 1000;
}
