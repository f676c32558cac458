import type { Rail } from "../kernel/cnaps/hours.ts";
import { PAYOUT_LIMITS } from "./limits.ts";

/**
 * Whether a rail answers: after a few consecutive calls without an answer it is unhealthy for a
 * while, and the router leaves it out. In memory, per process: health is about this process's
 * line to the rail.
 */
export class RailHealth {
  private readonly failures = new Map<Rail, number>();
  private readonly unhealthy_until = new Map<Rail, number>();

  record(rail: Rail, result: "ok" | "error", now_ms: number): void {
    if (result === "ok") {
      this.failures.delete(rail);
      this.unhealthy_until.delete(rail);
      return;
    }
    const count = (this.failures.get(rail) ?? 0) + 1;
    this.failures.set(rail, count);
    if (count >= PAYOUT_LIMITS.unhealthy_after_failures) this.unhealthy_until.set(rail, now_ms + PAYOUT_LIMITS.unhealthy_for_ms);
  }

  healthy(rail: Rail, now_ms: number): boolean {
    return (this.unhealthy_until.get(rail) ?? 0) <= now_ms;
  }
}
