/**
 * Ledger and settlement benchmark: posting throughput (one writer and several), the settlement run
 * and the books check, on the engine DATABASE_URL selects (PGlite in memory otherwise). Then issue
 * 10's comparison: 16 writers posting payments unbatched (one entry per transaction, as the payment
 * path posts) and batched (BENCH_LEDGER_BATCH entries per statement, postPaymentsSucceeded), each
 * for BENCH_SECONDS with the applier running, the longest lock wait seen in the bench's database
 * meanwhile (pg_locks.waitstart sampled every 5 ms), and pgbench TPC-B (scale 10, -c 16 -j 2) on
 * the same server. On PostgreSQL everything runs in databases of its own, created and dropped
 * here; on PGlite pgbench and the lock sampling are skipped. Prints tables; asserts nothing about
 * time (docs/performance.md).
 *
 *   node --import tsx bench/ledger.ts [merchants=50] [payments=2000] [writers=8]
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { Writable } from "node:stream";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { DEFAULT_SETTINGS, type Ctx } from "../src/context.ts";
import { connect, migrate, runCounted } from "../src/db/index.ts";
import { ManualClock } from "../src/kernel/clock.ts";
import { SecretBox } from "../src/kernel/crypto/index.ts";
import { newId } from "../src/kernel/ids.ts";
import { createLogger } from "../src/kernel/log.ts";
import { computePaymentFee, postPaymentSucceeded, postPaymentsSucceeded, postRefundSucceeded, startLedgerApplier, type PaymentSucceeded } from "../src/ledger/index.ts";
import { createEntity, createMerchant } from "../src/merchants/index.ts";
import { checkBooks, runSettlement } from "../src/settlement/index.ts";
import { createPayoutDeps } from "../src/payouts/index.ts";
import { isValidUscc, usccCheckChar } from "../src/kernel/checks.ts";

const MERCHANTS = Number(process.argv[2] ?? 50);
const PAYMENTS = Number(process.argv[3] ?? 2_000);
const WRITERS = Number(process.argv[4] ?? 8);
const ACTOR = { operator_id: "op_bench", request_id: "req_bench" };
const LOAD_WRITERS = Number(process.env.BENCH_LEDGER_WRITERS ?? 16);
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const BATCH = Number(process.env.BENCH_LEDGER_BATCH ?? 100);
/** How often the lock sampler reads pg_locks; 0 turns it off (it costs the server CPU the loads then lack). */
const LOCK_SAMPLE_MS = Number(process.env.BENCH_LOCK_SAMPLE_MS ?? 5);
const PGBENCH = ["/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"].find((p) => existsSync(p));

function uscc(): string {
  const body = `91310000MA${randomBytes(4).toString("hex").toUpperCase().replace(/[IOSVZ]/g, "1")}`.slice(0, 17);
  const code = body + usccCheckChar(body);
  if (!isValidUscc(code)) throw new Error("bad uscc");
  return code;
}

