/**
 * Reconciliation of a 1,000,000-line statement file (issue 12, docs/reconciliation.md).
 * `npm run bench -- recon` (engine from DATABASE_URL; PGlite in a temporary directory otherwise):
 *
 * 1. setup, not timed: a merchant ID, one card and agreement, N succeeded NetsUnion payments of
 *    one network day inserted set-based; the day's NetsUnion file written to disk with injected
 *    differences (per 10,000 lines: one amount, one fee, one missing line, one line paycore
 *    never saw), served by a local HTTP file server;
 * 2. timed: the file streamed down, hashed and checked (`downloadStatement`, the adapters' code),
 *    then the whole run (`runReconciliation`: load in batches, match, exceptions, counts);
 * 3. peak RSS of this process sampled every 50 ms during the timed part, and its lifetime peak
 *    (VmHWM). The counts found must be exactly the injected ones.
 *
 *   node --import tsx bench/recon.ts [lines=1000000]
 * Nothing here asserts a speed.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { once } from "node:events";
import { downloadStatement } from "../src/channels/statement-download.ts";
import { DEFAULT_SETTINGS, type Ctx } from "../src/context.ts";
import { sql } from "kysely";
import { connect, migrate } from "../src/db/index.ts";
import { ManualClock } from "../src/kernel/clock.ts";
import { SecretBox } from "../src/kernel/crypto/index.ts";
import { createLogger } from "../src/kernel/log.ts";
import { createEntity, createMerchant } from "../src/merchants/index.ts";
import { createChannelRegistry } from "../src/payments/channel-registry.ts";
import { HttpSmsGateway } from "../src/agreements/sms.ts";
import type { PaymentDeps } from "../src/payments/deps.ts";
import { networkDayWindow, runReconciliation, type RunPhase } from "../src/reconciliation/index.ts";
import { NETSUNION_COLUMNS, formatLine } from "../src/sandbox/statements.ts";
import { testUscc } from "../test/support/app.ts";

const LINES = Number(process.argv[2] ?? 1_000_000);
const DAY = "2026-03-03";
const ACTOR = { operator_id: "op_bench", request_id: "req_bench" };
const EVERY = 10_000;

function rssMb(): number {
  return process.memoryUsage.rss() / 1024 / 1024;
}
function hwmMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

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

async function main(): Promise<void> {
  const rss_at_start = rssMb(); // the modules loaded (through tsx here; \`npm start\` runs compiled dist/)
  const dir = mkdtempSync(join(tmpdir(), "paycore-bench-recon-"));
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const handle = await connect({ database_url: process.env.DATABASE_URL, data_dir: process.env.DATABASE_URL ? "memory" : join(dir, "pglite"), schema });
  const clock = new ManualClock("2026-03-03T22:00:00Z"); // 06:00 Beijing the next morning: the day is closed
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const ctx: Ctx = { db: handle.db, clock, box: new SecretBox(randomBytes(32)), log: createLogger("warn", sink), settings: DEFAULT_SETTINGS };
  const deps: PaymentDeps = { ctx, channels: createChannelRegistry(ctx, { data_dir: dir, sandbox_url: null }), sms: new HttpSmsGateway("http://127.0.0.1:9"), sandbox_url: null };
  const rows: [string, string][] = [];
  const setup_start = Date.now();
  try {
    await migrate(handle.db);
    const { entity } = await createEntity(ctx, { legal_name: "Bench Recon", uscc: testUscc() }, ACTOR);
    const settlement = { mode: "own" as const, cycle_days: 1, account: { account_name: "Bench", account_number: "62220000000000001", bank_code: "102290000012" } };
    const { merchant } = await createMerchant(ctx, { entity_id: entity.entity_id, name: "Bench", business_category: "retail", risk_level: "low", products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }], settlement }, ACTOR);
    const merchant_id = merchant.row.merchant_id;
    const at = new Date("2026-03-02T15:00:00Z");
    await handle.db.insertInto("cards").values({
      card_id: "card_bench", card_fingerprint: "bench", card_number_enc: "x", bin: "622202", last4: "1234", bank_code: "ICBC", bank_name: "ICBC", card_type: "debit",
      holder_name_enc: "x", id_number_enc: "x", id_fingerprint: "bench", phone_enc: "x", created_at: at, updated_at: at,
    }).execute();
    await handle.db.insertInto("agreements").values({ agreement_id: "agr_bench", merchant_id, user_ref: "bench", card_id: "card_bench", sign_request_id: null, status: "active", created_at: at, unbound_at: null, unbound_reason: null }).execute();
    // N payments spread over the first 20 hours of the network's day (none near the cut-off).
    const window = networkDayWindow(DAY, 23 * 60);
    const step_ms = Math.floor((20 * 3_600_000) / LINES);
    for (let from = 0; from < LINES; from += 100_000) {
      const to = Math.min(LINES, from + 100_000) - 1;
      await sql`
        INSERT INTO payments (payment_id, merchant_id, out_trade_no, request_hash, agreement_id, card_id, channel_id, txn_id, network_txn_id, amount, currency,
          fee, network_cost, status, network_state, description, created_at, updated_at, succeeded_at)
        SELECT 'pay_bench_' || lpad(i::text, 9, '0'), ${merchant_id}, 'o' || i, 'h', 'agr_bench', 'card_bench', 'netsunion', 'BT' || lpad(i::text, 12, '0'),
          ${`N${DAY.replace(/-/g, "")}`} || lpad(i::text, 12, '0'), 1000 + (i::int8 * 7919) % 90000, 'CNY', 0,
          ((1000 + (i::int8 * 7919) % 90000) * 4 + 5000) / 10000, 'succeeded', 'final', 'bench',
          ${window.from}::timestamptz + (i::int8 * ${step_ms}::int8) * interval '1 millisecond', ${window.from}::timestamptz, ${window.from}::timestamptz
        FROM generate_series(${from}::int, ${to}::int) AS i`.execute(handle.db);
    }
    const file_path = join(dir, "statement.txt");
    const file = await writeFile(file_path);
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": String(statSync(file_path).size) });
      createReadStream(file_path).pipe(res);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/files/statement.txt`;
    rows.push(["engine", process.env.DATABASE_URL ? "postgres" : "pglite (temp data dir)"]);
    rows.push(["payments / file lines", `${LINES} / ${file.lines} (${(file.bytes / 1024 / 1024).toFixed(0)} MB)`]);
    rows.push(["setup (not timed)", `${((Date.now() - setup_start) / 1000).toFixed(1)} s`]);

    const rss_before = rssMb();
    let peak = rss_before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 50);
    const phases: Partial<Record<RunPhase, number>> = {};
    const t0 = performance.now();
    const downloaded = await downloadStatement("netsunion", url, { bytes: file.bytes, sha256: file.sha256 });
    if ("status" in downloaded) throw new Error(`download refused: ${downloaded.message}`);
    const t_download = performance.now();
    const { run } = await runReconciliation(deps, {
      channel_id: "netsunion", date: DAY, auto_resolve: false, settlement_source: null,
      file: { sha256: downloaded.sha256, records: downloaded.records(), dispose: () => downloaded.dispose() },
      progress: (phase) => (phases[phase] ??= performance.now()),
    });
    const t_end = performance.now();
    clearInterval(sampler);
    peak = Math.max(peak, rssMb());
    server.close();

    const results = await handle.db.selectFrom("reconciliation_results").selectAll().where("reconciliation_id", "=", run.reconciliation_id).execute();
    const count = (r: string) => Number(results.find((x) => x.result === r)?.item_count ?? 0n);
    const blocks = Math.ceil(LINES / EVERY);
    const expected = { matched: LINES - 3 * blocks, amount_mismatch: blocks, fee_mismatch: blocks, platform_only: blocks, network_only: blocks };
    for (const [k, v] of Object.entries(expected)) if (count(k) !== v) throw new Error(`${k}: found ${count(k)}, injected ${v}`);

    const s = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)} s`;
    rows.push(["download + verify + check lines", s(t0, t_download)]);
    rows.push(["load lines (5,000 per INSERT)", s(phases.loading ?? t_download, phases.matching ?? t_end)]);
    rows.push(["match + exceptions + counts", s(phases.matching ?? t_end, t_end)]);
    rows.push(["total (timed)", s(t0, t_end)]);
    rows.push(["RSS at start (modules loaded, tsx)", `${rss_at_start.toFixed(0)} MB`]);
    rows.push(["RSS before the timed run", `${rss_before.toFixed(0)} MB`]);
    rows.push(["peak RSS during the run", `${peak.toFixed(0)} MB (+${(peak - rss_before).toFixed(0)} MB)`]);
    rows.push(["peak RSS of the process (VmHWM)", `${hwmMb().toFixed(0)} MB`]);
    rows.push(["found", Object.entries(expected).map(([k, v]) => `${k} ${v}`).join(", ") + " (exactly as injected)"]);
  } finally {
    await handle.db.schema.dropSchema(schema).ifExists().cascade().execute().catch(() => {});
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`reconciliation bench: ${LINES} statement lines`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

await main();
