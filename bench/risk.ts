/**
 * What the risk rules add to a payment, with 20 rules (card, ID holder and merchant ID scopes;
 * velocity, amount and first-payment caps; enforce with scope locks, review and shadow) over a
 * seeded history of payments (20,000 by default, spread over 30 days, 400 cards of 200 ID holders,
 * 5 merchant IDs):
 *
 * - hook: `screenPayment` around the intent insert against the insert alone, interleaved, so the
 *   difference is the rules' own cost (in the intent's statement: the scope locks, the count and
 *   the judgement, and the stored decision; the rules come from the configuration cache and the
 *   blocklist with the payment's first read, as in a request);
 * - end to end: POST /v1/payments through the sandbox network with no rules, then with the 20.
 *
 *   npm run bench -- risk                                   # embedded PGlite
 *   DATABASE_URL=postgres://…/test npm run bench -- risk    # PostgreSQL
 *
 * The seeded tables are analyzed before timing (BENCH_ANALYZE=0: not), as autovacuum would have.
 * BENCH_RISK_HISTORY=200000 sets the history's size; BENCH_RISK_SAMPLES the payments timed per
 * variant (1,000); BENCH_RISK_EXPLAIN=1 prints the counting statement's EXPLAIN (ANALYZE, BUFFERS)
 * for the 20 rules before timing (the plan a payment gets: with a long history PostgreSQL once
 * gave it parallel workers).
 */
import { sql, type Kysely } from "kysely";
import { confirmConfigAfterwards, runCounted, type CardRow, type Database, type PaymentRow } from "../src/db/index.ts";
import { newId } from "../src/kernel/ids.ts";
import { insertIntent } from "../src/payments/intent.ts";
import { windowUsageQuery } from "../src/risk/counters.ts";
import { judgeInStatement, lockKeys, ruleWindows } from "../src/risk/evaluate.ts";
import { getAgreementForPayment } from "../src/agreements/store.ts";
import { applicableRules, rebuildCounters, screenPayment } from "../src/risk/index.ts";
import { TWENTY_RULES } from "./risk-rules.ts";
import { catalogue, pickCard, signCard } from "../test/payments/helpers.ts";
import { createTestMerchant, startTestApp, type TestApp } from "../test/support/app.ts";

const HISTORY_PAYMENTS_MAX = 5_000_000;
/** Payments in the seeded history (BENCH_RISK_HISTORY, e.g. 200000): spread over the last 30 days. */
const HISTORY_PAYMENTS = whole("BENCH_RISK_HISTORY", 20_000, HISTORY_PAYMENTS_MAX);
const CARDS = 400;
const HOLDERS = 200;
/** Payments timed per variant (BENCH_RISK_SAMPLES). */
const SAMPLES = whole("BENCH_RISK_SAMPLES", 1_000, 100_000);
const E2E_PAYMENTS = 200;

