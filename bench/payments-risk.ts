/**
 * What risk rules add to a payment in the payments bench (issue 13): `BENCH_RISK_RULES=20 npm run
 * bench -- payments` installs the first N rules of bench/risk-rules.ts for the bench's merchant ID
 * (none rejects the bench's traffic; enforce, review and shadow mixed as in bench/risk.ts; the
 * main timed load then runs under them), and after that load runs the same traffic in phases with
 * the rules disabled and enabled in turn (0, N, N, 0, 0, N, …: BENCH_RISK_PHASES phases of
 * BENCH_RISK_PHASE_SECONDS each), so that the machine's load weighs on both variants alike.
 * It prints, per variant: payments, p50 / p99 latency, CPU per payment of paycore and of
 * PostgreSQL (the run queue does not stretch CPU as it stretches latency), and the mean time of
 * `risk_payment_judge` in the server per call (`pg_stat_user_functions`; the private cluster runs
 * with track_functions = pl; it includes waits for the scope locks). BENCH_RISK_CLIENTS="1,2,4"
 * repeats the phases for each client count (default: BENCH_CLIENTS), and BENCH_RISK_PHASE_TABLE=1
 * prints every phase's p50 / p99, and BENCH_RISK_STATEMENTS=1 each statement's server time per payment
 * in each variant (with BENCH_PG_OPTIONS="-c pg_stat_statements.track=all", the judge's inner queries too).
 */
import { loadavg } from "node:os";
import pg from "pg";
import { TWENTY_RULES } from "./risk-rules.ts";

export const RISK_RULES = whole("BENCH_RISK_RULES", 0, 0, TWENTY_RULES.length);
const PHASES = whole("BENCH_RISK_PHASES", 6, 2, 40);
const PHASE_SECONDS = whole("BENCH_RISK_PHASE_SECONDS", 10, 1, 600);
/**
 * BENCH_RISK_MERCHANT_ACTION=reject: the merchant-ID rules that enforce (not the shadow ones) reject
 * instead of review (none fires on the bench's traffic). An enforced reject rule's scope is locked
 * for the intent's statement (docs/risk.md), so then every payment of the merchant ID takes one lock.
 */
const MERCHANT_ACTION = process.env.BENCH_RISK_MERCHANT_ACTION ?? "review";
if (MERCHANT_ACTION !== "review" && MERCHANT_ACTION !== "reject") throw new Error("BENCH_RISK_MERCHANT_ACTION must be review or reject");

