/**
 * Agreement payments through the whole stack, against pgbench on the same PostgreSQL in the same
 * run (issue 10, docs/performance.md). `npm run bench -- payments`:
 *
 * 1. initdb a private PostgreSQL 15 cluster (port 4071, pg_stat_statements loaded; the shared
 *    server is never touched), or use BENCH_DATABASE_URL (then without pg_stat_statements);
 * 2. start the sandbox and `paycore start` as two processes sharing a data directory (keys);
 * 3. create a merchant ID, sign 32 sandbox cards, warm up, ANALYZE (as autovacuum would have done
 *    on a running system, and as pgbench -i does for its tables), then run 16 signed clients for 20 s;
 * 4. run pgbench TPC-B (scale 10, -c 16 -j 2 -T 20) on the same server;
 * 5. print payments/s, p50/p99, CPU ms per payment of each process (/proc), SQL statements and
 *    commits per payment (pg_stat_statements, pg_stat_database) and the ratio to pgbench.
 * Nothing here asserts a speed. BENCH_SECONDS, BENCH_CLIENTS, BENCH_AGREEMENTS, BENCH_WARM_UP_SECONDS (20) override;
 * BENCH_ANALYZE=0 leaves the tables unanalyzed (the plans then rest on no statistics);
 * BENCH_PG_OPTIONS adds server options to the private cluster (auto_explain, say) and
 * BENCH_PG_LOG=FILE keeps its server log there;
 * BENCH_RISK_RULES=20 installs the risk bench's 20 rules for the merchant ID and measures what they add (bench/payments-risk.ts;
 * BENCH_RISK_CLIENTS="1,2,4" at those client counts); BENCH_PGBENCH=0 skips pgbench;
 * BENCH_INTERLEAVE=K runs the timed load and pgbench in K alternating phases of BENCH_SECONDS/K
 * each (both then see the same minutes of a shared machine; BENCH_TOP_STATEMENTS then lists
 * pgbench's statements too);
 * BENCH_CPU_PROF=DIR writes V8 CPU profiles of paycore and the sandbox into DIR; BENCH_TSX=1 runs
 * both from the TypeScript sources (through tsx) instead of the build in dist/;
 * BENCH_NODE_ARGS="--max-semi-space-size=64 --trace-gc" adds node/V8 flags to both processes (an A/B
 * of a V8 setting), and BENCH_CHILD_STDOUT=DIR keeps their standard output (paycore.out,
 * sandbox.out: what --trace-gc prints) and prints where the timed load lay in paycore's clock.
 * Beside the CPU per payment it prints the part of it on helper threads (V8's parallel and
 * concurrent garbage collection and optimizing compilers, libuv's pool) and each process's peak
 * resident memory.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
// @ts-expect-error: a plain JavaScript module without types
import { ensureBuilt } from "../bin/launch.js";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import pg from "pg";
import http from "node:http";
import { compareRiskRules, installRiskRules, RISK_RULES, riskClientCounts } from "./payments-risk.ts";
import { PaycoreClient, signRequest, verifyResponse, type Credentials } from "../src/client/index.ts";
import { testUscc } from "../test/support/app.ts";
import { residentId } from "../test/support/sandbox.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const AGREEMENTS = Number(process.env.BENCH_AGREEMENTS ?? 32);
// The warm-up before ANALYZE and the timed load: long enough for V8 to have optimised the once-per-payment
// code (a system that runs for hours is measured in its steady state; docs/performance.md, fifth round).
const WARM_UP_SECONDS = Number(process.env.BENCH_WARM_UP_SECONDS ?? 20);
const INTERLEAVE = Math.max(1, Math.floor(Number(process.env.BENCH_INTERLEAVE ?? 1)));
const PG_BIN = "/usr/lib/postgresql/15/bin";
// BENCH_PORT_BASE: another base port, so that two benches can run on one machine (their figures then share the cores).
const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 4071);
const PORTS = { pg: PORT_BASE, sandbox: PORT_BASE + 1, paycore: PORT_BASE + 2 } as const;

type Row = Record<string, string | number>;

function sh(cmd: string, args: string[], as_postgres = false): string {
  const r = as_postgres ? spawnSync("su", ["postgres", "-c", [cmd, ...args].map((a) => `'${a}'`).join(" ")], { encoding: "utf8" }) : spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A private cluster in a temp directory; stopped and removed by `stop()`. */
