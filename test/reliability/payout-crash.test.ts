import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PaycoreClient } from "../../src/client/index.ts";
import { openPGlite } from "../../src/db/index.ts";
import type { CrashPoint } from "../../src/kernel/crash-point.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { startSandbox, type RunningSandbox } from "../../src/sandbox/index.ts";
import { cliStorage, startCli, type RunningCli } from "../support/cli.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ADMIN_TOKEN = "crash-test-operator-token-0123456789";
/** The demo entity's legal name (src/demo.ts): a deposit from it is credited to its merchant ID. */
const DEMO_LEGAL_NAME = "Demo Retail Group Co., Ltd.";
/** The demo merchant ID's `payout` product: no rate, 2.00 yuan minimum. */
const DEMO_PAYOUT_FEE = 200;
/** CCB: in IBPS, so a payout under the cap settles at once, 7×24, whatever the hour of the run. */
const CCB = "105100000017";
/** CIB: not in IBPS, so the same payout goes by BEPS (cheaper than HVPS, 7×24) and settles with the next batch. */
const CIB = "309100000018";
const BEPS_BATCH_INTERVAL_MS = 2_000;
const PAYEE_NAME = "上海某某贸易有限公司";
const AMOUNT = 1_234_500; // 12,345.00 yuan
const FINAL = ["succeeded", "failed", "returned"];

/**
 * "kill -9 mid-payout ends with exactly one credit at the payee". `paycore start` runs as its own
 * process with `PAYCORE_CRASH_POINT` naming one of the three points of a payout's crash-safe
 * sequence (src/kernel/crash-point.ts): it kills itself with SIGKILL there, in the middle of
 * `POST /v1/payouts`. The sandbox (this process) keeps running. While paycore is dead the test
 * reads what it had committed; then paycore starts again on the same database without the crash
 * point, and its sweeper finishes the payout by status query. PGlite keeps its files in the data
 * directory across the kill; on PostgreSQL the killed connection's transaction is rolled back.
 */
