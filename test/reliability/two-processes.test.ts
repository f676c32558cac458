import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaycoreClient } from "../../src/client/index.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { startSandbox, type RunningSandbox } from "../../src/sandbox/index.ts";
import { NETSUNION_COLUMNS, UNIONPAY_COLUMNS } from "../../src/sandbox/statements.ts";
import { TEST_ACCOUNT, testUscc } from "../support/app.ts";
import { runCli, startCli, type RunningCli } from "../support/cli.ts";
import { testDatabaseUrl } from "../support/db.ts";
import { postgresBinDir, startPrivateCluster, type PrivateCluster } from "../support/private-pg.ts";
import { cardBody, type SandboxCard } from "../payments/helpers.ts";
import { sleep } from "./load.ts";

/**
 * Two paycore processes on one PostgreSQL database (docs/scaling.md), both with their sweeper,
 * notifier and ledger applier running, one sandbox behind them, under a concurrent load of signed
 * payments and refunds spread over both ports, with network faults that leave outcomes unknown.
 *
 * Where the two processes meet, and what shows it here if the sharing were wrong:
 * - **The sweeper's claim.** Both sweepers poll every 500 ms for due `processing` rows. A claim
 *   that were not exclusive (due rows read without being leased, so that `next_query_at` does
 *   not move) would have both processes query the same transaction at the same moment. The network deduplicates by transaction id, so money
 *   alone would not show it: the test therefore puts a tap between paycore and the sandbox that
 *   times every query message, adds latency to queries, and asserts that no two queries of one
 *   transaction ever overlap. (A sweep of one row never outlives its 30 s lease here: the channel
 *   timeout is set to 5 s.) Checked by breaking it: with the claim a plain `SELECT` of the due
 *   rows (no lease), both sweepers query the same transactions over and over and this test fails
 *   (overlapping queries; payments left processing once their query schedule is spent). A claim
 *   that only lacked `SKIP LOCKED` would double-claim only when two claims meet within one
 *   statement's few milliseconds; this load may well not catch that.
 * - **Outbox delivery.** The local receiver always acknowledges at once, so the at-least-once
 *   contract (docs/notifications.md) delivers each event exactly once unless two processes
 *   claim one delivery; the test asserts exactly once per event id, and one event per outcome.
 *   Checked by breaking it: without `FOR UPDATE … SKIP LOCKED` in the delivery claim, events
 *   arrive twice and this test fails.
 * - **Applying an outcome.** The synchronous answer arrives in the process that sent the debit;
 *   the network's notification goes to either process (a splitter alternates them, sends some
 *   duplicates to both and drops some, so that the sweepers must finish those); the sweeper's
 *   query may come from either. Exactly one ledger entry and one event per outcome, the books
 *   balanced (`paycore ledger check`), and at the sandbox exactly one debit per succeeded payment
 *   and none for a failed one (its statement files by order id), card balances down by exactly
 *   what paycore says was taken and given back.
 * - **Idempotency across processes.** Some payments and refunds are sent to both processes at
 *   once with the same out_trade_no / out_refund_no: one payment, one refund, the same id in both
 *   answers. Refunds over the refundable amount race each other in both processes: the refunds of
 *   a payment never add up to more than it, at paycore or at the network.
 *
 * The rate limit is per process (docs/scaling.md) and not exercised here: the load stays under it.
 *
 * PostgreSQL only (PGlite is one process by nature): with `DATABASE_URL=postgres://…` it runs in a
 * fresh database on that server; otherwise on a cluster of its own (initdb in a temporary
 * directory, as test/reliability/db-outage.test.ts), so a PGlite run still runs it. Only a machine
 * without PostgreSQL binaries skips it, loudly.
 */
const PAYMENTS = 240;
const WORKERS = 16;
/** Each process's pool (PAYCORE_PG_POOL_MAX): small, so the load queues for connections. */
const POOL_MAX = 4;
const REFUNDED_PAYMENTS = 30;
const CHANNEL_TIMEOUT_MS = 5_000;
const QUIET_WAIT_MS_MAX = 90_000;
const ADMIN_TOKEN = "op_two_processes_token_0123456789abcdef";
const MASTER_KEY = randomBytes(32).toString("hex");
const BODY_BYTES_MAX = 1024 * 1024;
const CARD_BANKS = ["ICBC", "CCB", "CIB", "PSBC"]; // two unified banks, two not: every network's messages