function whole(name: string, fallback: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}`);
  return n;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}


async function seedHistory(app: TestApp, merchant_ids: string[]): Promise<{ cards: CardRow[]; agreements: Map<string, string> }> {
  const db = app.ctx.db;
  const now = app.ctx.clock.now();
  const cards: CardRow[] = [];
  for (let i = 0; i < CARDS; i++) {
    const card_id = newId("crd", now.getTime());
    const seal = (field: string, v: string) => app.ctx.box.seal(v, `card:${card_id}:${field}`);
    cards.push({
      card_id, card_fingerprint: app.ctx.box.fingerprint("card_number", `bench-card-${i}`), card_number_enc: seal("card_number", `62220200000${String(i).padStart(5, "0")}`),
      bin: "622202", last4: String(i).padStart(4, "0"), bank_code: "ICBC", bank_name: "ICBC", card_type: "debit", holder_name_enc: seal("holder_name", "bench"),
      id_number_enc: seal("id_number", `bench-id-${i % HOLDERS}`), id_fingerprint: app.ctx.box.fingerprint("id_number", `bench-id-${i % HOLDERS}`),
      phone_enc: seal("phone", `1390000${String(i).padStart(4, "0")}`), phone_fingerprint: app.ctx.box.fingerprint("phone", `1390000${String(i).padStart(4, "0")}`), created_at: new Date(now.getTime() - 40 * 86_400_000), updated_at: now,
    });
  }
  await db.insertInto("cards").values(cards).execute();
  const agreements = new Map<string, string>();
  const rows = merchant_ids.flatMap((merchant_id) => cards.map((c) => {
    const agreement_id = newId("agr", now.getTime());
    agreements.set(`${merchant_id}:${c.card_id}`, agreement_id);
    return { agreement_id, merchant_id, user_ref: "bench", card_id: c.card_id, sign_request_id: null, status: "active" as const, created_at: c.created_at, unbound_at: null, unbound_reason: null };
  }));
  for (let i = 0; i < rows.length; i += 1_000) await db.insertInto("agreements").values(rows.slice(i, i + 1_000)).execute();
  const history: PaymentRow[] = [];
  for (let i = 0; i < HISTORY_PAYMENTS; i++) {
    const card = cards[i % CARDS]!;
    const merchant_id = merchant_ids[i % merchant_ids.length]!;
    history.push(paymentRow(merchant_id, agreements.get(`${merchant_id}:${card.card_id}`)!, card.card_id, new Date(now.getTime() - Math.floor((i / HISTORY_PAYMENTS) * 30 * 86_400_000)), i % 10 === 0 ? "failed" : "succeeded"));
  }
  for (let i = 0; i < history.length; i += 1_000) await db.insertInto("payments").values(history.slice(i, i + 1_000)).execute();
  // The history went straight into the table: its counter buckets are built as the migration does.
  await rebuildCounters(db, new Date(now.getTime() - 33 * 86_400_000));
  // Statistics, as autovacuum would have gathered them on a database with this history: without
  // them the first payments' connections made their generic plans on a table of no known size, and
  // autovacuum's ANALYZE a minute into the run replaced them mid-measurement. BENCH_ANALYZE=0
  // measures the unanalyzed database instead.
  if (process.env.BENCH_ANALYZE !== "0") await sql`ANALYZE payments, cards, agreements, risk_counters`.execute(db);
  return { cards, agreements };
}

function paymentRow(merchant_id: string, agreement_id: string, card_id: string, at: Date, status: PaymentRow["status"]): PaymentRow {
  return {
    payment_id: newId("pay", at.getTime()), merchant_id, sub_merchant_id: null, out_trade_no: newId("req", at.getTime()), request_hash: "bench", agreement_id, card_id,
    channel_id: "netsunion", card_agreement_id: null, route_reason: "bench", txn_id: newId("ntx", at.getTime()), network_txn_id: null, amount: 12_345n, currency: "CNY",
    fee: null, network_cost: null, status, network_state: "final", failure_code: null, failure_message: null, description: "bench", metadata: null, notify_url: null,
    refunded_amount: 0n, query_attempts: 0, next_query_at: status === "processing" ? at : null, alert: false, created_at: at, updated_at: at, succeeded_at: null, failed_at: null,
  };
}

/** Rules apply to the first RULED_MERCHANTS merchant IDs only: the others pay with 0 rules. */
const RULED_MERCHANTS = 3;

async function benchHook(app: TestApp, merchant_ids: string[]): Promise<Record<string, string | number>[]> {
  const { cards, agreements } = await seedHistory(app, merchant_ids);
  const ruled = merchant_ids.slice(0, RULED_MERCHANTS);
  const unruled = merchant_ids.slice(RULED_MERCHANTS);
  for (const merchant_id of ruled) {
    for (const rule of TWENTY_RULES) {
      const res = await app.admin("POST", "/admin/v1/risk/rules", { ...rule, merchant_id });
      if (res.status !== 201) throw new Error(`rule: ${JSON.stringify(res.body)}`);
    }
  }
  if (process.env.BENCH_RISK_EXPLAIN) await explainCount(app, ruled[0]!, cards[0]!);
  // Fills the configuration cache with the rules (a running server has it warm).
  for (const merchant_id of merchant_ids) await applicableRules(app.ctx.db, "payment", merchant_id);
  const insert = async (db: Kysely<Database>, row: PaymentRow) => (await db.insertInto("payments").values(row).returningAll().executeTakeFirst()) ?? null;
  const bare: number[] = [];
  const zero: number[] = [];
  const twenty: number[] = [];
  // This process's CPU (user + system, µs) over the timed hooks: what the rules cost the client
  // whatever the machine's run queue (the database is another process).
  const cpu_us = new Map<number[], number>();
  const screened = async (merchant_id: string, card: CardRow, i: number, into: number[]) => {
    const row = paymentRow(merchant_id, agreements.get(`${merchant_id}:${card.card_id}`)!, card.card_id, app.ctx.clock.now(), "processing");
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    // The blocklist comes with the payment's first read (getAgreementForPayment), outside the hook.
    const screening = { merchant_id, card, amount: 12_345n, out_trade_no: `bench-${into.length}-${i}-${merchant_id}`, payment_id: row.payment_id, created_at: row.created_at, blocked: [] };
    // As in a merchant request: the cached rules' version is confirmed by the request's own
    // statements (its nonce's), not by a read of its own.
    await runCounted({ statements: 0, commits: 0 }, async () => {
      confirmConfigAfterwards(app.ctx.db);
      await screenPayment(app.ctx, screening, (db, counters) => insertIntent(db, row, counters, null).then((r) => (r.kind === "inserted" ? r.payment : null)));
    });
    into.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu_us.set(into, (cpu_us.get(into) ?? 0) + c.user + c.system);
  };
  // As createPayment does it: the payment's first read (agreement, card, blocklist), then the hook.
  const read_zero: number[] = [];
  const read_twenty: number[] = [];
  const readAndScreen = async (merchant_id: string, card: CardRow, i: number, into: number[]) => {
    const agreement_id = agreements.get(`${merchant_id}:${card.card_id}`)!;
    const row = paymentRow(merchant_id, agreement_id, card.card_id, app.ctx.clock.now(), "processing");
    const t0 = performance.now();
    await runCounted({ statements: 0, commits: 0 }, async () => {
      confirmConfigAfterwards(app.ctx.db);
      const read = await getAgreementForPayment(app.ctx.db, merchant_id, agreement_id, row.out_trade_no);
      const screening = { merchant_id, card: read!.card, amount: 12_345n, out_trade_no: `bench-r${into.length}-${i}-${merchant_id}`, payment_id: row.payment_id, created_at: row.created_at, blocked: read!.blocked };
      await screenPayment(app.ctx, screening, (db, counters) => insertIntent(db, row, counters, null).then((r) => (r.kind === "inserted" ? r.payment : null)));
    });
    into.push(performance.now() - t0);
  };
  // Interleaved, so that the machine's load weighs on every variant alike.
  for (let i = 0; i < SAMPLES; i++) {
    const card = cards[(i * 7) % CARDS]!;
    const merchant_id = ruled[i % ruled.length]!;
    const t0 = performance.now();
    await insert(app.ctx.db, paymentRow(merchant_id, agreements.get(`${merchant_id}:${card.card_id}`)!, card.card_id, app.ctx.clock.now(), "processing"));
    bare.push(performance.now() - t0);
    await screened(unruled[i % unruled.length]!, card, i, zero);
    await screened(merchant_id, card, i, twenty);
    await readAndScreen(unruled[i % unruled.length]!, card, i, read_zero);
    await readAndScreen(merchant_id, card, i, read_twenty);
  }
  for (const list of [bare, zero, twenty, read_zero, read_twenty]) list.sort((a, b) => a - b);
  const server = await countingStatementTimes(app, ruled, cards);
  const backend_cpu = await judgeBackendCpuMs(app, ruled, cards);
  const cpu_ms = (xs: number[]) => (cpu_us.get(xs) ?? 0) / 1000 / xs.length;
  const engine = process.env.DATABASE_URL ? "postgres" : "pglite";
  const pair = (xs: number[]) => `${percentile(xs, 50).toFixed(2)} / ${percentile(xs, 99).toFixed(2)}`;
  const diff = (xs: number[], ys: number[]) => `${(percentile(xs, 50) - percentile(ys, 50)).toFixed(2)} / ${(percentile(xs, 99) - percentile(ys, 99)).toFixed(2)}`;
  return [
    { bench: "insert alone", engine, samples: SAMPLES, "p50 / p99 ms": pair(bare) },
    { bench: "risk hook + insert, 0 rules", engine, samples: SAMPLES, "p50 / p99 ms": pair(zero) },
    { bench: "risk hook + insert, 20 rules", engine, samples: SAMPLES, "p50 / p99 ms": pair(twenty) },
    { bench: "added by 20 rules vs 0 rules", engine, samples: SAMPLES, "p50 / p99 ms": diff(twenty, zero) },
    { bench: "this process's CPU per hook, 0 → 20 rules (mean ms)", engine, samples: SAMPLES, "p50 / p99 ms": `${cpu_ms(zero).toFixed(3)} → ${cpu_ms(twenty).toFixed(3)}` },
    { bench: "added by hook + 20 rules vs insert alone", engine, samples: SAMPLES, "p50 / p99 ms": diff(twenty, bare) },
    { bench: "first read + hook + insert, 0 rules", engine, samples: SAMPLES, "p50 / p99 ms": pair(read_zero) },
    { bench: "first read + hook + insert, 20 rules", engine, samples: SAMPLES, "p50 / p99 ms": pair(read_twenty) },
    { bench: "added by 20 rules vs 0 rules, with the first read", engine, samples: SAMPLES, "p50 / p99 ms": diff(read_twenty, read_zero) },
    { bench: "count and judgement (risk_payment_judge), 20 rules: planning + execution in the server", engine, samples: server.length, "p50 / p99 ms": pair(server) },
    { bench: "risk_payment_judge, 20 rules: the backend's CPU per call (mean ms; user + system, from /proc)", engine, samples: JUDGE_CPU_CALLS, "p50 / p99 ms": backend_cpu === null ? "n/a (not a local PostgreSQL)" : backend_cpu.toFixed(3) },
  ];
}

/**
 * The intent statement's risk guard on its own in the database (`risk_payment_judge`: the scope
 * locks, the count of every window and the judgement; planning + execution, from EXPLAIN ANALYZE
 * without per-node timing), for the same cards and merchant IDs as the timed payments: what the
 * rules cost the server without the client, the round trip or the machine's run queue in front.
 */
async function countingStatementTimes(app: TestApp, merchant_ids: string[], cards: CardRow[]): Promise<number[]> {
  const times: number[] = [];
  const runs = Math.min(SAMPLES, 500);
  for (let i = 0; i < runs; i++) {
    const card = cards[(i * 7) % cards.length]!;
    const merchant_id = merchant_ids[i % merchant_ids.length]!;
    const rules = await applicableRules(app.ctx.db, "payment", merchant_id);
    const attempt = { subject: "payment" as const, keys: { card_id: card.card_id, id_fingerprint: card.id_fingerprint, merchant_id }, amount: 12_345n, now: app.ctx.clock.now(), card_since: card.created_at };
    // What a payment's intent statement runs first: the scope locks, the count and the judgement.
    const query = sql`SELECT ${judgeInStatement(rules, attempt, lockKeys(rules, attempt.keys, "payment"), newId("pay", attempt.now.getTime()))} AS ok`;
    const plan = await sql<{ "QUERY PLAN": unknown }>`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) ${query}`.execute(app.ctx.db);
    const cell = plan.rows[0]!["QUERY PLAN"];
    const [summary] = (typeof cell === "string" ? JSON.parse(cell) : cell) as { "Planning Time": number; "Execution Time": number }[];
    times.push(summary!["Planning Time"] + summary!["Execution Time"]);
  }
  return times.sort((a, b) => a - b);
}

const JUDGE_CPU_CALLS = 1_000;

/**
 * The CPU the PostgreSQL backend spends per `SELECT risk_payment_judge(…)` (20 rules; statement
 * received, planned, executed and answered), read from /proc/PID/stat of the backend before and
 * after JUDGE_CPU_CALLS calls on one connection (a transaction, rolled back: the locks are
 * re-entrant). Unlike the EXPLAIN times above, a run queue does not stretch it, so it compares
 * changes to the function at different loads. Null when the backend is not a process of this
 * machine (PGlite, a remote server). The clock tick is 10 ms: ±1 % at ~0.6 ms a call.
 */
async function judgeBackendCpuMs(app: TestApp, merchant_ids: string[], cards: CardRow[]): Promise<number | null> {
  const { readFileSync } = await import("node:fs");
  const ticks = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  const queries = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const card = cards[(i * 7) % cards.length]!;
    const merchant_id = merchant_ids[i % merchant_ids.length]!;
    const rules = await applicableRules(app.ctx.db, "payment", merchant_id);
    const attempt = { subject: "payment" as const, keys: { card_id: card.card_id, id_fingerprint: card.id_fingerprint, merchant_id }, amount: 12_345n, now: app.ctx.clock.now(), card_since: card.created_at };
    return sql`SELECT ${judgeInStatement(rules, attempt, lockKeys(rules, attempt.keys, "payment"), newId("pay", attempt.now.getTime()))} AS ok`;
  }));
  const rollback = new Error("rolled back");
  let used: number | null = null;
  await app.ctx.db.transaction().execute(async (trx) => {
    const pid = Number((await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]!.pid);
    // Only a PostgreSQL backend of this machine (PGlite answers a pid of no process of its own).
    try {
      if (!process.env.DATABASE_URL || !readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("postgres")) return;
    } catch {
      return;
    }
    for (let i = 0; i < 50; i++) await queries[i % queries.length]!.execute(trx);
    const t0 = ticks(pid);
    for (let i = 0; i < JUDGE_CPU_CALLS; i++) await queries[i % queries.length]!.execute(trx);
    used = ((ticks(pid) - t0) * 10) / JUDGE_CPU_CALLS;
    throw rollback;
  }).catch((err: unknown) => {
    if (err !== rollback) throw err;
  });
  return used;
}

/** BENCH_RISK_EXPLAIN=1: the plan of the 20 rules' counting statement, as a payment runs it (in its transaction). */
async function explainCount(app: TestApp, merchant_id: string, card: CardRow): Promise<void> {
  const rules = await applicableRules(app.ctx.db, "payment", merchant_id);
  const attempt = { subject: "payment" as const, keys: { card_id: card.card_id, id_fingerprint: card.id_fingerprint, merchant_id }, amount: 12_345n, now: app.ctx.clock.now(), card_since: card.created_at };
  const { windows } = ruleWindows(rules, attempt);
  await app.ctx.db.transaction().execute(async (trx) => {
    const plan = await sql<{ "QUERY PLAN": string }>`EXPLAIN (ANALYZE, BUFFERS) ${windowUsageQuery("payment", attempt.keys, windows)}`.execute(trx);
    console.log(`counting statement of ${rules.length} rules (${windows.length} windows):\n${plan.rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
  });
}