describe("payout crash safety: kill -9 at each of the three points", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let sandbox: RunningSandbox;
  let data_dir = "";
  let paycore: (RunningCli & { banner: string }) | null = null;
  let url = "";
  let client: PaycoreClient;
  let merchant_id = "";
  let settled_so_far = 0;

  const sandboxJson = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(sandbox.url + path, { method, ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const admin = async (path: string): Promise<Json> => {
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as Json;
  };
  const creditsTo = async (account_number: string): Promise<Json[]> => (await sandboxJson("GET", `/sandbox/v1/rails/credits?account_number=${account_number}`)).body.data as Json[];
  const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;

  async function boot(crash_point: CrashPoint | null): Promise<void> {
    paycore = await startCli({
      ...storage.env, PAYCORE_DATA_DIR: data_dir, PORT: "0", SANDBOX_URL: sandbox.url, PAYCORE_LOG_LEVEL: "warn", PAYCORE_ADMIN_TOKEN: ADMIN_TOKEN,
      ...(crash_point ? { PAYCORE_CRASH_POINT: crash_point } : {}),
    });
    url = /API\s+(http:\/\/\S+)/.exec(paycore.banner)![1]!;
    const m = /mch_id=(\S+)\s+key_id=(\S+)\s+secret=(\S+)/.exec(paycore.banner)!;
    merchant_id = m[1]!;
    client = new PaycoreClient(url, { mch_id: m[1]!, key_id: m[2]!, secret: m[3]! });
  }

  /**
   * What the dead process left committed, read straight from its database: PostgreSQL directly;
   * PGlite from a copy of its files, so paycore's own restart still starts from the crashed state.
   */
  async function committed(payout_out_no: string): Promise<{ payout: Json | undefined; entries: Json[]; events: Json[] }> {
    const payout_sql = "SELECT payout_id, status, msg_id, amount, fee FROM payouts WHERE out_payout_no = $1";
    const entries_sql = "SELECT event_type, amount FROM journal_entries WHERE reference_id = $1 ORDER BY event_type";
    const events_sql = "SELECT type FROM notify_events WHERE dedupe_key LIKE $1";
    const read = async (query: (text: string, params: unknown[]) => Promise<Json[]>) => {
      const [payout] = await query(payout_sql, [payout_out_no]);
      if (!payout) return { payout, entries: [], events: [] };
      return { payout, entries: await query(entries_sql, [payout.payout_id]), events: await query(events_sql, [`%:${payout.payout_id as string}`]) };
    };
    if (storage.env.DATABASE_URL) {
      const c = new pg.Client({ connectionString: storage.env.DATABASE_URL });
      await c.connect();
      try {
        return await read(async (text, params) => (await c.query(text, params)).rows as Json[]);
      } finally {
        await c.end();
      }
    }
    const copy = await mkdtemp(join(tmpdir(), "paycore-crash-copy-"));
    try {
      await cp(join(data_dir, "pglite"), join(copy, "pglite"), { recursive: true });
      const db = await openPGlite(copy);
      try {
        return await read(async (text, params) => (await db.query<Json>(text, params)).rows);
      } finally {
        await db.close();
      }
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  }

  async function waitFinal(out_payout_no: string): Promise<Json> {
    for (let tries = 0; tries < 480; tries++) {
      const list = await client.get<{ data: Json[] }>(`/v1/payouts?out_payout_no=${out_payout_no}`);
      const p = list.body.data[0];
      if (p && FINAL.includes(p.status as string)) return p;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`payout ${out_payout_no} never became final after the restart`);
  }

  beforeAll(async () => {
    storage = await cliStorage();
    data_dir = storage.env.PAYCORE_DATA_DIR!;
    sandbox = await startSandbox({ port: 0, data_dir, seed: 11, log: createLogger("silent"), rails: { beps_batch_interval_ms: BEPS_BATCH_INTERVAL_MS } });
    await boot(null);
    // Fund the demo merchant ID by a deposit from its own entity (票款一致), as a business would.
    const deposit = await sandboxJson("POST", "/sandbox/v1/deposits", { merchant_id, amount: 100_000_000, payer: { account_name: DEMO_LEGAL_NAME, account_number: "6222020200998877", bank_code: "102100000015" } });
    expect(deposit.status).toBe(201);
    for (let tries = 0; tries < 480 && (await available()) !== 100_000_000; tries++) await new Promise((r) => setTimeout(r, 250));
    expect(await available()).toBe(100_000_000);
    await paycore!.stop("SIGTERM");
  }, 180_000);

  afterEach(async () => {
    await paycore?.stop("SIGTERM"); // each point starts from a stopped paycore, even after a failure
    paycore = null;
  });
  afterAll(async () => {
    await paycore?.stop("SIGKILL");
    await sandbox?.close();
    await storage?.cleanup();
  });

  /**
   * `at_death`: what the rail holds for the payee while paycore is dead — nothing, the settled
   * credit, or (BEPS) an accepted transfer that the next batch settles and pushes to a dead paycore.
   */
  const POINTS: { point: CrashPoint; rail: "ibps" | "beps"; at_death: "nothing" | "credit" | "credit_by_batch"; proves: string }[] = [
    { point: "payout_after_intent", rail: "ibps", at_death: "nothing", proves: "the intent is committed before the message leaves; after the restart the rail gets the committed message id, once" },
    { point: "payout_after_send", rail: "ibps", at_death: "credit", proves: "a message the rail took but paycore never heard about is found by status query, not sent as a new one" },
    { point: "payout_before_outcome_commit", rail: "ibps", at_death: "credit", proves: "an outcome whose transaction died is rolled back whole and recorded once after the restart" },
    { point: "payout_after_send", rail: "beps", at_death: "credit_by_batch", proves: "BEPS: the batch settles and pushes its result while paycore is dead; after the restart it is recorded once" },
  ];

  for (const [i, { point, rail, at_death, proves }] of POINTS.entries()) {
    it(`${point} (${rail}): ${proves}`, async () => {
      const out_payout_no = `crash-${i}-${point}`;
      const payee_account = `62220000777700${String(i).padStart(2, "0")}`;
      await boot(point);
      const before = await available();
      const answer = await client
        .post<Json>("/v1/payouts", { out_payout_no, amount: AMOUNT, payee: { account_name: PAYEE_NAME, account_number: payee_account, bank_code: rail === "ibps" ? CCB : CIB }, purpose: "货款", urgency: "normal" })
        .then(
          (res) => `answered ${res.status}`,
          () => "no answer",
        );
      await paycore!.stop("SIGKILL"); // already dead if the point was reached; a no-op wait then
      expect(answer, "the request dies with the process").toBe("no answer");
      expect(paycore!.child.signalCode, "paycore killed itself at the point").toBe("SIGKILL");
      expect(paycore!.output()).toContain(`"crash_point":"${point}"`);

      // Dead: the intent, its message id and the reservation are committed; no outcome is.
      const dead = await committed(out_payout_no);
      expect(dead.payout, "the payout was recorded before anything left").toBeDefined();
      expect([dead.payout!.status, Number(dead.payout!.amount), Number(dead.payout!.fee)]).toEqual(["processing", AMOUNT, DEMO_PAYOUT_FEE]);
      const msg_id = dead.payout!.msg_id as string;
      expect(msg_id).toMatch(/^ntx/);
      expect(dead.entries.map((e) => [e.event_type, Number(e.amount)])).toEqual([["payout_reserved", AMOUNT + DEMO_PAYOUT_FEE]]);
      expect(dead.events).toEqual([]);
      let credits_at_death = await creditsTo(payee_account);
      for (let tries = 0; tries < 240 && at_death === "credit_by_batch" && credits_at_death.length === 0; tries++) {
        await new Promise((r) => setTimeout(r, 250)); // the next BEPS batch, while paycore is still dead
        credits_at_death = await creditsTo(payee_account);
      }
      expect(credits_at_death.map((c) => c.msg_id)).toEqual(at_death === "nothing" ? [] : [msg_id]);

      // Restarted without the crash point: the sweeper brings it to its end.
      await boot(null);
      const final = await waitFinal(out_payout_no);
      expect(final).toMatchObject({ status: "succeeded", rail, amount: AMOUNT, fee: DEMO_PAYOUT_FEE });
      settled_so_far += 1;

      // Exactly one credit at the payee, under the message id committed before the crash.
      const credits = await creditsTo(payee_account);
      expect(credits.map((c) => [c.msg_id, c.end_to_end_id, c.rail, c.amount])).toEqual([[msg_id, final.payout_id, rail, AMOUNT]]);
      // The reservation taken once, settled once; nothing else moved the merchant's money.
      expect(await available()).toBe(before - AMOUNT - DEMO_PAYOUT_FEE);
      const journal = await admin(`/admin/v1/ledger/journal?reference_id=${final.payout_id as string}`);
      expect(journal.data.map((e: Json) => [e.event_type, e.amount]).sort()).toEqual([
        ["payout_reserved", AMOUNT + DEMO_PAYOUT_FEE],
        ["payout_settled", AMOUNT + DEMO_PAYOUT_FEE],
      ]);
      const check = await admin("/admin/v1/ledger/check");
      expect(check.problems).toEqual([]);
      expect(check.ok).toBe(true);
      const events = await admin(`/admin/v1/events?merchant_id=${merchant_id}&type=payout.succeeded`);
      expect(events.data).toHaveLength(settled_so_far);
    }, 240_000);
  }
});
