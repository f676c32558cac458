/**
 * Reconciliation of a 1,000,000-line statement file (issue 12, docs/reconciliation.md).
 * `npm run bench -- recon` (engine from DATABASE_URL; PGlite in a temporary directory otherwise):
 *
 * 1. setup, not timed: a merchant ID, one card and agreement, N succeeded NetsUnion payments of
 *    one network day generated in the database (`generate_series`, 200,000 rows a statement, then
 *    ANALYZE, as a live table would be); the day's NetsUnion file written to disk with injected
 *    differences (per 10,000 lines: one amount, one fee, one missing line, one line paycore
 *    never saw), served by a local HTTP file server;
 * 2. timed, in a child process on the JavaScript build in dist/ (bench/recon-run.mjs, as
 *    `paycore reconcile` runs): the file streamed down, hashed and checked (`downloadStatement`,
 *    the adapters' code), then the whole run (`runReconciliation`);
 * 3. the child's peak RSS (VmHWM). The counts found must be exactly the injected ones.
 *
 *   node --import tsx bench/recon.ts [lines=1000000]
 *   BENCH_RECON_KEEP=1: keep the seeded schema (or PGlite directory) and the file under
 *     $TMPDIR/paycore-bench-recon-<lines> and reuse them on the next run (only the
 *     reconciliation's own rows are cleared), so that iterations skip the setup.
 *   BENCH_RECON_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": extra node flags for the child.
 * Nothing here asserts a speed.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { once } from "node:events";
import { sql, type Kysely } from "kysely";
// @ts-expect-error: plain JavaScript (bin/), no declarations
import { ensureBuilt } from "../bin/launch.js";
import { DEFAULT_SETTINGS, type Ctx } from "../src/context.ts";
import { connect, migrate, type Database, type DatabaseHandle } from "../src/db/index.ts";
import { ManualClock } from "../src/kernel/clock.ts";
import { SecretBox } from "../src/kernel/crypto/index.ts";
import { createLogger } from "../src/kernel/log.ts";
import { createEntity, createMerchant } from "../src/merchants/index.ts";
import { networkDayWindow } from "../src/reconciliation/index.ts";
import { NETSUNION_COLUMNS, formatLine } from "../src/sandbox/statements.ts";
import { testUscc } from "../test/support/app.ts";

const LINES = Number(process.argv[2] ?? process.env.BENCH_RECON_LINES ?? 1_000_000);
const KEEP = process.env.BENCH_RECON_KEEP === "1";
const NOW = "2026-03-03T22:00:00Z"; // 06:00 Beijing the next morning: the day is closed
const DAY = "2026-03-03";
const ACTOR = { operator_id: "op_bench", request_id: "req_bench" };
const EVERY = 10_000;

/** Payment i: amount and the network's fee as paycore booked it. */
const amountOf = (i: number) => 1_000n + BigInt((i * 7919) % 90_000);
const feeOf = (amount: bigint) => (amount * 4n + 5_000n) / 10_000n;
const paymentId = (i: number) => `pay_bench_${String(i).padStart(9, "0")}`;
const txnId = (i: number) => `BT${String(i).padStart(12, "0")}`;
const networkTxnId = (i: number) => `N${DAY.replace(/-/g, "")}${String(i).padStart(12, "0")}`;

interface FileLine {
  kind: "pay";
  i: number;
  amount: bigint;
  fee: bigint;
  extra: boolean;
}

/** The network's file: every payment, except the injected differences. */
function* fileLines(): Generator<FileLine> {
  for (let i = 0; i < LINES; i += 1) {
    const k = i % EVERY;
    if (k === 2) continue; // missing: platform-only
    const amount = amountOf(i);
    yield { kind: "pay", i, amount: k === 0 ? amount + 1n : amount, fee: k === 1 ? feeOf(amount) + 1n : feeOf(amount), extra: false };
    if (k === 3) yield { kind: "pay", i: LINES + i, amount: 5_000n, fee: feeOf(5_000n), extra: true }; // network-only
  }
}

function lineText(l: FileLine): string {
  return formatLine(NETSUNION_COLUMNS, {
    record_type: "D", category: "0110", network_txn_id: networkTxnId(l.i), txn_id: txnId(l.i), order_id: l.extra ? `ext_${l.i}` : paymentId(l.i),
    agreement_no: "AGBENCH000000000000000001", amount: l.amount.toString(), fee: l.fee.toString(), settle_amount: (l.amount - l.fee).toString(),
    settle_date: DAY.replace(/-/g, ""), txn_time: "20260303120000", card: "622202******1234",
  });
}

