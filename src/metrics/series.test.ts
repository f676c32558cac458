import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { SeriesCounter, SeriesHistogram } from "./series.ts";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const NAMES = ["method", "route", "status"] as const;

const observation = fc.record({
  method: fc.constantFrom("GET", "POST"),
  route: fc.constantFrom("/v1/payments", "/v1/payments/:payment_id", "unmatched", 'a "quoted"\\ \n route'),
  status: fc.constantFrom("200", "201", "400", "500"),
  // Bounds exactly, between them, below zero and above the last.
  value: fc.oneof(fc.constantFrom(...BUCKETS, 0, -1, 11, 1e9), fc.double({ min: -1, max: 20, noNaN: true })),
  counted: fc.constantFrom("payment_succeeded", "refund_succeeded", "payout"),
});

function withoutExemplars<T>(metrics: T): T {
  return JSON.parse(JSON.stringify(metrics, (key, value: unknown) => (key === "exemplar" ? undefined : value))) as T;
}

describe("metrics series", () => {
  it("expose exactly what prom-client's own Histogram and Counter expose for the same calls", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (calls) => {
        const theirs = new Registry();
        const ours = new Registry();
        const h1 = new Histogram({ name: "t_seconds", help: "h", labelNames: [...NAMES], buckets: BUCKETS, registers: [theirs] });
        const c1 = new Counter({ name: "t_total", help: "c", labelNames: ["event_type"], registers: [theirs] });
        const h2 = new SeriesHistogram({ name: "t_seconds", help: "h", labelNames: NAMES, buckets: BUCKETS, registry: ours });
        const c2 = new SeriesCounter({ name: "t_total", help: "c", labelNames: ["event_type"], registry: ours });
        for (const { value, counted, ...labels } of calls) {
          h1.observe(labels, value);
          h2.observe(labels, value);
          c1.inc({ event_type: counted });
          c2.inc({ event_type: counted });
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
        // The JSON form too, but for prom-client's exemplar slots (paycore keeps none).
        expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars(await theirs.getMetricsAsJSON()));
      }),
      { numRuns: 300, seed: 10 },
    );
  });

  it("refuses a value that is not a finite number, as prom-client does", () => {
    const h = new SeriesHistogram({ name: "t_seconds", help: "h", labelNames: NAMES, buckets: BUCKETS, registry: new Registry() });
    expect(() => h.observe({ method: "GET", route: "/", status: "200" }, Number.NaN)).toThrow();
    expect(() => h.observe({ method: "GET", route: "/", status: "200" }, Number.POSITIVE_INFINITY)).toThrow();
  });
});