function privateCluster(): { url: string; cpu_ms(): ReturnType<typeof clusterCpuMs>; stop(): void } {
  const dir = mkdtempSync(join(tmpdir(), "paycore-bench-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  sh(`${PG_BIN}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres"], true);
  const options = `-p ${PORTS.pg} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c max_connections=120 -c pg_stat_statements.track_utility=on -c pg_stat_statements.track_planning=on ${RISK_RULES ? "-c track_functions=pl " : ""}${process.env.BENCH_PG_OPTIONS ?? ""}`;
  sh(`${PG_BIN}/pg_ctl`, ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"], true);
  return {
    url: `postgres://postgres@127.0.0.1:${PORTS.pg}/postgres`,
    cpu_ms: () => clusterCpuMs(Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0])),
    stop: () => {
      spawnSync("su", ["postgres", "-c", `${PG_BIN}/pg_ctl -D ${data} -m fast -w stop`]);
      if (process.env.BENCH_PG_LOG) copyFileSync(join(dir, "log"), process.env.BENCH_PG_LOG);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? NaN) / 1024;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

/** CPU of a process's main thread (its JavaScript, the main-thread part of garbage collection, system calls). */
function mainThreadCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * CPU of a whole PostgreSQL cluster so far: the postmaster, its live children (backends, WAL
 * writer, checkpointer, autovacuum) and its exited children (cutime + cstime of the postmaster).
 * `backends` is the part of the live client backends (a process title with a client address):
 * the rest is the background processes' and that of children that exited (autovacuum workers).
 * `children`: how many live children there were, and how many of them had exited unreaped.
 */
function clusterCpuMs(postmaster: number): { total: number; backends: number; children: number; zombies: number } {
  const stat = (pid: number | string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const own = stat(postmaster);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  let backend_ticks = 0;
  let children = 0;
  let zombies = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const f = stat(pid);
      if (Number(f[1]) !== postmaster) continue;
      children++;
      if (f[0] === "Z") zombies++;
      const t = Number(f[11]) + Number(f[12]);
      ticks += t;
      if (/\(\d+\)|\[local\]/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"))) backend_ticks += t;
    } catch {
      // exited while we looked
    }
  }
  return { total: (ticks * 1000) / 100, backends: (backend_ticks * 1000) / 100, children, zombies };
}

/**
 * The cluster's CPU once no child is exiting. A child reaped between the read of the postmaster's
 * own line (its reaped children's time) and the walk of /proc is counted in neither: right after
 * pgbench, its sixteen backends exit together with all of the run's time, and a reading taken
 * then lost most of it (0.02–0.95 ms per TPC-B transaction from one run to the next, before this
 * wait). Waits up to 5 s for the same children, none of them unreaped, in three reads in a row.
 */
function settledClusterCpuMs(read: () => ReturnType<typeof clusterCpuMs>): ReturnType<typeof clusterCpuMs> {
  let last = read();
  let same = 0;
  for (const until = Date.now() + 5_000; same < 2 && Date.now() < until; ) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    const next = read();
    same = next.children === last.children && next.zombies === 0 ? same + 1 : 0;
    last = next;
  }
  return last;
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start`);
}

function startProcess(script: string, env: Record<string, string>): ChildProcess {
  // BENCH_CPU_PROF=DIR: V8 CPU profiles of both processes into DIR (written when they exit).
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // BENCH_PERF=1: JIT symbol maps (/tmp/perf-PID.map) for `perf record -p PID`, which sees time on
  // the CPU only (V8's profile counts a thread preempted inside a system call as busy there).
  if (process.env.BENCH_PERF) prof.push("--perf-basic-prof");
  const args = script.endsWith("main.ts") && script.includes("cli") ? ["start"] : [];
  // The compiled build in dist/ (what `npm start` runs), unless BENCH_TSX=1 asks for the sources.
  const entry = process.env.BENCH_TSX ? ["--import", "tsx", script] : [script.replace(/^src\//, "dist/").replace(/\.ts$/, ".js")];
  // BENCH_NODE_ARGS: node/V8 flags for both processes, to compare a V8 setting (docs/performance.md, seventh round).
  const extra = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  // BENCH_CHILD_STDOUT=DIR keeps each process's standard output (V8's --trace-gc, say) in DIR.
  const out = process.env.BENCH_CHILD_STDOUT ? openSync(join(process.env.BENCH_CHILD_STDOUT, `${script.includes("cli") ? "paycore" : "sandbox"}.out`), "w") : null;
  const child = spawn(process.execPath, [...prof, ...extra, ...entry, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", out ?? "ignore", "inherit"],
  });
  if (out !== null) closeSync(out); // the child has its own copy
  spawn_times.set(child.pid!, performance.now());
  return child;
}
const spawn_times = new Map<number, number>();

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

interface Card {
  card_number: string;
  holder_name: string;
  id_number: string;
  phone: string;
  card_type: string;
  status: string;
  balance: number;
  cvn2?: string;
  expiry?: string;
}

async function setUp(paycore: string, sandbox: string, admin_token: string): Promise<{ client: PaycoreClient; agreements: string[] }> {
  const admin = (path: string, body: unknown) =>
    fetch(paycore + path, { method: "POST", headers: { authorization: `Bearer ${admin_token}`, "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => json<Record<string, any>>(r)); // eslint-disable-line @typescript-eslint/no-explicit-any
  const entity = await admin("/admin/v1/entities", { legal_name: "Bench Co., Ltd.", uscc: testUscc() });
  const m = await admin("/admin/v1/merchants", {
    entity_id: entity.entity_id,
    name: "Bench",
    business_category: "retail",
    risk_level: "low",
    products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }],
    settlement: { mode: "own", cycle_days: 1, account: { account_name: "Bench Co., Ltd.", account_number: "6222020200112233445", bank_code: "102290000012" } },
  });
  if (!m.api_key) throw new Error(`merchant: ${JSON.stringify(m)}`);
  const creds: Credentials = { mch_id: m.merchant_id, key_id: m.api_key.key_id, secret: m.api_key.secret };
  const client = new PaycoreClient(paycore, creds, () => Math.floor(Date.now() / 1000));
  // High-balance debit cards of our own, so that 20 s of load never runs a card dry.
  const cards: Card[] = [];
  for (let i = 0; i < AGREEMENTS; i++) {
    const res = await fetch(`${sandbox}/sandbox/v1/cards`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ holder_name: "压测持卡人", id_number: residentId(900 + i), phone: `1391${String(i).padStart(7, "0")}`, bank_code: i % 2 ? "ICBC" : "CCB", card_type: "debit", balance: 1_000_000_000 }),
    });
    if (res.status !== 201) throw new Error(`adding a card: ${await res.text()}`);
    cards.push(await json<Card>(res));
  }
  const agreements: string[] = [];
  for (const card of cards) {
    const body = {
      ...{ holder_name: card.holder_name, id_type: "resident_id", id_number: card.id_number, card_number: card.card_number, phone: card.phone },
      ...(card.card_type === "credit" ? { cvn2: card.cvn2, expiry: card.expiry } : {}),
    };
    const start = await client.post<Record<string, string>>("/v1/agreements", { out_request_no: `bench-${card.card_number.slice(-8)}`, user_ref: `u-${agreements.length}`, card: body });
    if (start.body.status === "already_signed") {
      agreements.push(start.body.agreement_id!);
      continue;
    }
    const sms = await json<{ data: { otp: string | null }[] }>(await fetch(`${sandbox}/sandbox/v1/sms?phone=${card.phone}`));
    const confirm = await client.post<Record<string, string>>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)?.otp });
    if (confirm.status !== 201) throw new Error(`sign: ${confirm.text}`);
    agreements.push(confirm.body.agreement_id!);
  }
  if (agreements.length < AGREEMENTS) throw new Error(`only ${agreements.length} cards could be signed`);
  return { client, agreements };
}

/**
 * The load's own client: node:http with a keep-alive agent, signing and verifying as
 * src/client does. The global fetch cost about 1 ms more CPU per payment, on the same two cores
 * as the system under test.
 */
function loadClient(base_url: string, creds: Credentials, clients: number): (path: string, body: unknown) => Promise<{ status: number; text: string }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const url = new URL(base_url);
  return (path, body) =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const authorization = signRequest(creds, "POST", path, text, Math.floor(Date.now() / 1000), randomBytes(16).toString("hex"));
      const req = http.request(
        { host: url.hostname, port: url.port, path, method: "POST", agent, headers: { authorization, "content-type": "application/json", "content-length": Buffer.byteLength(text) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const answer = Buffer.concat(chunks).toString("utf8");
            const headers = new Headers(Object.entries(res.headers).flatMap(([k, v]) => (typeof v === "string" && k.startsWith("paycore-") ? [[k, v] as [string, string]] : [])));
            if (!verifyResponse(creds.secret, headers, answer)) reject(new Error(`unsigned answer: ${res.statusCode} ${answer}`));
            else resolve({ status: res.statusCode ?? 0, text: answer });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(text);
    });
}

async function load(client: PaycoreClient, agreements: string[], seconds: number, label: string, clients = CLIENTS): Promise<number[]> {
  const post = loadClient(client.base_url, client.creds, clients);
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const i = n++;
        const t0 = performance.now();
        const res = await post("/v1/payments", { out_trade_no: `${label}-${i}`, agreement_id: agreements[i % agreements.length], amount: 100, currency: "CNY", description: "bench" });
        if ((JSON.parse(res.text) as { status?: string }).status !== "succeeded") throw new Error(`payment ${i}: ${res.status} ${res.text}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function dbStats(url: string, with_statements: boolean): Promise<{ statements: number; commits: number; updates: number; hot_updates: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const commits = await c.query<{ n: string }>("SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()");
    const statements = with_statements ? await c.query<{ n: string }>("SELECT coalesce(sum(calls), 0)::text AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())") : null;
    // Updates of payment rows, and those that were HOT (no index entry written): read after a flush of this backend's counters.
    const payments = await c.query<{ upd: string; hot: string }>("SELECT n_tup_upd::text AS upd, n_tup_hot_upd::text AS hot FROM pg_stat_user_tables WHERE relname = 'payments'");
    return {
      statements: Number(statements?.rows[0]?.n ?? NaN),
      commits: Number(commits.rows[0]!.n),
      updates: Number(payments.rows[0]?.upd ?? NaN),
      hot_updates: Number(payments.rows[0]?.hot ?? NaN),
    };
  } finally {
    await c.end();
  }
}