async function benchEndToEnd(): Promise<Record<string, string | number>[]> {
  const app = await startTestApp({ label: "bench_risk_e2e", sandbox: true });
  try {
    const m = await createTestMerchant(app);
    const client = app.merchantClient(m.creds);
    const agreement_id = await signCard(app, client, pickCard(await catalogue(app), { unified: true }), "bench-risk-sign");
    let n = 0;
    const run = async (label: string) => {
      const latencies: number[] = [];
      for (let i = 0; i < E2E_PAYMENTS; i++) {
        n += 1;
        const t0 = performance.now();
        const res = await client.post<{ status: string }>("/v1/payments", { out_trade_no: `bench-risk-${n}`, agreement_id, amount: 100, currency: "CNY", description: "bench" });
        if (res.body.status !== "succeeded") throw new Error(`payment ${n}: ${res.text}`);
        latencies.push(performance.now() - t0);
      }
      latencies.sort((a, b) => a - b);
      return { bench: `POST /v1/payments, ${label}`, engine: process.env.DATABASE_URL ? "postgres" : "pglite", payments: E2E_PAYMENTS, "p50 ms": percentile(latencies, 50).toFixed(1), "p99 ms": percentile(latencies, 99).toFixed(1) };
    };
    const without = await run("no rules");
    for (const rule of TWENTY_RULES) await app.admin("POST", "/admin/v1/risk/rules", rule);
    const with_rules = await run("20 rules");
    return [without, with_rules];
  } finally {
    await app.close();
  }
}

export async function benchRisk(): Promise<Record<string, string | number>[]> {
  const app = await startTestApp({ label: "bench_risk" });
  let hook: Record<string, string | number>[];
  try {
    const merchant_ids: string[] = [];
    for (let i = 0; i < 5; i++) merchant_ids.push((await createTestMerchant(app)).creds.mch_id);
    hook = await benchHook(app, merchant_ids);
  } finally {
    await app.close();
  }
  console.log(`load average at the end of the hook bench: ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  return [...hook, ...(await benchEndToEnd())];
}
