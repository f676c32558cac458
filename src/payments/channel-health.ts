/**
 * Health of each network as paycore sees it: the outcomes of its recent calls. A network whose
 * recent calls mostly time out or fail at the transport level is unhealthy and routing avoids it
 * until it recovers. In memory, per process; bounded.
 */
export type CallOutcome = "ok" | "error";

const WINDOW_MS = 5 * 60_000;
const SAMPLES_MAX = 200;
const SAMPLES_MIN = 5;
const ERROR_RATE_MAX = 0.5;

export class ChannelHealth {
  private readonly samples = new Map<string, { at_ms: number; outcome: CallOutcome }[]>();

  constructor(private readonly now_ms: () => number = Date.now) {}

  record(channel_id: string, outcome: CallOutcome): void {
    const list = this.samples.get(channel_id) ?? [];
    list.push({ at_ms: this.now_ms(), outcome });
    if (list.length > SAMPLES_MAX) list.splice(0, list.length - SAMPLES_MAX);
    this.samples.set(channel_id, list);
  }

  stats(channel_id: string): { calls: number; errors: number; healthy: boolean } {
    const since = this.now_ms() - WINDOW_MS;
    const recent = (this.samples.get(channel_id) ?? []).filter((s) => s.at_ms >= since);
    const errors = recent.filter((s) => s.outcome === "error").length;
    const healthy = recent.length < SAMPLES_MIN || errors / recent.length <= ERROR_RATE_MAX;
    return { calls: recent.length, errors, healthy };
  }

  reset(channel_id?: string): void {
    if (channel_id) this.samples.delete(channel_id);
    else this.samples.clear();
  }
}