async function timed<T>(rows: string[][], label: string, count: number, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  const result = await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  rows.push([label, String(count), ms.toFixed(0), count > 0 ? ((count * 1000) / ms).toFixed(0) : "-"]);
  return result;
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const server = process.env.DATABASE_URL;
  const ledger_db = server ? await createDatabase(server, `ledgerbench_${randomBytes(4).toString("hex")}`) : undefined;
  const handle = await connect({ database_url: ledger_db, data_dir: "memory", schema, pool_size_max: Math.max(WRITERS, LOAD_WRITERS) + 2 });
  const clock = new ManualClock("2026-03-02T02:00:00Z"); // Monday 10:00 Beijing
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const ctx: Ctx = { db: handle.db, clock, box: new SecretBox(randomBytes(32)), log: createLogger("warn", sink), settings: DEFAULT_SETTINGS };
  const rows: string[][] = [];
  let versus: string[][] = [];
  try {
    await migrate(handle.db);
    const merchants = await timed(rows, "create merchant IDs", MERCHANTS, async () => {
      const ids: string[] = [];
      for (let i = 0; i < MERCHANTS; i++) {
        const { entity } = await createEntity(ctx, { legal_name: `Bench ${i}`, uscc: uscc() }, ACTOR);
        const settlement = { mode: "own" as const, cycle_days: 1, account: { account_name: "Bench", account_number: `6222${String(i).padStart(12, "0")}1`, bank_code: "102290000012" } };
        const { merchant } = await createMerchant(ctx, { entity_id: entity.entity_id, name: "Bench", business_category: "retail", risk_level: "low", products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }], settlement }, ACTOR);
        ids.push(merchant.row.merchant_id);
      }
      return ids;
    });
    const payments: { payment_id: string; merchant_id: string }[] = [];
    const post = async (i: number) => {
      const merchant_id = merchants[i % merchants.length]!;
      const amount = BigInt(1_000 + ((i * 7919) % 100_000));
      const payment_id = newId("pay");
      await handle.db.transaction().execute(async (trx) => {
        const { fee } = await computePaymentFee(trx, merchant_id, amount);
        await postPaymentSucceeded(trx, { payment_id, merchant_id, amount, fee, channel_id: i % 2 ? "netsunion" : "unionpay_nocard", network_cost: amount / 500n, at: clock.now() });
      });
      payments.push({ payment_id, merchant_id });
    };
    const half = Math.floor(PAYMENTS / 2);
    await timed(rows, "payments, 1 writer", half, async () => {
      for (let i = 0; i < half; i++) await post(i);
    });
    await timed(rows, `payments, ${WRITERS} writers`, PAYMENTS - half, async () => {
      let next = half;
      await Promise.all(Array.from({ length: WRITERS }, async () => {
        while (next < PAYMENTS) await post(next++);
      }));
    });
    const refunds = Math.floor(payments.length / 10);
    await timed(rows, "partial refunds, 1 writer", refunds, async () => {
      for (const p of payments.slice(0, refunds)) {
        await handle.db.transaction().execute((trx) => postRefundSucceeded(trx, { refund_id: newId("ref"), payment_id: p.payment_id, merchant_id: p.merchant_id, amount: 500n, at: clock.now() }));
      }
    });
    clock.set("2026-03-03T01:00:00Z");
    const run = await timed(rows, "settlement run (instructions only)", MERCHANTS, () => runSettlement(createPayoutDeps(ctx, null), { date: "2026-03-03", execute: false }));
    await timed(rows, "settlement re-run (no change)", MERCHANTS, () => runSettlement(createPayoutDeps(ctx, null), { date: "2026-03-03", execute: false }));
    const check = await timed(rows, "books check", 1, () => checkBooks(handle.db));
    if (!check.ok || run.payouts_created !== MERCHANTS) throw new Error(`bench books inconsistent: ${JSON.stringify(check.problems)} ${run.payouts_created}`);
    versus = await beside(ctx, merchants, ledger_db, server);
  } finally {
    if (ledger_db) await handle.close();
    else {
      await handle.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await handle.close();
    }
    if (server && ledger_db) await dropDatabase(server, new URL(ledger_db).pathname.slice(1));
  }
  const engine = process.env.DATABASE_URL ? "postgres" : "pglite";
  const header = ["operation", "count", "ms", "per s"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`ledger bench on ${engine}: ${MERCHANTS} merchant IDs, ${PAYMENTS} payments`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  printTable(`\n${LOAD_WRITERS} writers for ${LOAD_SECONDS} s each, beside pgbench TPC-B@16 on the same server (${cpus().length}× ${cpus()[0]?.model ?? "?"})`, ["load", "count", "s", "per s", "× pgbench", "longest wait ms: row / any"], versus);
}

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(title);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function createDatabase(server: string, database: string): Promise<string> {
  await adminQuery(server, `CREATE DATABASE "${database}"`);
  return withDatabase(server, database);
}

