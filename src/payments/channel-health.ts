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

/**
 * One network's last `SAMPLES_MAX` outcomes in a ring, oldest first, with their running totals.
 * Routing asks for the stats on every payment and every call records one: scanning and shifting
 * an array of up to 200 sample objects on each was about 1 % of paycore's CPU (perf, 2026-12-03).
 */
class Samples {
  readonly at_ms = new Float64Array(SAMPLES_MAX);
  readonly error = new Uint8Array(SAMPLES_MAX);
  head = 0; // index of the oldest sample
  size = 0;
  errors = 0;
  /** Every sample's time is at or after the one before it (so the old ones are all at the head). */
  ordered = true;
  last_at_ms = -Infinity;
  last_error_at_ms = 0; // meaningful while errors > 0: the newest error is then still held

  push(at_ms: number, outcome: CallOutcome): void {
    if (at_ms < this.last_at_ms) this.ordered = false;
    this.last_at_ms = at_ms;
    let slot: number;
    if (this.size === SAMPLES_MAX) {
      slot = this.head; // the oldest goes
      this.errors -= this.error[slot]!;
      this.head = (this.head + 1) % SAMPLES_MAX;
    } else {
      slot = (this.head + this.size) % SAMPLES_MAX;
      this.size++;
    }
    this.at_ms[slot] = at_ms;
    this.error[slot] = outcome === "error" ? 1 : 0;
    if (outcome === "error") {
      this.errors++;
      this.last_error_at_ms = at_ms;
    }
  }

  /** Calls and errors among the samples at or after `since_ms`. */
  count(since_ms: number): { calls: number; errors: number } {
    let calls = this.size;
    let errors = this.errors;
    for (let i = 0; i < this.size; i++) {
      const slot = (this.head + i) % SAMPLES_MAX;
      if (this.at_ms[slot]! >= since_ms) {
        if (this.ordered) break; // the rest are newer
        continue;
      }
      calls--;
      errors -= this.error[slot]!;
    }
    return { calls, errors };
  }
}

export class ChannelHealth {
  private readonly samples = new Map<string, Samples>();

  constructor(private readonly now_ms: () => number = Date.now) {}

  record(channel_id: string, outcome: CallOutcome): void {
    if (outcome === "ok" && !this.stats(channel_id).healthy) this.samples.delete(channel_id); // recovered
    let samples = this.samples.get(channel_id);
    if (!samples) this.samples.set(channel_id, (samples = new Samples()));
    samples.push(this.now_ms(), outcome);
  }

  stats(channel_id: string): { calls: number; errors: number; healthy: boolean } {
    const samples = this.samples.get(channel_id);
    const { calls, errors } = samples ? samples.count(this.now_ms() - WINDOW_MS) : { calls: 0, errors: 0 };
    const healthy = calls < SAMPLES_MIN || errors / calls <= ERROR_RATE_MAX;
    return { calls, errors, healthy };
  }

  /**
   * Healthy, or unhealthy with no failed call for `PROBE_INTERVAL_MS` (half-open: calls go
   * through again, and each failure closes the door for another interval).
   */
  usable(channel_id: string): boolean {
    if (this.stats(channel_id).healthy) return true;
    const samples = this.samples.get(channel_id);
    return !samples || samples.errors === 0 || this.now_ms() - samples.last_error_at_ms >= PROBE_INTERVAL_MS;
  }

  reset(channel_id?: string): void {
    if (channel_id) this.samples.delete(channel_id);
    else this.samples.clear();
  }
}