function whole(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

type Admin = (method: string, path: string, body: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;

export interface RiskRules {
  rule_ids: string[];
  setEnabled(enabled: boolean): Promise<void>;
}

/** Installs the first RISK_RULES rules for the merchant ID, enabled. */
export async function installRiskRules(paycore_url: string, admin_token: string, merchant_id: string): Promise<RiskRules> {
  const admin: Admin = async (method, path, body) => {
    const res = await fetch(paycore_url + path, { method, headers: { authorization: `Bearer ${admin_token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const rule_ids: string[] = [];
  for (const rule of TWENTY_RULES.slice(0, RISK_RULES)) {
    const action = rule.scope === "merchant" && rule.mode !== "shadow" ? MERCHANT_ACTION : rule.action;
    const res = await admin("POST", "/admin/v1/risk/rules", { ...rule, action, merchant_id });
    if (res.status !== 201) throw new Error(`rule: ${JSON.stringify(res.body)}`);
    rule_ids.push(String(res.body.rule_id));
  }
  return {
    rule_ids,
    async setEnabled(enabled) {
      for (const rule_id of rule_ids) {
        const res = await admin("PATCH", `/admin/v1/risk/rules/${rule_id}`, { enabled });
        if (res.status !== 200) throw new Error(`rule ${rule_id}: ${JSON.stringify(res.body)}`);
      }
    },
  };
}

interface Meters {
  paycore_cpu_ms(): number;
  cluster_cpu_ms(): { total: number; backends: number };
}

interface Variant {
  latencies: number[];
  paycore_ms: number;
  pg_ms: number;
  backends_ms: number;
  loads: number[];
}

async function judgeStats(url: string): Promise<{ calls: number; total_ms: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ calls: string; total: number }>("SELECT coalesce(sum(calls), 0)::text AS calls, coalesce(sum(total_time), 0)::float8 AS total FROM pg_stat_user_functions WHERE funcname = 'risk_payment_judge'");
    return { calls: Number(r.rows[0]!.calls), total_ms: r.rows[0]!.total };
  } finally {
    await c.end();
  }
}

/** Every statement's calls and time so far (`pg_stat_statements`, when the cluster has it), by query id. */
async function statementTimes(url: string): Promise<Map<string, { calls: number; ms: number; query: string }>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ id: string; calls: string; ms: number; query: string }>(
      "SELECT queryid::text || CASE WHEN toplevel THEN '' ELSE ' nested' END AS id, calls::text, total_exec_time + total_plan_time AS ms, CASE WHEN toplevel THEN '' ELSE '(nested) ' END || left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    return new Map(r.rows.map((row) => [row.id, { calls: Number(row.calls), ms: row.ms, query: row.query }]));
  } finally {
    await c.end();
  }
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * BENCH_RISK_CLIENTS="1,2,4": run the A/B phases once for each of these client counts (default: the
 * bench's BENCH_CLIENTS). With 16 clients on 2 cores the phases' latencies are the run queue's; with
 * a few clients the cores are not saturated and the difference is what the rules add to one payment.
 */
export function riskClientCounts(fallback: number): number[] {
  const text = process.env.BENCH_RISK_CLIENTS;
  if (text === undefined || text === "") return [fallback];
  const counts = text.split(",").map((t) => Number(t.trim()));
  if (counts.length > 8 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error("BENCH_RISK_CLIENTS must be up to 8 whole numbers from 1 to 64, comma-separated");
  return counts;
}

/**
 * The A/B phases: `load(seconds, label)` runs the bench's traffic with `clients` clients and answers
 * its latencies. Phase k runs with the rules enabled when k % 4 is 1 or 2 (0, N, N, 0, 0, N, N, 0, …).
 * Answers the summary (per variant and the difference of the pooled percentiles), and one row per
 * phase; each complete group of four (0, N, N, 0) also gives its own difference (the mean of its two
 * N phases' p50 / p99 less the mean of its two 0 phases'), so that the spread within a run shows.
 */
export async function compareRiskRules(
  rules: RiskRules,
  url: string,
  meters: Meters,
  clients: number,
  load: (seconds: number, label: string) => Promise<number[]>,
): Promise<{ summary: Record<string, string | number>[]; phases: Record<string, string | number>[] }> {
  const variants: Record<"off" | "on", Variant> = {
    off: { latencies: [], paycore_ms: 0, pg_ms: 0, backends_ms: 0, loads: [] },
    on: { latencies: [], paycore_ms: 0, pg_ms: 0, backends_ms: 0, loads: [] },
  };
  const phases: Record<string, string | number>[] = [];
  // BENCH_RISK_STATEMENTS=1: each statement's calls and time per payment in each variant (pg_stat_statements;
  // wall time in the server, so stretched by the run queue like the latencies; track=all shows the judge's inner queries).
  const by_statement = process.env.BENCH_RISK_STATEMENTS ? new Map<string, { query: string; off: { calls: number; ms: number }; on: { calls: number; ms: number } }>() : null;
  const per_phase: { on: boolean; p50: number; p99: number }[] = [];
  let enabled = true;
  const judge_before = await judgeStats(url);
  for (let k = 0; k < PHASES; k++) {
    const on = k % 4 === 1 || k % 4 === 2;
    if (on !== enabled) await rules.setEnabled((enabled = on));
    const v = variants[on ? "on" : "off"];
    const load_at_start = loadavg()[0]!;
    v.loads.push(load_at_start);
    const statements0 = by_statement ? await statementTimes(url) : null;
    const cpu0 = { paycore: meters.paycore_cpu_ms(), cluster: meters.cluster_cpu_ms() };
    const latencies = await load(PHASE_SECONDS, `risk-${clients}-${k}`);
    const cpu1 = { paycore: meters.paycore_cpu_ms(), cluster: meters.cluster_cpu_ms() };
    if (by_statement && statements0) {
      for (const [id, now] of await statementTimes(url)) {
        const was = statements0.get(id) ?? { calls: 0, ms: 0 };
        const entry = by_statement.get(id) ?? { query: now.query, off: { calls: 0, ms: 0 }, on: { calls: 0, ms: 0 } };
        entry[on ? "on" : "off"].calls += now.calls - was.calls;
        entry[on ? "on" : "off"].ms += now.ms - was.ms;
        by_statement.set(id, entry);
      }
    }
    v.latencies.push(...latencies);
    v.paycore_ms += cpu1.paycore - cpu0.paycore;
    v.pg_ms += cpu1.cluster.total - cpu0.cluster.total;
    v.backends_ms += cpu1.cluster.backends - cpu0.cluster.backends;
    const sorted = [...latencies].sort((a, b) => a - b);
    per_phase.push({ on, p50: pct(sorted, 50), p99: pct(sorted, 99) });
    phases.push({
      clients,
      phase: k,
      rules: on ? RISK_RULES : 0,
      payments: sorted.length,
      "p50 ms": pct(sorted, 50).toFixed(2),
      "p99 ms": pct(sorted, 99).toFixed(2),
      "PostgreSQL CPU ms/payment": ((cpu1.cluster.total - cpu0.cluster.total) / sorted.length).toFixed(3),
      "load avg (1 min) at start": load_at_start.toFixed(1),
    });
  }
  // Backends report their function statistics at most once a second, and within 10 s once idle.
  await new Promise((r) => setTimeout(r, 11_000));
  const judge_after = await judgeStats(url);
  const judge_calls = judge_after.calls - judge_before.calls;
  const quads: { p50: number; p99: number }[] = [];
  for (let q = 0; q + 4 <= per_phase.length; q += 4) {
    const g = per_phase.slice(q, q + 4);
    const mean = (on: boolean, key: "p50" | "p99") => g.filter((x) => x.on === on).reduce((a, x) => a + x[key], 0) / 2;
    quads.push({ p50: mean(true, "p50") - mean(false, "p50"), p99: mean(true, "p99") - mean(false, "p99") });
  }
  // min / median / max over the groups: with a few clients a group's difference is a few hundred payments' worth.
  const range = (key: "p50" | "p99") => {
    const xs = quads.map((x) => x[key]).sort((a, b) => a - b);
    return xs.length ? `${xs[0]!.toFixed(2)} / ${xs[Math.floor((xs.length - 1) / 2)]!.toFixed(2)} / ${xs.at(-1)!.toFixed(2)}` : "";
  };
  const row = (name: string, v: Variant) => {
    v.latencies.sort((a, b) => a - b);
    const n = v.latencies.length;
    return {
      [`${RISK_RULES} rules A/B`]: name,
      clients,
      payments: n,
      "p50 ms": pct(v.latencies, 50).toFixed(2),
      "p99 ms": pct(v.latencies, 99).toFixed(2),
      "paycore CPU ms/payment": (v.paycore_ms / n).toFixed(3),
      "PostgreSQL CPU ms/payment": (v.pg_ms / n).toFixed(3),
      "of which backends": (v.backends_ms / n).toFixed(3),
      "load avg (1 min) at phase starts": v.loads.map((l) => l.toFixed(1)).join(" "),
    };
  };
  const off = row("0 rules", variants.off);
  const on = row(`${RISK_RULES} rules`, variants.on);
  const minus = (key: keyof typeof off, digits: number) => (Number(on[key]) - Number(off[key])).toFixed(digits);
  if (by_statement) {
    const n_off = variants.off.latencies.length;
    const n_on = variants.on.latencies.length;
    const rows = [...by_statement.values()].map((e) => ({
      query: e.query,
      "calls/payment 0 rules": (e.off.calls / n_off).toFixed(2),
      [`calls/payment ${RISK_RULES} rules`]: (e.on.calls / n_on).toFixed(2),
      "ms/payment 0 rules": (e.off.ms / n_off).toFixed(3),
      [`ms/payment ${RISK_RULES} rules`]: (e.on.ms / n_on).toFixed(3),
      added: e.on.ms / n_on - e.off.ms / n_off,
    }));
    rows.sort((a, b) => Math.abs(b.added) - Math.abs(a.added));
    console.table(rows.slice(0, 20).map((r) => ({ ...r, added: r.added.toFixed(3) })));
  }
  return {
    phases,
    summary: [
      off,
      on,
      {
        [`${RISK_RULES} rules A/B`]: "added by the rules",
        clients,
        payments: "",
        "p50 ms": minus("p50 ms", 2),
        "p99 ms": minus("p99 ms", 2),
        "paycore CPU ms/payment": minus("paycore CPU ms/payment", 3),
        "PostgreSQL CPU ms/payment": minus("PostgreSQL CPU ms/payment", 3),
        "of which backends": minus("of which backends", 3),
        // The judge's own time in the server (the scope locks, waits for them included, the count, the judgement).
        "load avg (1 min) at phase starts": judge_calls > 0 ? `risk_payment_judge ${((judge_after.total_ms - judge_before.total_ms) / judge_calls).toFixed(3)} ms/call (${judge_calls} calls)` : "risk_payment_judge: no statistics (track_functions)",
      },
      {
        [`${RISK_RULES} rules A/B`]: `added, per 0-N-N-0 group (${quads.length}): min / median / max`,
        clients,
        payments: "",
        "p50 ms": range("p50"),
        "p99 ms": range("p99"),
        "paycore CPU ms/payment": "",
        "PostgreSQL CPU ms/payment": "",
        "of which backends": "",
        "load avg (1 min) at phase starts": "",
      },
    ],
  };
}