/**
 * ANALYZE the database after the warm-up. A fresh database has no statistics until autovacuum's
 * first pass (a minute apart at best), and each connection keeps the generic plans it made on
 * none: the repeat check of the payment's first read then scanned all of the merchant ID's
 * payments by payments_merchant_created_idx instead of probing the unique key (docs/performance.md).
 */
async function analyze(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("ANALYZE");
  } finally {
    await c.end();
  }
}

async function resetStatements(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    await c.query("SELECT pg_stat_statements_reset()");
    return true;
  } catch {
    return false;
  } finally {
    await c.end();
  }
}

/** `BENCH_TOP_STATEMENTS=1`: the statements of the timed load by their total time (execution and planning, lock waits included). */
async function printTopStatements(url: string, payments: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ calls: string; mean_ms: number; plan_ms: number | null; total_ms: number; query: string }>(
      "SELECT calls::text, mean_exec_time AS mean_ms, mean_plan_time AS plan_ms, total_exec_time + total_plan_time AS total_ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time + total_plan_time DESC LIMIT 30",
    );
    console.table(r.rows.map((row) => ({ "per payment": (Number(row.calls) / payments).toFixed(2), "mean ms": row.mean_ms.toFixed(2), "plan ms": (row.plan_ms ?? 0).toFixed(2), "ms per payment": (row.total_ms / payments).toFixed(3), query: row.query })));
  } finally {
    await c.end();
  }
}