async function dropDatabase(server: string, database: string): Promise<void> {
  await adminQuery(server, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
}

interface WaitsSeen {
  max_ms: number;
  samples: number;
  waiting_samples: number;
  what: string;
  /** The longest wait on a row (locktype tuple or transactionid), the criterion. */
  row_max_ms: number;
  row_what: string;
}

interface LockWaits {
  stop(): Promise<WaitsSeen>;
}

/**
 * The sampler's loop, run in a worker thread of its own: on the bench's event loop, busy building
 * batches, it got about 4 samples a second instead of 200.
 */
const SAMPLER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const pg = require(workerData.pg_path);
const c = new pg.Client({ connectionString: workerData.url });
const seen = { max_ms: 0, samples: 0, waiting_samples: 0, what: "-", row_max_ms: 0, row_what: "-" };
let stopped = false;
parentPort.on("message", () => (stopped = true));
const clean = (w) => (w || "-").replace(/\\s+/g, " ");
(async () => {
  await c.connect();
  while (!stopped) {
    const r = await c.query(workerData.sql);
    seen.samples++;
    if (r.rows.length > 0) seen.waiting_samples++;
    for (const row of r.rows) {
      if (row.ms > seen.max_ms) { seen.max_ms = row.ms; seen.what = clean(row.what); }
      if ((row.locktype === "tuple" || row.locktype === "transactionid") && row.ms > seen.row_max_ms) { seen.row_max_ms = row.ms; seen.row_what = clean(row.what); }
    }
    await new Promise((resolve) => setTimeout(resolve, workerData.interval_ms));
  }
  await c.end();
  parentPort.postMessage(seen);
})();
`;

const WAITING_SQL = `
  SELECT extract(epoch FROM clock_timestamp() - l.waitstart)::float8 * 1000 AS ms, l.locktype,
         l.locktype || ' ' || coalesce(l.relation::regclass::text, '') || ': ' || left(a.query, 60) AS what
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
   WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = current_database() AND a.pid <> pg_backend_pid()`;

/**
 * Samples every LOCK_SAMPLE_MS the lock waits of the bench's own database (nothing else runs there): the
 * longest wait seen is a lower bound of the longest wait, short by at most the sampling interval.
 */
function sampleLockWaits(url: string): LockWaits {
  const pg_path = createRequire(import.meta.url).resolve("pg");
  const worker = new Worker(SAMPLER_SOURCE, { eval: true, workerData: { url, pg_path, sql: WAITING_SQL, interval_ms: LOCK_SAMPLE_MS } });
  const result = new Promise<WaitsSeen>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return {
    stop: async () => {
      worker.postMessage("stop");
      const seen = await result;
      await worker.terminate();
      return seen;
    },
  };
}

/**
 * Runs `writer` in LOAD_WRITERS loops for `seconds`; entries posted and seconds taken. Each
 * transaction is one piece of work, as an HTTP request is: the configuration cache's version is
 * confirmed once per transaction (BEGIN, that read, the posting, COMMIT), not at every lookup.
 */
async function timedLoad(writer: () => Promise<number>, seconds = LOAD_SECONDS): Promise<{ entries: number; seconds: number }> {
  const started = performance.now();
  const until = started + seconds * 1000;
  let entries = 0;
  await Promise.all(
    Array.from({ length: LOAD_WRITERS }, async () => {
      while (performance.now() < until) {
        // Not `entries += await …`: that reads `entries` before the await and writes back a stale
        // sum, losing every other writer's entries posted meanwhile.
        const posted = await runCounted({ statements: 0, commits: 0 }, writer);
        entries += posted;
      }
    }),
  );
  return { entries, seconds: (performance.now() - started) / 1000 };
}

/** Issue 10's comparison: unbatched and batched postings at 16 writers, then pgbench TPC-B@16. */
async function beside(ctx: Ctx, merchants: string[], ledger_db: string | undefined, server: string | undefined): Promise<string[][]> {
  let n = 0;
  const payment = (): PaymentSucceeded => {
    const i = n++;
    const amount = BigInt(1_000 + ((i * 7919) % 100_000));
    const fee = (amount * 60n + 5_000n) / 10_000n;
    return { payment_id: newId("pay"), merchant_id: merchants[i % merchants.length]!, amount, fee, channel_id: i % 2 ? "netsunion" : "unionpay_nocard", network_cost: amount / 500n, at: ctx.clock.now() };
  };
  const applier = startLedgerApplier(ctx);
  const measured: { label: string; entries: number; seconds: number; wait: string }[] = [];
  const loads: [string, () => Promise<number>][] = [
    ["postings unbatched (1 entry/transaction)", () => ctx.db.transaction().execute(async (trx) => (await postPaymentSucceeded(trx, payment()), 1))],
    [`postings batched (${BATCH} entries/statement)`, () => ctx.db.transaction().execute(async (trx) => (await postPaymentsSucceeded(trx, Array.from({ length: BATCH }, payment))).length)],
  ];
  // Warm-up: every writer's connection opened and its backend's caches filled before timing.
  await timedLoad(loads[0]![1], 2);
  const load_before = loadavg()[0]!;
  for (const [label, writer] of loads) {
    const waits = ledger_db && LOCK_SAMPLE_MS > 0 ? sampleLockWaits(ledger_db) : null;
    const cpu_before = process.cpuUsage();
    const { entries, seconds } = await timedLoad(writer);
    const cpu = process.cpuUsage(cpu_before);
    const cpu_ms = (cpu.user + cpu.system) / 1000;
    console.log(`${label}: bench process CPU ${(cpu_ms / entries).toFixed(2)} ms per entry (${(cpu_ms / 10 / seconds).toFixed(0)} % of one core)`);
    const seen = await waits?.stop();
    measured.push({
      label,
      entries,
      seconds,
      wait: seen ? `${seen.row_max_ms.toFixed(1)} / ${seen.max_ms.toFixed(1)} (${seen.waiting_samples}/${seen.samples} samples waiting)` : "not measured",
    });
    if (seen && seen.max_ms > 0) console.log(`longest lock wait under "${label}": ${seen.max_ms.toFixed(1)} ms, ${seen.what}`);
    if (seen && seen.row_max_ms > 0) console.log(`longest row lock wait under "${label}": ${seen.row_max_ms.toFixed(1)} ms, ${seen.row_what}`);
  }
  await applier.stop();
  await applier.drain();
  const check = await checkBooks(ctx.db);
  if (!check.ok) throw new Error(`bench books inconsistent after the 16-writer loads: ${JSON.stringify(check.problems)}`);
  const tps = server ? await pgbenchTpcB(server) : NaN;
  if (!server) console.log("\npgbench: skipped on PGlite (an embedded single-connection engine: no server to run pgbench against)");
  const load_after = loadavg()[0]!;
  console.log(`load average (1 min) before the 16-writer loads ${load_before.toFixed(2)}, after pgbench ${load_after.toFixed(2)}`);
  const ratio = (rate: number) => (Number.isNaN(tps) ? "-" : (rate / tps).toFixed(2));
  return [
    ...measured.map((m) => [m.label, String(m.entries), m.seconds.toFixed(1), (m.entries / m.seconds).toFixed(0), ratio(m.entries / m.seconds), m.wait]),
    ["pgbench TPC-B@16 (scale 10, -c 16 -j 2)", "-", String(LOAD_SECONDS), Number.isNaN(tps) ? "skipped" : tps.toFixed(0), Number.isNaN(tps) ? "-" : "1.00", "-"],
  ];
}

/** pgbench TPC-B in a database of its own on the same server, created and dropped here. */
async function pgbenchTpcB(server: string): Promise<number> {
  if (!PGBENCH) {
    console.log("pgbench: not installed, skipped");
    return NaN;
  }
  const database = `ledgerbench_pgbench_${randomBytes(4).toString("hex")}`;
  const url = await createDatabase(server, database);
  try {
    const run = (args: string[]) => {
      const r = spawnSync(PGBENCH, [...args, url], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`pgbench ${args.join(" ")}: ${r.stderr || r.stdout}`);
      return r.stdout;
    };
    run(["-i", "-s", "10", "-q"]);
    const out = run(["-c", "16", "-j", "2", "-T", String(LOAD_SECONDS)]);
    const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
    return m ? Number(m[1]) : NaN;
  } finally {
    await dropDatabase(server, database);
  }
}

await main();
