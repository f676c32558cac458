import type { Registry } from "prom-client";
import { assert } from "../kernel/assert.ts";

/**
 * Counters and histograms fed on the payment path (a few calls a payment), kept per label set in
 * records found by their label values, and laid out in prom-client's form only when Prometheus
 * scrapes. prom-client's own `observe`/`inc` build a key string from the labels, check every
 * label name and look the key up on every call (0.5–1.2 % of paycore's CPU in the payments
 * benchmark; its labelled children do the same per call). The exposition text is prom-client's:
 * its registry formats what `get()` answers, as it does for its own metrics.
 * Label sets are bounded by whoever feeds them (route patterns, networks, outcomes).
 */
interface Series {
  readonly labels: Readonly<Record<string, string>>;
  value: number;
  count: number;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly buckets: number[];
}

interface MetricValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

abstract class LabelledSeries<L extends string> {
  readonly aggregator = "sum";
  private readonly root = new Map<string, unknown>();
  protected readonly all: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label_names: readonly L[],
    private readonly bucket_slots: number,
    registry: Registry,
  ) {
    assert(label_names.length >= 1, "a labelled series has at least one label");
    registry.registerMetric(this as never);
  }

  /** The record of one label set: one map lookup a label, no key string. */
  protected series(labels: Readonly<Record<L, string>>): Series {
    let level = this.root;
    const last = this.label_names.length - 1;
    for (let i = 0; i < last; i++) {
      const value = labels[this.label_names[i]!];
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (!next) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = labels[this.label_names[last]!];
    let found = level.get(value) as Series | undefined;
    if (!found) {
      const own: Record<string, string> = {};
      for (const name of this.label_names) own[name] = labels[name];
      found = { labels: own, value: 0, count: 0, buckets: new Array<number>(this.bucket_slots).fill(0) };
      level.set(value, found);
      this.all.push(found);
    }
    return found;
  }

  reset(): void {
    this.root.clear();
    this.all.length = 0;
  }
}

export class SeriesCounter<L extends string> extends LabelledSeries<L> {
  readonly type = "counter";

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registry: Registry }) {
    super(config.name, config.help, config.labelNames, 0, config.registry);
  }

  inc(labels: Readonly<Record<L, string>>): void {
    this.series(labels).value += 1;
  }

  get() {
    const values: MetricValue[] = this.all.map((s) => ({ labels: { ...s.labels }, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class SeriesHistogram<L extends string> extends LabelledSeries<L> {
  readonly type = "histogram";
  private readonly bounds: readonly number[];

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registry: Registry }) {
    super(config.name, config.help, config.labelNames, config.buckets.length + 1, config.registry);
    for (let i = 1; i < config.buckets.length; i++) assert(config.buckets[i - 1]! < config.buckets[i]!, "histogram bounds ascend");
    this.bounds = [...config.buckets];
  }

  observe(labels: Readonly<Record<L, string>>, value: number): void {
    assert(Number.isFinite(value), `a histogram observes a finite number, not ${value}`);
    const s = this.series(labels);
    let slot = 0;
    while (slot < this.bounds.length && value > this.bounds[slot]!) slot++;
    s.buckets[slot]! += 1;
    s.value += value;
    s.count += 1;
  }

  /** prom-client's histogram layout for the text format: cumulative buckets with `le` first, +Inf, _sum, _count. */
  getForPromString() {
    const values: MetricValue[] = [];
    for (const s of this.all) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.value, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same with each value's labels whole (prom-client's `get()`, for the JSON form). */
  get() {
    const text_form = this.getForPromString();
    const values = text_form.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return { ...text_form, values };
  }
}
