import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { poolStats } from "../db/index.ts";
import { OBSERVED, type DeliveryFact, type OutcomeFact, type PostingFact } from "../kernel/observe.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { HTTP_BUCKETS_S, METRICS_LIMITS, OUTCOME_BUCKETS_S } from "./limits.ts";
import { readBacklogs, type Backlogs } from "./queries.ts";
import { SeriesCounter, SeriesHistogram } from "./series.ts";

/**
 * Prometheus metrics of one paycore process (prom-client, a registry of its own).
 * Counters and histograms are fed by events: HTTP answers (the server's hook), payment and refund
 * outcomes, ledger postings and notification attempts (diagnostics channels the money path
 * publishes to). Backlogs, channel health and the database pool are read when Prometheus scrapes,
 * with bounded queries (METRICS_LIMITS), so the payment path pays nothing for them.
 */
export interface Metrics {
  readonly content_type: string;
  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void;
  /** The exposition text; reads the backlogs first. */
  render(): Promise<string>;
  close(): void;
}

export { METRICS_LIMITS } from "./limits.ts";

export function createMetrics(deps: PaymentDeps): Metrics {
  const registry = new Registry();
  // Process metrics, including nodejs_eventloop_lag_seconds (and its percentiles) and heap.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const events = eventMetrics(registry);
  const scraped = scrapeMetrics(registry);
  const routes = new Set<string>();
  const on_outcome = (m: unknown) => events.outcome(m as OutcomeFact);
  const on_posting = (m: unknown) => events.posting(m as PostingFact);
  const on_delivery = (m: unknown) => events.delivery(m as DeliveryFact);
  subscribe(OBSERVED.outcomes.name, on_outcome);
  subscribe(OBSERVED.postings.name, on_posting);
  subscribe(OBSERVED.deliveries.name, on_delivery);
  return {
    content_type: registry.contentType,
    observeRequest(method, route, status, seconds) {
      let label = route ?? "unmatched";
      if (!routes.has(label)) {
        if (routes.size >= METRICS_LIMITS.route_label_max) label = "unmatched";
        else routes.add(label);
      }
      events.http.observe({ method, route: label, status: String(status) }, seconds);
    },
    async render() {
      await scraped.refresh(deps);
      return registry.metrics();
    },
    close() {
      unsubscribe(OBSERVED.outcomes.name, on_outcome);
      unsubscribe(OBSERVED.postings.name, on_posting);
      unsubscribe(OBSERVED.deliveries.name, on_delivery);
      registry.clear();
    },
  };
}

/** Fed a few times a payment: kept per label set without prom-client's per-call label hashing (series.ts). */
function eventMetrics(registry: Registry) {
  const http = new SeriesHistogram({
    name: "paycore_http_request_duration_seconds",
    help: "HTTP answers by method, route pattern and status; _count is the request count",
    labelNames: ["method", "route", "status"],
    buckets: HTTP_BUCKETS_S,
    registry,
  });
  const outcomes = new SeriesCounter({
    name: "paycore_transactions_total",
    help: "Payments and refunds made final, by kind, network and outcome",
    labelNames: ["kind", "network", "outcome"],
    registry,
  });
  const outcome_latency = new SeriesHistogram({
    name: "paycore_outcome_latency_seconds",
    help: "From a payment's or refund's creation to its final outcome, by kind, network and outcome",
    labelNames: ["kind", "network", "outcome"],
    buckets: OUTCOME_BUCKETS_S,
    registry,
  });
  const postings = new SeriesCounter({ name: "paycore_ledger_entries_posted_total", help: "Journal entries posted, by event type", labelNames: ["event_type"], registry });
  const deliveries = new SeriesCounter({ name: "paycore_notify_attempts_total", help: "Notification delivery attempts, by result", labelNames: ["result"], registry });
  return {
    http,
    outcome(f: OutcomeFact) {
      const labels = { kind: f.kind, network: f.channel_id ?? "none", outcome: f.status };
      outcomes.inc(labels);
      outcome_latency.observe(labels, Math.max(0, f.final_at.getTime() - f.created_at.getTime()) / 1000);
    },
    posting: (f: PostingFact) => postings.inc({ event_type: f.event_type }),
    delivery: (f: DeliveryFact) => deliveries.inc({ result: f.result }),
  };
}