async function writeFile(path: string): Promise<{ bytes: number; sha256: string; lines: number }> {
  let count = 0;
  let net = 0n;
  for (const l of fileLines()) {
    count += 1;
    net += l.amount - l.fee;
  }
  const out = createWriteStream(path);
  const hash = createHash("sha256");
  let bytes = 0;
  const write = async (text: string) => {
    const buf = Buffer.from(text, "utf8");
    hash.update(buf);
    bytes += buf.length;
    if (!out.write(buf)) await once(out, "drain");
  };
  await write(`H ${DAY.replace(/-/g, "")} ${String(count).padStart(8, "0")} ${net.toString().padStart(16, " ")}\n`);
  let chunk: string[] = [];
  for (const l of fileLines()) {
    chunk.push(lineText(l));
    if (chunk.length === 1_000) {
      await write(`${chunk.join("\n")}\n`);
      chunk = [];
    }
  }
  if (chunk.length) await write(`${chunk.join("\n")}\n`);
  out.end();
  await once(out, "finish");
  return { bytes, sha256: hash.digest("hex"), lines: count };
}

interface Seeded {
  bytes: number;
  sha256: string;
  lines: number;
}

/** The merchant, card and agreement, then the day's payments generated in the database, then ANALYZE. */
async function seedPayments(ctx: Ctx): Promise<void> {
  const db = ctx.db;
  await migrate(db);
  const { entity } = await createEntity(ctx, { legal_name: "Bench Recon", uscc: testUscc() }, ACTOR);
  const settlement = { mode: "own" as const, cycle_days: 1, account: { account_name: "Bench", account_number: "62220000000000001", bank_code: "102290000012" } };
  const { merchant } = await createMerchant(ctx, { entity_id: entity.entity_id, name: "Bench", business_category: "retail", risk_level: "low", products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }], settlement }, ACTOR);
  const merchant_id = merchant.row.merchant_id;
  const at = new Date("2026-03-02T15:00:00Z");
  await db.insertInto("cards").values({
    card_id: "card_bench", card_fingerprint: "bench", card_number_enc: "x", bin: "622202", last4: "1234", bank_code: "ICBC", bank_name: "ICBC", card_type: "debit",
    holder_name_enc: "x", id_number_enc: "x", id_fingerprint: "bench", phone_enc: "x", created_at: at, updated_at: at,
  }).execute();
  await db.insertInto("agreements").values({ agreement_id: "agr_bench", merchant_id, user_ref: "bench", card_id: "card_bench", sign_request_id: null, status: "active", created_at: at, unbound_at: null, unbound_reason: null }).execute();
  // N payments spread over the first 20 hours of the network's day (none near the cut-off).
  const window = networkDayWindow(DAY, 23 * 60);
  const step_ms = Math.floor((20 * 3_600_000) / LINES);
  for (let from = 0; from < LINES; from += 200_000) {
    const to = Math.min(LINES, from + 200_000) - 1;
    await sql`
      INSERT INTO payments (payment_id, merchant_id, out_trade_no, request_hash, agreement_id, card_id, channel_id, txn_id, network_txn_id, amount, currency,
        fee, network_cost, status, network_state, description, created_at, updated_at, succeeded_at)
      SELECT 'pay_bench_' || lpad(i::text, 9, '0'), ${merchant_id}, 'o' || i, 'h', 'agr_bench', 'card_bench', 'netsunion', 'BT' || lpad(i::text, 12, '0'),
        ${`N${DAY.replace(/-/g, "")}`} || lpad(i::text, 12, '0'), 1000 + (i::int8 * 7919) % 90000, 'CNY', 0,
        ((1000 + (i::int8 * 7919) % 90000) * 4 + 5000) / 10000, 'succeeded', 'final', 'bench',
        ${window.from}::timestamptz + (i::int8 * ${step_ms}::int8) * interval '1 millisecond', ${window.from}::timestamptz, ${window.from}::timestamptz
      FROM generate_series(${from}::int, ${to}::int) AS i`.execute(db);
  }
  await sql`ANALYZE payments`.execute(db);
}

/** What a previous run left: the reconciliation's own rows (the seeded payments stay); TRUNCATE leaves no dead rows behind. */
async function clearRuns(db: Kysely<Database>): Promise<void> {
  await sql`TRUNCATE reconciliation_exceptions, reconciliation_results, reconciliation_lines, reconciliation_alerts, reconciliations`.execute(db);
}

function ctxOf(handle: DatabaseHandle): Ctx {
  const sink = new Writable({ write: (_c, _e, done) => done() });
  return { db: handle.db, clock: new ManualClock(NOW), box: new SecretBox(randomBytes(32)), log: createLogger("warn", sink), settings: DEFAULT_SETTINGS };
}

interface ChildResult {
  reconciliation_id: string;
  download_ms: number;
  total_ms: number;
  phases: Partial<Record<string, number>>;
  rss_before_mb: number;
  rss_peak_mb: number;
  heap_total_mb: number;
  external_mb: number;
}

