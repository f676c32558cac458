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
 * with track_functions = pl; it includes waits for the scope locks).
 */
import { loadavg } from "node:os";
import pg from "pg";
import { TWENTY_RULES } from "./risk-rules.ts";

export const RISK_RULES = whole("BENCH_RISK_RULES", 0, 0, TWENTY_RULES.length);
const PHASES = whole("BENCH_RISK_PHASES", 6, 2, 40);
const PHASE_SECONDS = whole("BENCH_RISK_PHASE_SECONDS", 10, 1, 600);

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
    const res = await admin("POST", "/admin/v1/risk/rules", { ...rule, merchant_id });
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

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * The A/B phases: `load(seconds, label)` runs the bench's traffic and answers its latencies.
 * Phase k runs with the rules enabled when k % 4 is 1 or 2 (0, N, N, 0, 0, N, N, 0, …).
 */
export async function compareRiskRules(rules: RiskRules, url: string, meters: Meters, load: (seconds: number, label: string) => Promise<number[]>): Promise<Record<string, string | number>[]> {
  const variants: Record<"off" | "on", Variant> = {
    off: { latencies: [], paycore_ms: 0, pg_ms: 0, backends_ms: 0, loads: [] },
    on: { latencies: [], paycore_ms: 0, pg_ms: 0, backends_ms: 0, loads: [] },
  };
  let enabled = true;
  const judge_before = await judgeStats(url);
  for (let k = 0; k < PHASES; k++) {
    const on = k % 4 === 1 || k % 4 === 2;
    if (on !== enabled) await rules.setEnabled((enabled = on));
    const v = variants[on ? "on" : "off"];
    v.loads.push(loadavg()[0]!);
    const cpu0 = { paycore: meters.paycore_cpu_ms(), cluster: meters.cluster_cpu_ms() };
    const latencies = await load(PHASE_SECONDS, `risk-${k}`);
    const cpu1 = { paycore: meters.paycore_cpu_ms(), cluster: meters.cluster_cpu_ms() };
    v.latencies.push(...latencies);
    v.paycore_ms += cpu1.paycore - cpu0.paycore;
    v.pg_ms += cpu1.cluster.total - cpu0.cluster.total;
    v.backends_ms += cpu1.cluster.backends - cpu0.cluster.backends;
  }
  // Backends report their function statistics at most once a second, and within 10 s once idle.
  await new Promise((r) => setTimeout(r, 11_000));
  const judge_after = await judgeStats(url);
  const judge_calls = judge_after.calls - judge_before.calls;
  const row = (name: string, v: Variant) => {
    v.latencies.sort((a, b) => a - b);
    const n = v.latencies.length;
    return {
      [`${RISK_RULES} rules A/B`]: name,
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
  return [
    off,
    on,
    {
      [`${RISK_RULES} rules A/B`]: "added by the rules",
      payments: "",
      "p50 ms": minus("p50 ms", 2),
      "p99 ms": minus("p99 ms", 2),
      "paycore CPU ms/payment": minus("paycore CPU ms/payment", 3),
      "PostgreSQL CPU ms/payment": minus("PostgreSQL CPU ms/payment", 3),
      "of which backends": minus("of which backends", 3),
      // The judge's own time in the server (the scope locks, waits for them included, the count, the judgement).
      "load avg (1 min) at phase starts": judge_calls > 0 ? `risk_payment_judge ${((judge_after.total_ms - judge_before.total_ms) / judge_calls).toFixed(3)} ms/call (${judge_calls} calls)` : "risk_payment_judge: no statistics (track_functions)",
    },
  ];
}