const pg_url = testDatabaseUrl();
const runnable = pg_url !== undefined || postgresBinDir() !== null;
if (!runnable) console.warn("\n!!! two-process test SKIPPED: no DATABASE_URL=postgres://… and no PostgreSQL server binaries under /usr/lib/postgresql\n");

type Json = Record<string, unknown> & { error?: { code: string; message: string } };

interface QueryTiming {
  txn_id: string;
  start_ms: number;
  end_ms: number;
}

describe.runIf(runnable)("two paycore processes on one PostgreSQL under load", () => {
  let database: { url: string; cleanup(): Promise<void> };
  let dir: string;
  let sandbox: RunningSandbox;
  let tap: Awaited<ReturnType<typeof startWireTap>>;
  let splitter: Awaited<ReturnType<typeof startCallbackSplitter>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const processes: (RunningCli & { banner: string })[] = [];
  const urls: string[] = [];
  let clients: PaycoreClient[] = [];
  let db: pg.Client;
  let cards: SandboxCard[] = [];
  let agreements: string[] = [];
  let merchant_id = "";

  const sandboxJson = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(sandbox.url + path, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
    return (await res.json()) as T;
  };
  const admin = async (url: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const balances = async () => {
    const all = (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data;
    return new Map(cards.map((c) => [c.card_number, all.find((x) => x.card_number === c.card_number)!.balance]));
  };

  beforeAll(async () => {
    database = await freshDatabase();
    dir = mkdtempSync(join(tmpdir(), "paycore-2p-"));
    sandbox = await startSandbox({ port: 0, data_dir: dir, seed: 47, keep_state: false, log: createLogger("silent") });
    tap = await startWireTap(sandbox.url, 2);
    receiver = await startReceiver();
    const env = {
      DATABASE_URL: database.url,
      PAYCORE_DATA_DIR: dir,
      PAYCORE_MASTER_KEY: MASTER_KEY,
      PORT: "0",
      PAYCORE_ADMIN_TOKEN: ADMIN_TOKEN,
      PAYCORE_SEED_DEMO: "false",
      PAYCORE_WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
      PAYCORE_LOG_LEVEL: "error",
      PAYCORE_PG_POOL_MAX: String(POOL_MAX),
    };
    // Both at once on an empty database and data directory: migrations, the first admin and the
    // channel keys are made once whoever gets there first.
    const started = await Promise.allSettled([0, 1].map((i) => startCli({ ...env, SANDBOX_URL: tap.urls[i]! })));
    for (const r of started) if (r.status === "fulfilled") processes.push(r.value);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    for (const p of processes) urls.push(/API\s+(http:\/\/\S+)/.exec(p.banner)![1]!);
    splitter = await startCallbackSplitter(urls.map((u) => `${u}/callbacks/channels`));
    // Each process told the sandbox its own callback URL at start; the splitter replaces both.
    await sandboxJson("PUT", "/sandbox/v1/config", { paycore_callback_url: splitter.url });
    db = new pg.Client({ connectionString: database.url });
    await db.connect();

    // Configuration changed through one process is used by the other (config_version).
    for (const channel of ["netsunion", "unionpay_nocard", "unionpay_quickpay"]) {
      const patched = await admin(urls[1]!, "PATCH", `/admin/v1/channels/${channel}`, { timeout_ms: CHANNEL_TIMEOUT_MS });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    }
    const entity = await admin(urls[0]!, "POST", "/admin/v1/entities", { legal_name: "Two Process Co.", uscc: testUscc() });
    expect(entity.status, JSON.stringify(entity.body)).toBe(201);
    const m = await admin(urls[0]!, "POST", "/admin/v1/merchants", {
      entity_id: entity.body.entity_id,
      name: "Two Process Merchant",
      business_category: "retail",
      risk_level: "low",
      notify_url: receiver.url,
      products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }],
      settlement: { mode: "own", cycle_days: 1, account: TEST_ACCOUNT },
    });
    expect(m.status, JSON.stringify(m.body)).toBe(201);
    merchant_id = m.body.merchant_id as string;
    const api_key = m.body.api_key as { key_id: string; secret: string };
    clients = urls.map((u) => new PaycoreClient(u, { mch_id: merchant_id, key_id: api_key.key_id, secret: api_key.secret }));

    const catalogue = (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data;
    cards = CARD_BANKS.map((bank) => catalogue.find((c) => c.bank_code === bank && c.card_type === "debit" && c.status === "normal" && c.balance >= 5_000_000)!);
    agreements = [];
    for (const [i, card] of cards.entries()) agreements.push(await signCard(clients[i % 2]!, card, `sign-${i}`));
  }, 240_000);

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode !== null) console.error(`paycore exited (${p.child.exitCode}):\n${p.output().slice(-4_000)}`);
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    await db?.end().catch(() => undefined);
    await splitter?.close();
    await receiver?.close();
    await tap?.close();
    await sandbox?.close();
    await database?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function signCard(client: PaycoreClient, card: SandboxCard, out_request_no: string): Promise<string> {
    const start = await client.post<Json>("/v1/agreements", { out_request_no, user_ref: out_request_no, card: cardBody(card) });
    expect(start.status, start.text).toBe(201);
    const sms = await sandboxJson<{ data: { otp: string | null }[] }>("GET", `/sandbox/v1/sms?phone=${card.phone}`);
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)!.otp });
    expect(confirm.status, confirm.text).toBe(201);
    return confirm.body.agreement_id as string;
  }

  async function addFaults(): Promise<void> {
    const rules = [
      { channel: "*", operation: "pay", kind: "unknown", rate: 0.15, seed: 1 },
      { channel: "*", operation: "pay", kind: "timeout", rate: 0.03, seed: 2 },
      { channel: "*", operation: "pay", kind: "decline", decline_code: "insufficient_funds", rate: 0.05, seed: 8 },
      { channel: "*", operation: "pay", kind: "duplicate_notify", rate: 0.3, seed: 3 },
      { channel: "*", operation: "refund", kind: "unknown", rate: 0.3, seed: 4 },
      { channel: "*", operation: "refund", kind: "duplicate_notify", rate: 0.3, seed: 5 },
      { channel: "*", operation: "query", kind: "unknown", rate: 0.25, seed: 6 },
      { channel: "*", operation: "query", kind: "latency", latency_ms: 300, rate: 0.6, seed: 7 },
    ];
    for (const rule of rules) {
      const res = await fetch(`${sandbox.url}/sandbox/v1/faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(rule) });
      expect(res.status, await res.text()).toBe(201);
    }
  }

  it("sweepers, notifications and outcomes shared by two processes: one debit per payment, one delivery per event, balanced books", async () => {
    const before = await balances();
    await addFaults();
    const t0 = Date.now();
    // paycore's sessions, sampled through the load: never more than the two pools allow.
    let sessions_max = 0;
    let sampling = true;
    const sampler = (async () => {
      const watch = new pg.Client({ connectionString: database.url });
      await watch.connect();
      try {
        while (sampling) {
          const { rows } = await watch.query<{ n: number }>("SELECT count(*)::int4 AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'paycore'");
          sessions_max = Math.max(sessions_max, rows[0]!.n);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await watch.end();
      }
    })();

    // Payments: alternate processes; every tenth goes to both at once with the same out_trade_no.
    const answers = new Map<string, { payment_id: string; status: string; amount: number }>();
    let next = 0;
    const payWorker = async () => {
      while (next < PAYMENTS) {
        const i = next++;
        const out_trade_no = `tp-${i}`;
        const amount = 100 + ((i * 37) % 900);
        const body = { out_trade_no, agreement_id: agreements[i % agreements.length], amount, currency: "CNY", description: "two processes" };
        const targets = i % 10 === 0 ? clients : [clients[i % 2]!];
        const results = await Promise.all(targets.map((c) => c.post<Json>("/v1/payments", body)));
        for (const r of results) expect([200, 201], `${out_trade_no}: ${r.status} ${r.text}`).toContain(r.status);
        const ids = new Set(results.map((r) => r.body.payment_id as string));
        expect(ids.size, `${out_trade_no} sent to both processes is one payment`).toBe(1);
        answers.set(out_trade_no, { payment_id: [...ids][0]!, status: results[0]!.body.status as string, amount });
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, payWorker));
    expect(answers.size).toBe(PAYMENTS);

    // Refunds on payments that succeeded at once: the same refund to both processes, and a second
    // refund that together with the first would exceed the payment, to the other process.
    const refundable = [...answers.values()].filter((a) => a.status === "succeeded").slice(0, REFUNDED_PAYMENTS);
    expect(refundable.length, "enough payments succeeded synchronously to refund").toBe(REFUNDED_PAYMENTS);
    await Promise.all(
      refundable.map(async (p, i) => {
        const part = Math.floor((p.amount * 6) / 10);
        const first = { out_refund_no: `rf-${i}-a`, amount: part };
        const second = { out_refund_no: `rf-${i}-b`, amount: part };
        const path = `/v1/payments/${p.payment_id}/refunds`;
        const [a, b, c] = await Promise.all([clients[0]!.post<Json>(path, first), clients[1]!.post<Json>(path, first), clients[1]!.post<Json>(path, second)]);
        for (const r of [a, b, c]) {
          expect([200, 201, 409, 422], `refund of ${p.payment_id}: ${r.status} ${r.text}`).toContain(r.status);
          if (r.status >= 400) expect(["amount_exceeds_refundable", "refund_in_progress", "conflict"], r.text).toContain(r.body.error?.code);
        }
        if (a.status < 300 && b.status < 300) expect(b.body.refund_id, "one refund for one out_refund_no").toBe(a.body.refund_id);
      }),
    );

    await waitQuiet();
    const load_s = (Date.now() - t0) / 1000;
    sampling = false;
    await sampler;
    expect(sessions_max, "paycore's sessions seen under load").toBeGreaterThan(0);
    expect(sessions_max, "no process opened more than PAYCORE_PG_POOL_MAX connections").toBeLessThanOrEqual(2 * POOL_MAX);
    for (const u of urls) {
      const res = await fetch(`${u}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(200);
      expect(await res.text(), `${u}: the pool's size in /metrics`).toMatch(new RegExp(`^paycore_db_pool_connections\\{state="max"\\} ${POOL_MAX}$`, "m"));
    }

    const payments = (await db.query<{ payment_id: string; out_trade_no: string; status: string; amount: string }>("SELECT payment_id, out_trade_no, status, amount FROM payments WHERE merchant_id = $1", [merchant_id])).rows;
    const refunds = (await db.query<{ refund_id: string; payment_id: string; status: string; amount: string }>("SELECT refund_id, payment_id, status, amount FROM refunds WHERE merchant_id = $1", [merchant_id])).rows;
    expect(payments.length, "one payment per out_trade_no").toBe(PAYMENTS);
    expect(payments.every((p) => p.status === "succeeded" || p.status === "failed"), "every payment final").toBe(true);

    // The network's records: debits and refunds per order id (payment_id / refund_id).
    const lines = await networkLines(t0);
    const debits = new Map<string, { count: number; amount: bigint }>();
    const network_refunds = new Map<string, bigint>();
    for (const l of lines) {
      if (l.kind === "pay") {
        const d = debits.get(l.order_id) ?? { count: 0, amount: 0n };
        debits.set(l.order_id, { count: d.count + 1, amount: d.amount + l.amount });
      } else network_refunds.set(l.order_id, (network_refunds.get(l.order_id) ?? 0n) + l.amount);
    }
    for (const p of payments) {
      const d = debits.get(p.payment_id);
      if (p.status === "succeeded") {
        expect(d?.count, `${p.payment_id} (${p.out_trade_no}) debited exactly once at the network`).toBe(1);
        expect(d!.amount, `${p.payment_id} debited its amount`).toBe(BigInt(p.amount));
      } else expect(d, `${p.payment_id} failed and was never debited`).toBeUndefined();
    }
    expect(debits.size, "no debit at the network without a succeeded payment").toBe(payments.filter((p) => p.status === "succeeded").length);

    // Refunds never exceed their payment; paycore's succeeded refunds are the network's.
    const by_payment = new Map<string, bigint>();
    for (const r of refunds) {
      expect(["succeeded", "failed"], `${r.refund_id} final`).toContain(r.status);
      const at_network = network_refunds.get(r.refund_id);
      if (r.status === "succeeded") {
        expect(at_network, `${r.refund_id} refunded once at the network`).toBe(BigInt(r.amount));
        by_payment.set(r.payment_id, (by_payment.get(r.payment_id) ?? 0n) + BigInt(r.amount));
      } else expect(at_network, `${r.refund_id} failed and was never refunded`).toBeUndefined();
    }
    expect(network_refunds.size, "no refund at the network without a succeeded refund").toBe(refunds.filter((r) => r.status === "succeeded").length);
    const amounts = new Map(payments.map((p) => [p.payment_id, BigInt(p.amount)]));
    for (const [payment_id, refunded] of by_payment) expect(refunded <= amounts.get(payment_id)!, `${payment_id}: refunds ${refunded} ≤ payment`).toBe(true);
    expect(by_payment.size, "the racing refunds left one refund standing per payment").toBe(REFUNDED_PAYMENTS);

    // Cards: down by exactly what was taken less what was given back.
    const after = await balances();
    const charged = payments.filter((p) => p.status === "succeeded").reduce((s, p) => s + Number(p.amount), 0);
    expect(payments.some((p) => p.status === "failed"), "some payments were declined").toBe(true);
    const given_back = [...by_payment.values()].reduce((s, r) => s + Number(r), 0);
    const spent = cards.reduce((s, c) => s + (before.get(c.card_number)! - after.get(c.card_number)!), 0);
    expect(spent, "the cards paid exactly the succeeded payments less the succeeded refunds").toBe(charged - given_back);

    // The sweepers of both processes took part, and never queried one transaction twice at once.
    const queries = tap.queries();
    expect(queries.length, "the faults left work for the sweepers").toBeGreaterThanOrEqual(10);
    expect(overlappingQueries(queries), "no transaction was queried by two sweeps at once (exclusive claims)").toEqual([]);
    expect(tap.queryingProcesses(), "both processes' sweepers queried").toBe(2);
    expect(splitter.forwarded(), "notifications reached both processes").toEqual([true, true]);

    // Notifications: one event per outcome, each delivered exactly once.
    const events = (await db.query<{ event_id: string; type: string; status: string; object_id: string }>(
      "SELECT event_id, type, status, coalesce(data->>'refund_id', data->>'payment_id', data->>'agreement_id') AS object_id FROM notify_events WHERE merchant_id = $1",
      [merchant_id],
    )).rows;
    const per_object = new Map<string, number>();
    for (const e of events) per_object.set(`${e.type}:${e.object_id}`, (per_object.get(`${e.type}:${e.object_id}`) ?? 0) + 1);
    expect([...per_object.values()].every((n) => n === 1), "one event per object and type").toBe(true);
    expect(events.filter((e) => e.type.startsWith("payment.")).length, "one payment event per payment").toBe(PAYMENTS);
    expect(events.filter((e) => e.type.startsWith("refund.")).length, "one refund event per refund").toBe(refunds.length);
    const received = receiver.counts();
    for (const e of events) {
      expect(e.status, `${e.event_id} delivered`).toBe("delivered");
      expect(received.get(e.event_id), `${e.event_id} (${e.type}) received exactly once`).toBe(1);
    }
    expect(received.size, "nothing received that is not an event").toBe(events.length);

    // The books: one journal entry per kind of event per payment or refund, and balanced.
    const repeated = await db.query<{ reference_id: string; event_type: string; n: string }>(
      `SELECT reference_id, event_type, count(*) AS n FROM journal_entries
        WHERE reference_id = ANY($1) GROUP BY reference_id, event_type HAVING count(*) > 1`,
      [[...payments.map((p) => p.payment_id), ...refunds.map((r) => r.refund_id)]],
    );
    expect(repeated.rows, "an outcome booked twice").toEqual([]);
    const booked = await db.query<{ n: string }>("SELECT count(DISTINCT reference_id) AS n FROM journal_entries WHERE reference_id = ANY($1)", [
      payments.filter((p) => p.status === "succeeded").map((p) => p.payment_id),
    ]);
    expect(Number(booked.rows[0]!.n), "every succeeded payment booked").toBe(payments.filter((p) => p.status === "succeeded").length);
    const check = await runCli(["ledger", "check"], { DATABASE_URL: database.url, PAYCORE_DATA_DIR: dir, PAYCORE_MASTER_KEY: MASTER_KEY, PAYCORE_LOG_LEVEL: "error" }, 120_000);
    expect(check.code, `paycore ledger check:\n${check.stdout}\n${check.stderr}`).toBe(0);
    const tb = await admin(urls[1]!, "GET", "/admin/v1/ledger/trial-balance");
    expect(tb.body.balanced).toBe(true);
    for (const p of processes) expect(p.child.exitCode, "both processes still run").toBeNull();
    console.log(
      `two processes: ${PAYMENTS} payments (${charged} fen succeeded), ${refunds.length} refunds, ${queries.length} network queries, ` +
        `${events.length} events delivered once each; quiet after ${load_s.toFixed(1)} s`,
    );
  }, 240_000);

  /** Until nothing is processing and no notification is waiting: every piece of work is finished. */
  async function waitQuiet(): Promise<void> {
    const deadline = Date.now() + QUIET_WAIT_MS_MAX;
    let left = "";
    while (Date.now() < deadline) {
      const r = await db.query<{ payments: string; refunds: string; deliveries: string }>(
        `SELECT (SELECT count(*) FROM payments WHERE status = 'processing') AS payments,
                (SELECT count(*) FROM refunds WHERE status = 'processing') AS refunds,
                (SELECT count(*) FROM notify_deliveries WHERE status = 'pending') AS deliveries`,
      );
      const row = r.rows[0]!;
      left = `${row.payments} payments, ${row.refunds} refunds processing; ${row.deliveries} deliveries pending`;
      if (row.payments === "0" && row.refunds === "0" && row.deliveries === "0") return;
      await sleep(250);
    }
    const overlaps = overlappingQueries(tap.queries());
    throw new Error(`still busy after ${QUIET_WAIT_MS_MAX} ms: ${left}; ${overlaps.length} overlapping queries of one transaction${overlaps.length ? `, e.g. ${overlaps[0]}` : ""}`);
  }

  /** The statement lines of every network for the settlement days the load spans. */
  async function networkLines(t0_ms: number) {
    const days = new Set([settlementDay(t0_ms), settlementDay(Date.now())]);
    const out: { kind: "pay" | "refund"; order_id: string; amount: bigint }[] = [];
    for (const channel of ["netsunion", "unionpay_nocard", "unionpay_quickpay"]) {
      for (const date of days) {
        const text = await (await fetch(`${sandbox.url}/sandbox/v1/statements?channel=${channel}&date=${date}`)).text();
        out.push(...parseStatement(channel, text));
      }
    }
    return out;
  }
});