/** pgbench's tables (scale 10), made once before the first TPC-B phase. */
function pgbenchInit(url: string): void {
  sh("/usr/bin/pgbench", ["-i", "-s", "10", "-q", url]);
}

/** One TPC-B phase: its transactions, their time (connections left out) and the cluster's CPU over it. */
function pgbenchPhase(url: string, seconds: number, cluster_cpu_ms: (() => ReturnType<typeof clusterCpuMs>) | null): { transactions: number; seconds: number; db_cpu_ms: number } {
  const before = cluster_cpu_ms ? settledClusterCpuMs(cluster_cpu_ms) : { total: NaN };
  const out = sh("/usr/bin/pgbench", ["-c", "16", "-j", "2", "-T", String(Math.max(1, Math.round(seconds))), url]);
  const after = cluster_cpu_ms ? settledClusterCpuMs(cluster_cpu_ms) : { total: NaN };
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? NaN);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
  return { transactions, seconds: transactions / tps, db_cpu_ms: after.total - before.total };
}

export async function benchPayments(): Promise<Row[]> {
  const cluster = process.env.BENCH_DATABASE_URL ? null : privateCluster();
  const url = process.env.BENCH_DATABASE_URL ?? cluster!.url;
  const data_dir = mkdtempSync(join(tmpdir(), "paycore-bench-"));
  const admin_token = randomBytes(24).toString("hex");
  const sandbox_url = `http://127.0.0.1:${PORTS.sandbox}`;
  const paycore_url = `http://127.0.0.1:${PORTS.paycore}`;
  // The processes run the compiled build in dist/, as `npm start` does (built first if stale).
  if (!process.env.BENCH_TSX) ensureBuilt();
  const sandbox = startProcess("src/sandbox/main.ts", { SANDBOX_PORT: String(PORTS.sandbox), PAYCORE_DATA_DIR: data_dir, SANDBOX_LOG_LEVEL: "warn", PAYCORE_CALLBACK_URL: `${paycore_url}/callbacks/channels` });
  let paycore: ChildProcess | null = null;
  try {
    await waitFor(`${sandbox_url}/sandbox/v1/cards`, sandbox, "sandbox");
    paycore = startProcess("src/cli/main.ts", {
      DATABASE_URL: url,
      PORT: String(PORTS.paycore),
      SANDBOX_URL: sandbox_url,
      PAYCORE_DATA_DIR: data_dir,
      PAYCORE_ADMIN_TOKEN: admin_token,
      PAYCORE_LOG_LEVEL: "warn",
      PAYCORE_RATE_LIMIT_PER_MINUTE: "1000000",
    });
    await waitFor(`${paycore_url}/healthz`, paycore, "paycore");
    const { client, agreements } = await setUp(paycore_url, sandbox_url, admin_token);
    // BENCH_RISK_RULES=N: N risk rules of the bench's merchant ID, and their A/B after the timed load (bench/payments-risk.ts).
    const risk = RISK_RULES ? await installRiskRules(paycore_url, admin_token, client.creds.mch_id) : null;
    await load(client, agreements, WARM_UP_SECONDS, "warm");
    if (process.env.BENCH_ANALYZE !== "0") await analyze(url);
    const has_statements = await resetStatements(url);
    // BENCH_INTERLEAVE=K: the timed load and pgbench in K alternating phases of SECONDS/K each, so that
    // both see the same stretch of the machine's hour; without it, the payments and then pgbench.
    const run_pgbench = process.env.BENCH_PGBENCH !== "0";
    const phases = run_pgbench ? INTERLEAVE : 1;
    const phase_s = SECONDS / phases;
    if (run_pgbench && phases > 1) pgbenchInit(url);
    const meter = async () => ({ db: await dbStats(url, has_statements), paycore: cpuMs(paycore!.pid!), paycore_main: mainThreadCpuMs(paycore!.pid!), sandbox: cpuMs(sandbox.pid!), sandbox_main: mainThreadCpuMs(sandbox.pid!), cluster: cluster?.cpu_ms() ?? { total: NaN, backends: NaN }, client: process.cpuUsage() });
    type Meter = Awaited<ReturnType<typeof meter>>;
    const spent = { statements: 0, commits: 0, updates: 0, hot_updates: 0, paycore: 0, paycore_main: 0, sandbox: 0, sandbox_main: 0, cluster: 0, backends: 0, client_us: 0 };
    const add = (a: Meter, b: Meter) => {
      for (const k of ["statements", "commits", "updates", "hot_updates"] as const) spent[k] += b.db[k] - a.db[k];
      for (const k of ["paycore", "paycore_main", "sandbox", "sandbox_main"] as const) spent[k] += b[k] - a[k];
      spent.cluster += b.cluster.total - a.cluster.total;
      spent.backends += b.cluster.backends - a.cluster.backends;
      spent.client_us += b.client.user + b.client.system - (a.client.user + a.client.system);
    };
    const tpcb = { transactions: 0, seconds: 0, db_cpu_ms: 0 };
    const latencies: number[] = [];
    let elapsed_s = 0;
    const spawned_at = spawn_times.get(paycore.pid!) ?? NaN;
    for (let phase = 0; phase < phases; phase++) {
      const before = await meter();
      const started = performance.now();
      latencies.push(...(await load(client, agreements, phase_s, `timed${phase}`)));
      elapsed_s += (performance.now() - started) / 1000;
      if (process.env.BENCH_CHILD_STDOUT) console.error(`timed load: ${(started - spawned_at).toFixed(0)}–${(performance.now() - spawned_at).toFixed(0)} ms after paycore was started`);
      add(before, await meter());
      if (run_pgbench && phases > 1) {
        const b = pgbenchPhase(url, phase_s, cluster ? () => cluster.cpu_ms() : null);
        tpcb.transactions += b.transactions;
        tpcb.seconds += b.seconds;
        tpcb.db_cpu_ms += b.db_cpu_ms;
      }
    }
    latencies.sort((a, b) => a - b);
    const peak = { paycore: peakRssMb(paycore.pid!), sandbox: peakRssMb(sandbox.pid!) };
    const n = latencies.length;
    if (has_statements && process.env.BENCH_TOP_STATEMENTS) await printTopStatements(url, n);
    if (risk) {
      const meters = { paycore_cpu_ms: () => cpuMs(paycore!.pid!), cluster_cpu_ms: () => cluster?.cpu_ms() ?? { total: NaN, backends: NaN } };
      for (const clients of riskClientCounts(CLIENTS)) {
        const { summary, phases } = await compareRiskRules(risk, url, meters, clients, (seconds, label) => load(client, agreements, seconds, label, clients));
        if (process.env.BENCH_RISK_PHASE_TABLE) console.table(phases);
        console.table(summary);
      }
    }
    // BENCH_PGBENCH=0 skips pgbench (a risk A/B run does not need the ratio).
    if (run_pgbench && phases === 1) {
      pgbenchInit(url);
      const b = pgbenchPhase(url, SECONDS, cluster ? () => cluster.cpu_ms() : null);
      Object.assign(tpcb, b);
    }
    const bench = run_pgbench ? { tps: tpcb.transactions / tpcb.seconds, db_cpu_ms: tpcb.db_cpu_ms / tpcb.transactions } : { tps: NaN, db_cpu_ms: NaN };
    const tps = bench.tps;
    const rate = n / elapsed_s;
    return [
      {
        payments: n,
        "payments/s": rate.toFixed(1),
        "p50 ms": pct(latencies, 50).toFixed(1),
        "p99 ms": pct(latencies, 99).toFixed(1),
        "paycore CPU ms/payment": (spent.paycore / n).toFixed(2),
        "sandbox CPU ms/payment": (spent.sandbox / n).toFixed(2),
        // Of each, what V8's and libuv's helper threads used (parallel and concurrent garbage collection, optimizing compilers).
        "paycore helper threads ms": ((spent.paycore - spent.paycore_main) / n).toFixed(2),
        "sandbox helper threads ms": ((spent.sandbox - spent.sandbox_main) / n).toFixed(2),
        // The whole cluster (backends and background processes); beside it, the same per TPC-B transaction.
        "PostgreSQL CPU ms/payment": (spent.cluster / n).toFixed(2),
        // Of which the client backends' (paycore's connections and the bench's own few statements).
        "of which backends": (spent.backends / n).toFixed(2),
        "PostgreSQL CPU ms/TPC-B txn": bench.db_cpu_ms.toFixed(2),
        // Peak resident memory of each process up to the end of the timed load (VmHWM).
        "paycore peak RSS MB": peak.paycore.toFixed(0),
        "sandbox peak RSS MB": peak.sandbox.toFixed(0),
        "load client CPU ms/payment": (spent.client_us / 1000 / n).toFixed(2),
        // Every statement of the run's database over the timed load, the notifications included.
        "SQL statements/payment": has_statements ? (spent.statements / n).toFixed(1) : "n/a",
        "commits/payment": (spent.commits / n).toFixed(2),
        "payments HOT updates %": ((100 * spent.hot_updates) / spent.updates).toFixed(0),
        "pgbench TPC-B tps": tps.toFixed(0),
        "ratio to pgbench": (rate / tps).toFixed(3),
        machine: `${cpus().length}× ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
      },
    ];
  } finally {
    const exited = (c: ChildProcess | null) => (c && c.exitCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve());
    const both = Promise.all([exited(paycore), exited(sandbox)]);
    paycore?.kill("SIGTERM");
    sandbox.kill("SIGTERM");
    await Promise.race([both, new Promise((r) => setTimeout(r, 15_000))]);
    cluster?.stop();
    rmSync(data_dir, { recursive: true, force: true });
  }
}
