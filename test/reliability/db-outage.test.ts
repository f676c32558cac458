import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaycoreClient } from "../../src/client/index.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { startSandbox, type RunningSandbox } from "../../src/sandbox/index.ts";
import { startCli, type RunningCli } from "../support/cli.ts";
import { postgresBinDir, startPrivateCluster, type PrivateCluster } from "../support/private-pg.ts";
import { cardBody, type SandboxCard } from "../payments/helpers.ts";
import { paymentBody, paymentLoad, sleep, type Attempt } from "./load.ts";

type Json = Record<string, unknown> & { error?: { code: string } };

/**
 * PostgreSQL goes away under a payment load and comes back: restarted (fast shutdown) in the
 * middle, and stopped for a while. paycore must answer 503 `service_unavailable` quickly while it
 * is down (never 500, never hang), say not ready on /healthz, reconnect by itself, finish every
 * payment in flight, charge nobody twice, and keep the books balanced.
 *
 * Runs on a cluster of its own (initdb in a temporary directory), whatever engine the run uses.
 * `PAYCORE_OUTAGE_SECONDS` sets the long stop (default 8 in tests; 30 for the full check).
 */
const OUTAGE_S = Number(process.env.PAYCORE_OUTAGE_SECONDS ?? 8);
const ANSWER_MS_MAX = 12_000; // connect timeout (5 s) plus a network call, with room for a busy box
const SETTLE_PARALLEL = 8;
const ADMIN_TOKEN = "op_outage_test_token_0123456789abcdef";
const has_postgres = postgresBinDir() !== null;
if (!has_postgres) console.warn("\n!!! database outage tests SKIPPED: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)\n");