/** Beijing calendar day, a transaction at or after 23:00 counting for the next (docs/sandbox.md). */
function settlementDay(ms: number): string {
  return new Date(ms + 9 * 3_600_000).toISOString().slice(0, 10);
}

function parseStatement(channel: string, text: string): { kind: "pay" | "refund"; order_id: string; amount: bigint }[] {
  const columns = channel === "netsunion" ? NETSUNION_COLUMNS : UNIONPAY_COLUMNS;
  const out: { kind: "pay" | "refund"; order_id: string; amount: bigint }[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || (channel === "netsunion" && line.startsWith("H "))) continue;
    const fields: Record<string, string> = {};
    let at = 0;
    for (const c of columns) {
      fields[c.name] = line.slice(at, at + c.width).trim();
      at += c.width + 1;
    }
    const refund = channel === "netsunion" ? fields.category === "0121" : fields.txn_code === "S30";
    out.push({ kind: refund ? "refund" : "pay", order_id: fields.order_id!, amount: BigInt(fields.amount!) });
  }
  return out;
}

/** Pairs of queries of one transaction whose times overlap. */
function overlappingQueries(queries: QueryTiming[]): string[] {
  const sorted = [...queries].sort((a, b) => (a.txn_id === b.txn_id ? a.start_ms - b.start_ms : a.txn_id < b.txn_id ? -1 : 1));
  const overlaps: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [prev, cur] = [sorted[i - 1]!, sorted[i]!];
    if (prev.txn_id === cur.txn_id && cur.start_ms < prev.end_ms) overlaps.push(`${cur.txn_id}: ${prev.start_ms}–${prev.end_ms} and ${cur.start_ms}–${cur.end_ms}`);
  }
  return overlaps;
}

