/**
 * Health of each network as paycore sees it: the outcomes of its recent calls. A network whose
 * recent calls mostly time out or fail at the transport level is unhealthy and routing avoids it
 * until it recovers. In memory, per process; bounded.
 *
 * Recovery is a circuit breaker's: while a network is unhealthy, routing may send it calls again
 * once `PROBE_INTERVAL_MS` passed without a failure (half-open), and the first call that gets
 * through — a probe, or the sweeper's status query — closes the circuit by forgetting the errors. Without that, a
 * network that was away for a minute would be avoided for the whole window after it came back,
 * and with every network unhealthy no call would ever tell paycore so.
 */
export type CallOutcome = "ok" | "error";

const WINDOW_MS = 5 * 60_000;
const SAMPLES_MAX = 200;
const SAMPLES_MIN = 5;
const ERROR_RATE_MAX = 0.5;
const PROBE_INTERVAL_MS = 5_000;

export class ChannelHealth {
  private readonly samples = new Map<string, { at_ms: number; outcome: CallOutcome }[]>();

  constructor(private readonly now_ms: () => number = Date.now) {}

  record(channel_id: string, outcome: CallOutcome): void {
    if (outcome === "ok" && !this.stats(channel_id).healthy) this.samples.delete(channel_id); // recovered
    const list = this.samples.get(channel_id) ?? [];
    list.push({ at_ms: this.now_ms(), outcome });
    if (list.length > SAMPLES_MAX) list.splice(0, list.length - SAMPLES_MAX);
    this.samples.set(channel_id, list);
  }

  stats(channel_id: string): { calls: number; errors: number; healthy: boolean } {
    // Counted in place: routing asks on every payment, and two filtered copies of up to
    // SAMPLES_MAX samples were about 5 KB of garbage per payment.
    const since = this.now_ms() - WINDOW_MS;
    let calls = 0;
    let errors = 0;
    for (const s of this.samples.get(channel_id) ?? []) {
      if (s.at_ms < since) continue;
      calls++;
      if (s.outcome === "error") errors++;
    }
    const healthy = calls < SAMPLES_MIN || errors / calls <= ERROR_RATE_MAX;
    return { calls, errors, healthy };
  }

  /**
   * Healthy, or unhealthy with no failed call for `PROBE_INTERVAL_MS` (half-open: calls go
   * through again, and each failure closes the door for another interval).
   */
  usable(channel_id: string): boolean {
    if (this.stats(channel_id).healthy) return true;
    const last_error = (this.samples.get(channel_id) ?? []).findLast((s) => s.outcome === "error");
    return !last_error || this.now_ms() - last_error.at_ms >= PROBE_INTERVAL_MS;
  }

  reset(channel_id?: string): void {
    if (channel_id) this.samples.delete(channel_id);
    else this.samples.clear();
  }
}