/** Runs bench/recon-run.mjs (asynchronously: this process serves the file meanwhile). */
async function runChild(job: Record<string, unknown>): Promise<ChildResult> {
  const extra = (process.env.BENCH_RECON_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...extra, join(import.meta.dirname, "recon-run.mjs"), JSON.stringify(job)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`bench/recon-run.mjs exited with ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as ChildResult;
}

async function main(): Promise<void> {
  ensureBuilt();
  const dir = KEEP ? join(tmpdir(), `paycore-bench-recon-${LINES}`) : mkdtempSync(join(tmpdir(), "paycore-bench-recon-"));
  mkdirSync(dir, { recursive: true });
  const schema = KEEP ? `bench_recon_${LINES}` : `bench_${randomBytes(4).toString("hex")}`;
  const database_url = process.env.DATABASE_URL;
  const db_options = { database_url, data_dir: database_url ? "memory" : join(dir, "pglite"), schema };
  const marker = join(dir, `seeded-${database_url ? "postgres" : "pglite"}.json`);
  const file_path = join(dir, "statement.txt");
  const rows: [string, string][] = [];
  let handle = await connect(db_options);
  let cleanup = true;
  try {
    let seeded: Seeded | null = KEEP && existsSync(marker) && existsSync(file_path) ? (JSON.parse(readFileSync(marker, "utf8")) as Seeded) : null;
    const t_setup = Date.now();
    if (seeded) {
      await migrate(handle.db);
      await clearRuns(handle.db);
      rows.push(["setup (not timed)", `reused ${schema} and ${file_path} (reconciliation rows cleared, ${((Date.now() - t_setup) / 1000).toFixed(1)} s)`]);
    } else {
      await seedPayments(ctxOf(handle));
      const t_file = Date.now();
      seeded = await writeFile(file_path);
      if (KEEP) writeFileSync(marker, JSON.stringify(seeded));
      rows.push(["setup (not timed)", `payments ${((t_file - t_setup) / 1000).toFixed(1)} s, file ${((Date.now() - t_file) / 1000).toFixed(1)} s`]);
    }
    cleanup = !KEEP;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": String(statSync(file_path).size) });
      createReadStream(file_path).pipe(res);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/files/statement.txt`;
    rows.unshift(["payments / file lines", `${LINES} / ${seeded.lines} (${(seeded.bytes / 1024 / 1024).toFixed(0)} MB)`]);
    rows.unshift(["engine", database_url ? "postgres" : "pglite (temp data dir)"]);

    // PGlite is one process's: the child opens the directory once this process has let it go.
    await handle.close();
    let result: ChildResult;
    try {
      result = await runChild({ ...db_options, dir, now: NOW, url, bytes: seeded.bytes, sha256: seeded.sha256, date: DAY });
    } finally {
      server.close();
      handle = await connect(db_options);
    }
    const results = await handle.db.selectFrom("reconciliation_results").selectAll().where("reconciliation_id", "=", result.reconciliation_id).execute();
    const count = (r: string) => Number(results.find((x) => x.result === r)?.item_count ?? 0n);
    const blocks = Math.ceil(LINES / EVERY);
    const expected = { matched: LINES - 3 * blocks, amount_mismatch: blocks, fee_mismatch: blocks, platform_only: blocks, network_only: blocks };
    for (const [k, v] of Object.entries(expected)) if (count(k) !== v) throw new Error(`${k}: found ${count(k)}, injected ${v}`);

    const s = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)} s`;
    const p = result.phases;
    rows.push(["download + verify + check lines", s(0, result.download_ms)]);
    rows.push(["load lines", s(p.loading ?? result.download_ms, p.matching ?? result.total_ms)]);
    rows.push(["match + exceptions + counts", s(p.matching ?? result.total_ms, result.total_ms)]);
    rows.push(["total (timed)", `${s(0, result.total_ms)} (${Math.round(seeded.lines / (result.total_ms / 1000)).toLocaleString("en")} lines/s)`]);
    rows.push(["RSS of the run's process before", `${result.rss_before_mb.toFixed(0)} MB (node on dist/, modules loaded, connected)`]);
    rows.push(["peak RSS of the run's process", `${result.rss_peak_mb.toFixed(0)} MB (VmHWM; V8 heap at most ${result.heap_total_mb.toFixed(0)} MB, Buffers ${result.external_mb.toFixed(0)} MB)`]);
    rows.push(["found", Object.entries(expected).map(([k, v]) => `${k} ${v}`).join(", ") + " (exactly as injected)"]);
  } finally {
    if (cleanup) await handle.db.schema.dropSchema(schema).ifExists().cascade().execute().catch(() => {});
    await handle.close();
    if (cleanup) rmSync(dir, { recursive: true, force: true });
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`reconciliation bench: ${LINES} statement lines`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

await main();
