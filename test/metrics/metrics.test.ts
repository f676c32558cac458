import { readFileSync } from "node:fs";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyLedgerBalances } from "../../src/ledger/index.ts";
import type { PaycoreClient } from "../../src/client/index.ts";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";

type Json = Record<string, unknown>;

/** The value of one series in a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe("GET /metrics", () => {
  const clock = new ManualClock("2026-05-06T02:00:00Z");
  let app: TestApp;
  let shop: PaycoreClient;
  let agreement_id = "";
  let auditor_token = "";
  let network = "";

  beforeAll(async () => {
    app = await startTestApp({ label: "metrics", clock, sandbox: true, channel_timeout_ms: 1_500 });
    const m = await createTestMerchant(app);
    shop = app.merchantClient(m.creds);
    agreement_id = await signCard(app, shop, pickCard(await catalogue(app), { unified: true }), "sign-metrics");
    const auditor = await app.admin("POST", "/admin/v1/operators", { name: "prometheus", role: "auditor" });
    auditor_token = auditor.body.token as string;
  });
  afterAll(async () => app?.close());

  async function scrape(token = auditor_token): Promise<{ status: number; type: string; text: string }> {
    const res = await fetch(`${app.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
  }

  it("needs an operator token: none is 401, an auditor's reads the text format", async () => {
    expect((await scrape("")).status).toBe(401);
    expect((await scrape("not-a-real-operator-token")).status).toBe(401);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.type).toContain("text/plain");
    expect(ok.text).toContain("# TYPE paycore_http_request_duration_seconds histogram");
    expect(sample(ok.text, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    expect(sample(ok.text, "paycore_metrics_db_ok")).toBe(1);
  });

  it("counts a payment and a refund by network and outcome, with latency, postings and requests by route", async () => {
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "m-1", agreement_id, amount: 12_345, currency: "CNY", description: "metrics" });
    expect(paid.status, paid.text).toBe(201);
    expect(paid.body.status).toBe("succeeded");
    network = paid.body.channel as string;
    const refund = await shop.post<Json>(`/v1/payments/${paid.body.payment_id as string}/refunds`, { out_refund_no: "mr-1", amount: 345, reason: "metrics" });
    expect(refund.status, refund.text).toBe(201);
    expect(refund.body.status).toBe("succeeded");

    const text = (await scrape()).text;
    expect(sample(text, "paycore_transactions_total", { kind: "payment", network, outcome: "succeeded" })).toBe(1);
    expect(sample(text, "paycore_transactions_total", { kind: "refund", network, outcome: "succeeded" })).toBe(1);
    expect(sample(text, "paycore_outcome_latency_seconds_count", { kind: "payment", network, outcome: "succeeded" })).toBe(1);
    expect(sample(text, "paycore_ledger_entries_posted_total", { event_type: "payment_succeeded" })).toBe(1);
    expect(sample(text, "paycore_ledger_entries_posted_total", { event_type: "refund_succeeded" })).toBe(1);
    // Route patterns, never raw paths: the refund is counted under its template.
    expect(sample(text, "paycore_http_request_duration_seconds_count", { method: "POST", route: "/v1/payments", status: "201" })).toBe(1);
    expect(sample(text, "paycore_http_request_duration_seconds_count", { method: "POST", route: "/v1/payments/:payment_id/refunds", status: "201" })).toBe(1);
    expect(text).not.toContain(paid.body.payment_id as string);
    expect(sample(text, "paycore_channel_healthy", { channel: network })).toBe(1);
    expect(sample(text, "paycore_channel_enabled", { channel: network })).toBe(1);
    expect(sample(text, "paycore_channel_recent_calls", { channel: network, result: "ok" })).toBeGreaterThanOrEqual(2);
  });

  it("shows the sweeper's backlog and the oldest processing age, and the outcome once the sweeper finishes it", async () => {
    // The answer is lost and the network's own notification goes nowhere: only the sweeper can tell.
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: "http://127.0.0.1:9/callbacks/channels" });
    await app.sandbox!.send("POST", "/sandbox/v1/faults", { channel: network, operation: "pay", kind: "timeout", rate: 1, seed: 3 });
    const paid = await shop.post<Json>("/v1/payments", { out_trade_no: "m-2", agreement_id, amount: 500, currency: "CNY", description: "metrics backlog" });
    await app.sandbox!.send("DELETE", "/sandbox/v1/faults");
    await app.sandbox!.send("PUT", "/sandbox/v1/config", { paycore_callback_url: `${app.url}/callbacks/channels` });
    expect(paid.body.status).toBe("processing");
    clock.advance(90_000);

    const during = (await scrape()).text;
    expect(sample(during, "paycore_processing", { kind: "payment" })).toBe(1);
    expect(sample(during, "paycore_sweeper_due", { kind: "payment" })).toBe(1);
    expect(sample(during, "paycore_processing_oldest_age_seconds", { kind: "payment" })).toBe(90);
    expect(sample(during, "paycore_processing", { kind: "refund" })).toBe(0);

    await app.sweep();
    const after = (await scrape()).text;
    expect(sample(after, "paycore_processing", { kind: "payment" })).toBe(0);
    expect(sample(after, "paycore_processing_oldest_age_seconds", { kind: "payment" })).toBe(0);
    const final = await shop.get<Json>(`/v1/payments/${paid.body.payment_id as string}`);
    const outcome = final.body.status as string;
    expect(["succeeded", "failed"]).toContain(outcome);
    const net = final.body.channel as string;
    const total = sample(after, "paycore_transactions_total", { kind: "payment", network: net, outcome });
    expect(total).toBe(outcome === "succeeded" ? 2 : 1);
    expect(sample(after, "paycore_outcome_latency_seconds_bucket", { kind: "payment", network: net, outcome, le: "60" })).toBe(outcome === "succeeded" ? 1 : 0);
  });

  it("shows the notification outbox backlog", async () => {
    const text = (await scrape()).text;
    // The test merchant has no notify URL: events end as no_url and nothing is pending.
    expect(sample(text, "paycore_outbox_pending")).toBe(0);
    expect(sample(text, "paycore_outbox_due")).toBe(0);
    expect(sample(text, "paycore_outbox_events_failed")).toBe(0);
  });

  it("shows the ledger amounts the applier has not folded yet, and none once it has", async () => {
    // The test app runs no background applier: the payments above left their amounts unapplied.
    const waiting = Number((await sql<{ n: bigint }>`SELECT count(*) AS n FROM ledger_unapplied`.execute(app.ctx.db)).rows[0]!.n);
    expect(waiting).toBeGreaterThan(0);
    expect(sample((await scrape()).text, "paycore_ledger_unapplied")).toBe(waiting);
    while (((await applyLedgerBalances(app.ctx.db)) ?? 0) > 0);
    expect(sample((await scrape()).text, "paycore_ledger_unapplied")).toBe(0);
  });

  it("serves every series the sample Grafana dashboard queries", async () => {
    const dashboard = JSON.parse(readFileSync(new URL("../../docs/grafana-dashboard.json", import.meta.url), "utf8")) as { panels: { targets: { expr: string }[] }[] };
    const names = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b((?:paycore|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1]!))));
    expect(names.size).toBeGreaterThan(10);
    const text = (await scrape()).text;
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) => (m[2] === "histogram" ? [`${m[1]}_bucket`, `${m[1]}_count`, `${m[1]}_sum`] : [m[1]!])));
    const missing = [...names].filter((n) => !exposed.has(n));
    expect(missing).toEqual([]);
  });
});