describe.runIf(has_postgres)("the database goes away under load and comes back", () => {
  let cluster: PrivateCluster;
  let sandbox: RunningSandbox;
  let paycore: (RunningCli & { banner: string }) | null = null;
  let dir: string;
  let url = "";
  let client: PaycoreClient;
  let card: SandboxCard;
  let agreement_id = "";

  const sandboxJson = async <T>(method: string, path: string): Promise<T> => (await (await fetch(sandbox.url + path, { method })).json()) as T;
  const balance = async () => (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data.find((c) => c.card_number === card.card_number)!.balance;
  const admin = async (path: string) => {
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const health = async () => {
    const started = Date.now();
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(ANSWER_MS_MAX) });
    return { status: res.status, body: (await res.json()) as Json, ms: Date.now() - started };
  };

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    const c = new pg.Client({ connectionString: cluster.url });
    await c.connect();
    await c.query("CREATE DATABASE paycore");
    await c.end();
    dir = mkdtempSync(join(tmpdir(), "paycore-outage-"));
    sandbox = await startSandbox({ port: 0, data_dir: dir, seed: 31, log: createLogger("silent") });
    paycore = await startCli({
      DATABASE_URL: cluster.url.replace(/\/postgres$/, "/paycore"),
      PAYCORE_DATA_DIR: dir,
      PORT: "0",
      SANDBOX_URL: sandbox.url,
      PAYCORE_ADMIN_TOKEN: ADMIN_TOKEN,
      PAYCORE_LOG_LEVEL: "error",
      // The load's workers ask as fast as they are answered, and quick 503s are fast: above the
      // default 600 a minute per merchant ID. This test is about the database, not the rate limit.
      PAYCORE_RATE_LIMIT_PER_MINUTE: "100000",
    });
    url = /API\s+(http:\/\/\S+)/.exec(paycore.banner)![1]!;
    const m = /mch_id=(\S+)\s+key_id=(\S+)\s+secret=(\S+)/.exec(paycore.banner)!;
    client = new PaycoreClient(url, { mch_id: m[1]!, key_id: m[2]!, secret: m[3]! });
    const cards = (await sandboxJson<{ data: SandboxCard[] }>("GET", "/sandbox/v1/cards")).data;
    card = cards.find((x) => x.card_type === "debit" && x.status === "normal" && x.balance >= 1_000_000)!;
    const start = await client.post<Json>("/v1/agreements", { out_request_no: "outage-sign", user_ref: "u", card: cardBody(card) });
    const sms = await sandboxJson<{ data: { otp: string }[] }>("GET", `/sandbox/v1/sms?phone=${card.phone}`);
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)!.otp });
    expect(confirm.status).toBe(201);
    agreement_id = confirm.body.agreement_id as string;
  }, 120_000);

  afterAll(async () => {
    if (paycore && paycore.child.exitCode !== null) console.error(`paycore exited (${paycore.child.exitCode}):\n${paycore.output().slice(-4_000)}`);
    await paycore?.stop("SIGKILL");
    await sandbox?.close();
    await cluster?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Every answer under load is a known one, in time: never a 5xx but 503, never a hang. */
  function expectKnownAnswers(attempts: Attempt[]) {
    for (const a of attempts) {
      expect(a.code ?? "", `${a.out_trade_no} must be answered by paycore`).not.toMatch(/^transport/);
      expect([200, 201, 503], `${a.out_trade_no}: ${a.http_status} ${a.code}`).toContain(a.http_status);
      if (a.http_status === 503) expect(a.code).toBe("service_unavailable");
      expect(a.ms, `${a.out_trade_no} answered in ${a.ms} ms`).toBeLessThan(ANSWER_MS_MAX);
    }
  }

  /** After the outage: what was refused is asked again (same out_trade_no), then all ends final. */
  async function settleAll(attempts: Attempt[]): Promise<Map<string, { amount: number; status: string }>> {
    const finals = new Map<string, { amount: number; status: string }>();
    const settleOne = async (a: Attempt) => {
      let status = "";
      for (let tries = 0; tries < 200; tries++) {
        const res = await client.post<Json>("/v1/payments", paymentBody(agreement_id, a.out_trade_no, a.amount));
        // Asking again and again while payments stay processing can reach the merchant ID's rate
        // (600 a minute): a well-behaved client waits the Retry-After it is given, as this does.
        expect([200, 201, 429, 503], `retry ${a.out_trade_no}: ${res.status} ${res.text}`).toContain(res.status);
        if (res.status === 429) {
          expect((res.body.error as Json).code).toBe("rate_limited");
          await sleep(Number(res.headers.get("retry-after") ?? "1") * 1_000);
          continue;
        }
        status = res.status === 503 ? "" : (res.body.status as string);
        if (status === "succeeded" || status === "failed") break;
        await sleep(250);
      }
      expect(["succeeded", "failed"], `${a.out_trade_no} ends final`).toContain(status);
      finals.set(a.out_trade_no, { amount: a.amount, status });
    };
    for (let i = 0; i < attempts.length; i += SETTLE_PARALLEL) await Promise.all(attempts.slice(i, i + SETTLE_PARALLEL).map(settleOne));
    return finals;
  }

  async function expectBooksHold(before_balance: number, finals: Map<string, { amount: number; status: string }>) {
    const charged = [...finals.values()].filter((f) => f.status === "succeeded").reduce((s, f) => s + f.amount, 0);
    expect(before_balance - (await balance()), "the card was debited exactly once for each succeeded payment").toBe(charged);
    const tb = await admin("/admin/v1/ledger/trial-balance");
    expect(tb.status).toBe(200);
    expect(tb.body.balanced).toBe(true);
    const check = await admin("/admin/v1/ledger/check");
    expect(check.status, JSON.stringify(check.body)).toBe(200);
  }

  async function waitReady(): Promise<number> {
    const started = Date.now();
    for (let tries = 0; tries < 120; tries++) {
      const h = await health().catch(() => null);
      if (h?.status === 200) return Date.now() - started;
      await sleep(250);
    }
    throw new Error("paycore did not become ready again");
  }

  it("a fast restart in the middle of a payment load: 503s while down, then every payment final, one debit each", async () => {
    const before = await balance();
    let release!: () => void;
    const until = new Promise<void>((r) => (release = r));
    const load = paymentLoad({ client, agreement_id, workers: 6, prefix: "restart", attempts_max: 400, until });
    await sleep(1_500);
    await cluster.stop();
    const down = await health();
    expect(down.status).toBe(503);
    expect((down.body.error as Json).code).toBe("service_unavailable");
    expect(down.ms).toBeLessThan(ANSWER_MS_MAX);
    await sleep(1_000);
    await cluster.start();
    await waitReady();
    await sleep(1_500);
    release();
    const attempts = await load;
    expect(attempts.some((a) => a.http_status === 503), "some requests met the outage").toBe(true);
    expect(attempts.filter((a) => a.http_status === 201).length, "payments went through before and after").toBeGreaterThan(2);
    expectKnownAnswers(attempts);
    await expectBooksHold(before, await settleAll(attempts));
    expect(paycore!.child.exitCode, "the process is still the same one").toBeNull();
  }, 180_000);

  it(`a stop of ${OUTAGE_S} s: quick 503s and a not-ready health check throughout, then it reconnects by itself`, async () => {
    const before = await balance();
    let release!: () => void;
    const until = new Promise<void>((r) => (release = r));
    const load = paymentLoad({ client, agreement_id, workers: 4, prefix: "stop", attempts_max: 2_000, until });
    await sleep(1_000);
    await cluster.stop();
    const stopped_at = Date.now();
    while (Date.now() - stopped_at < OUTAGE_S * 1_000) {
      const h = await health();
      expect(h.status).toBe(503);
      await sleep(1_000);
    }
    await cluster.start();
    const reconnect_ms = await waitReady();
    expect(reconnect_ms).toBeLessThan(30_000);
    await sleep(1_000);
    release();
    const attempts = await load;
    expectKnownAnswers(attempts);
    const during = attempts.filter((a) => a.http_status === 503);
    expect(during.length, "requests kept being answered while the database was down").toBeGreaterThan(OUTAGE_S);
    await expectBooksHold(before, await settleAll(attempts));
    expect(paycore!.child.exitCode).toBeNull();
  }, 240_000);
});