/** A database of the test's own: on the run's PostgreSQL server, or on a private cluster. */
async function freshDatabase(): Promise<{ url: string; cleanup(): Promise<void> }> {
  let cluster: PrivateCluster | null = null;
  const server_url = pg_url ?? (cluster = await startPrivateCluster()).url;
  const name = `paycore_2p_${randomBytes(4).toString("hex")}`;
  const run = async (statement: string) => {
    const c = new pg.Client({ connectionString: server_url });
    await c.connect();
    try {
      await c.query(statement);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(server_url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    cleanup: async () => {
      await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cluster?.destroy();
    },
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > BODY_BYTES_MAX) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Forwards one request to `target` and its answer back; the upstream call ends when the client goes. */
async function forward(target: string, request: IncomingMessage, response: ServerResponse, body: Buffer): Promise<void> {
  const abort = new AbortController();
  response.on("close", () => abort.abort());
  try {
    const headers: Record<string, string> = {};
    const type = request.headers["content-type"];
    if (type) headers["content-type"] = type;
    const upstream = await fetch(target + request.url, { method: request.method, headers, ...(body.length ? { body } : {}), signal: abort.signal });
    const answer = Buffer.from(await upstream.arrayBuffer());
    const answer_type = upstream.headers.get("content-type");
    response.writeHead(upstream.status, answer_type ? { "content-type": answer_type } : {});
    response.end(answer);
  } catch {
    if (!response.headersSent) response.writeHead(502);
    response.end();
  }
}

/**
 * Between the paycore processes and the sandbox, one listener per process: forwards everything,
 * and times each query message by the transaction it asks about (NetsUnion `OrgnlTrxId` in an
 * `epcc.301`, UnionPay `origOrderId` to queryTrans.do) and by the process that sent it.
 */
async function startWireTap(sandbox_url: string, processes: number) {
  const timings: (QueryTiming & { process: number })[] = [];
  const servers = Array.from({ length: processes }, (_, process) =>
    createServer((request, response) => {
      void (async () => {
        const body = await readBody(request);
        const text = body.toString("utf8");
        let txn_id: string | null = null;
        if (request.url === "/netsunion/gateway" && text.includes("<MsgTp>epcc.301.001.01</MsgTp>")) txn_id = /<OrgnlTrxId>([^<]+)<\/OrgnlTrxId>/.exec(text)?.[1] ?? null;
        if (request.url?.endsWith("/queryTrans.do")) txn_id = new URLSearchParams(text).get("origOrderId");
        const start_ms = performance.now();
        await forward(sandbox_url, request, response, body);
        if (txn_id) timings.push({ txn_id, start_ms, end_ms: performance.now(), process });
      })();
    }),
  );
  const urls = await Promise.all(servers.map(listen));
  return {
    urls,
    queries: (): QueryTiming[] => timings.map(({ txn_id, start_ms, end_ms }) => ({ txn_id, start_ms, end_ms })),
    /** How many of the processes sent queries. */
    queryingProcesses: () => new Set(timings.map((t) => t.process)).size,
    close: () => Promise.all(servers.map(closeServer)),
  };
}

/**
 * The sandbox's notifications go here and on to the paycore processes in turn; every third is
 * answered here and never forwarded (the sweepers must find those outcomes by querying).
 */
async function startCallbackSplitter(targets: string[]) {
  let n = 0;
  const reached = targets.map(() => false);
  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const k = n++;
      if (k % 3 === 2) {
        response.writeHead(200).end("ok");
        return;
      }
      const which = k % targets.length;
      reached[which] = true;
      await forward(targets[which]!, request, response, body);
    })();
  });
  const url = await listen(server);
  return { url, forwarded: () => [...reached], close: () => closeServer(server) };
}

/** The merchant's webhook receiver: acknowledges at once and counts each event id. */
async function startReceiver() {
  const counts = new Map<string, number>();
  const server = createServer((request, response) => {
    void (async () => {
      await readBody(request);
      const id = String(request.headers["paycore-event-id"] ?? "");
      counts.set(id, (counts.get(id) ?? 0) + 1);
      response.writeHead(204).end();
    })();
  });
  const url = await listen(server);
  return { url, counts: () => new Map(counts), close: () => closeServer(server) };
}
