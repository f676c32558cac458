import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChannelHealth, type CallOutcome } from "./channel-health.ts";

/** The counting as it was before the ring (an array of sample objects, filtered on each question). */
class ArrayHealth {
  private readonly samples = new Map<string, { at_ms: number; outcome: CallOutcome }[]>();
  constructor(private readonly now_ms: () => number) {}
  record(channel_id: string, outcome: CallOutcome): void {
    if (outcome === "ok" && !this.stats(channel_id).healthy) this.samples.delete(channel_id);
    const list = this.samples.get(channel_id) ?? [];
    list.push({ at_ms: this.now_ms(), outcome });
    if (list.length > 200) list.splice(0, list.length - 200);
    this.samples.set(channel_id, list);
  }
  stats(channel_id: string): { calls: number; errors: number; healthy: boolean } {
    const since = this.now_ms() - 5 * 60_000;
    const recent = (this.samples.get(channel_id) ?? []).filter((s) => s.at_ms >= since);
    const calls = recent.length;
    const errors = recent.filter((s) => s.outcome === "error").length;
    return { calls, errors, healthy: calls < 5 || errors / calls <= 0.5 };
  }
  usable(channel_id: string): boolean {
    if (this.stats(channel_id).healthy) return true;
    const last_error = (this.samples.get(channel_id) ?? []).findLast((s) => s.outcome === "error");
    return !last_error || this.now_ms() - last_error.at_ms >= 5_000;
  }
  reset(channel_id?: string): void {
    if (channel_id) this.samples.delete(channel_id);
    else this.samples.clear();
  }
}

type Step =
  | { kind: "record"; channel: string; outcome: CallOutcome }
  | { kind: "advance"; ms: number }
  | { kind: "reset"; channel: string | null };

const channel = fc.constantFrom("netsunion", "unionpay");
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant("record" as const), channel, outcome: fc.constantFrom<CallOutcome>("ok", "ok", "error") }) },
  // Mostly small steps; now and then past the probe interval or the window; the clock also steps back.
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.constantFrom(5_000, 61_000, 300_000, 301_000), fc.integer({ min: -400_000, max: -1 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const), channel: fc.option(channel, { nil: null }) }) },
);

describe("channel health in a ring", () => {
  it("answers what the array of samples answered, step by step", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 700 }), (steps) => {
        let now = 1_780_000_000_000;
        const ring = new ChannelHealth(() => now);
        const array = new ArrayHealth(() => now);
        for (const s of steps) {
          if (s.kind === "record") {
            ring.record(s.channel, s.outcome);
            array.record(s.channel, s.outcome);
          } else if (s.kind === "advance") now += s.ms;
          else {
            ring.reset(s.channel ?? undefined);
            array.reset(s.channel ?? undefined);
          }
          for (const c of ["netsunion", "unionpay"]) {
            expect(ring.stats(c)).toEqual(array.stats(c));
            expect(ring.usable(c)).toBe(array.usable(c));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps the last 200 calls and forgets those older than the window", () => {
    let now = 0;
    const health = new ChannelHealth(() => now);
    for (let i = 0; i < 250; i++) health.record("netsunion", i % 4 === 0 ? "error" : "ok");
    expect(health.stats("netsunion")).toEqual({ calls: 200, errors: 50, healthy: true });
    now += 5 * 60_000 + 1;
    expect(health.stats("netsunion")).toEqual({ calls: 0, errors: 0, healthy: true });
  });
});