function scrapeMetrics(registers: Registry) {
  const r = [registers];
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: r });
  const processing = g("paycore_processing", `Payments and refunds not final yet (counted up to ${METRICS_LIMITS.backlog_count_max})`, ["kind"]);
  const due = g("paycore_sweeper_due", "Processing payments and refunds whose next network query is due now (sweeper backlog)", ["kind"]);
  const alerts = g("paycore_sweeper_alerts", "Processing payments and refunds past the whole query schedule (operators look)", ["kind"]);
  const oldest = g("paycore_processing_oldest_age_seconds", "Age of the oldest payment or refund still processing (0 when none)", ["kind"]);
  const outbox_pending = g("paycore_outbox_pending", "Notification deliveries not finished");
  const outbox_due = g("paycore_outbox_due", "Notification deliveries due now (notifier backlog)");
  const outbox_late = g("paycore_outbox_oldest_due_seconds", "How long the most overdue notification delivery has waited (0 when none)");
  const outbox_failed = g("paycore_outbox_events_failed", "Notification events whose delivery gave up");
  const unapplied = g("paycore_ledger_unapplied", `Ledger amounts not yet folded into their accounts' balances by the applier (counted up to ${METRICS_LIMITS.backlog_count_max})`);
  const healthy = g("paycore_channel_healthy", "1 when the network's recent calls are healthy enough for routing", ["channel"]);
  const enabled = g("paycore_channel_enabled", "1 when operators have the network enabled", ["channel"]);
  const calls = g("paycore_channel_recent_calls", "Calls to the network in the health window (5 min), by result", ["channel", "result"]);
  const pool = g("paycore_db_pool_connections", "PostgreSQL pool connections by state (PGlite has none)", ["state"]);
  const db_ok = g("paycore_metrics_db_ok", "1 when the last scrape could read the backlogs from the database");
  const setBacklogs = (b: Backlogs) => {
    for (const kind of ["payment", "refund"] as const) {
      processing.set({ kind }, b[kind].processing);
      due.set({ kind }, b[kind].due);
      alerts.set({ kind }, b[kind].alerts);
      oldest.set({ kind }, b[kind].oldest_age_s);
    }
    outbox_pending.set(b.outbox.pending);
    outbox_due.set(b.outbox.due);
    outbox_late.set(b.outbox.oldest_due_s);
    outbox_failed.set(b.outbox.failed_events);
    unapplied.set(b.ledger_unapplied);
  };
  return {
    async refresh(deps: PaymentDeps) {
      const stats = poolOf(deps);
      if (stats) for (const [state, n] of Object.entries(stats)) pool.set({ state }, n);
      try {
        setBacklogs(await withTimeout(readBacklogs(deps.ctx), METRICS_LIMITS.scrape_timeout_ms));
        for (const v of await withTimeout(deps.channels.views(), METRICS_LIMITS.scrape_timeout_ms)) {
          const s = deps.channels.health.stats(v.channel_id);
          healthy.set({ channel: v.channel_id }, v.healthy ? 1 : 0);
          enabled.set({ channel: v.channel_id }, v.enabled ? 1 : 0);
          calls.set({ channel: v.channel_id, result: "ok" }, s.calls - s.errors);
          calls.set({ channel: v.channel_id, result: "error" }, s.errors);
        }
        db_ok.set(1);
      } catch (err) {
        db_ok.set(0);
        deps.ctx.log.warn({ err: (err as Error).message }, "metrics: reading backlogs failed; gauges keep their last values");
      }
    },
  };
}

function poolOf(deps: PaymentDeps): Record<string, number> | null {
  const s = poolStats(deps.ctx.db);
  if (!s) return null;
  return { max: s.size_max, in_use: s.total - s.idle, idle: s.idle, waiting: s.waiting };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`metrics scrape took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
