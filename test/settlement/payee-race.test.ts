import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/kernel/clock.ts";
import { createOperator } from "../../src/operators/index.ts";
import { runSettlement } from "../../src/settlement/index.ts";
import { TEST_ACCOUNT, createTestMerchant, startTestApp, type TestApp } from "../support/app.ts";
import { catalogue, pickCard, signCard } from "../payments/helpers.ts";
import { testDatabaseUrl } from "../support/db.ts";
import { startPrivateCluster, type PrivateCluster } from "../support/private-pg.ts";

/**
 * A settlement-account change approved while a run settles the group must not interleave with it
 * (issue 16): the run reads the payee's row FOR SHARE in its group transaction, so the approval's
 * UPDATE waits until the group's payout instruction is committed, and an instruction never pays an
 * account that had already been replaced when it was made.
 *
 * PostgreSQL only: PGlite runs one transaction at a time, so there is nothing to interleave; in
 * the PGlite pass the test runs on a private PostgreSQL cluster of its own. The
 * interleaving is forced, not hoped for: another session holds settlement_payouts in EXCLUSIVE mode,
 * so the run's group transaction stops at its instruction insert after it has read the payee; the
 * approval is then sent, and the session lets go only once the approval has either answered or is
 * seen waiting behind the run (pg_blocking_pids).
 */
describe("settlement run against a settlement-account change (PostgreSQL)", () => {
  const clock = new ManualClock("2026-05-02T03:00:00Z"); // Saturday 11:00 Beijing
  let app: TestApp;
  let maker = "", checker = "";
  const NEW_ACCOUNT = { account_name: "New Account Co., Ltd.", account_number: "6222020200119998887", bank_code: "102290000012" };

  let cluster: PrivateCluster | null = null;

  beforeAll(async () => {
    const database_url = testDatabaseUrl() ?? (cluster = await startPrivateCluster()).url;
    app = await startTestApp({ label: "payeerace", clock, sandbox: true, database_url });
    maker = (await createOperator(app.ctx, { name: "maker", role: "operator" })).token;
    checker = (await createOperator(app.ctx, { name: "checker", role: "operator" })).token;
  });
  afterAll(async () => {
    await app?.close();
    await cluster?.destroy();
  });

  it("the approval waits for the run's group transaction; the instruction pays the account in force when it was made", async () => {
    const { creds, merchant } = await createTestMerchant(app, { name: "Payee" });
    const client = app.merchantClient(creds);
    const card = pickCard(await catalogue(app), { unified: true });
    const agreement_id = await signCard(app, client, card, "race-sign-1");
    const pay = await client.post<{ status: string }>("/v1/payments", { out_trade_no: "race-1", agreement_id, amount: 10_000, currency: "CNY", description: "tea" });
    expect(pay.body.status).toBe("succeeded");
    const proposed = await app.admin("PATCH", `/admin/v1/merchants/${merchant.merchant_id}`, { settlement: { mode: "own", cycle_days: 1, account: NEW_ACCOUNT } }, maker);
    expect(proposed.status).toBe(202);
    clock.set("2026-05-04T01:00:00Z"); // Monday 09:00 Beijing: the Saturday's money is payable

    const instructions = () => app.ctx.db.selectFrom("settlement_payouts").select(["account_last4"]).where("payee_merchant_id", "=", merchant.merchant_id).execute();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const is_locked = new Promise<void>((resolve) => (locked = resolve));
    const blocker = app.ctx.db.connection().execute(async (conn) => {
      await sql`BEGIN`.execute(conn);
      await sql`LOCK TABLE settlement_payouts IN EXCLUSIVE MODE`.execute(conn);
      locked();
      await released;
      await sql`COMMIT`.execute(conn);
    });
    await is_locked;

    const run = runSettlement(app.deps.payouts!, { date: "2026-05-04", execute: false });
    const run_pid = await waitFor(async () => {
      const r = await sql<{ pid: number }>`SELECT pid FROM pg_locks WHERE relation = 'settlement_payouts'::regclass AND NOT granted`.execute(app.ctx.db);
      return r.rows[0]?.pid;
    }, "the run to wait at its instruction insert");

    let approval_answered = false;
    const approval = app.admin("POST", `/admin/v1/proposals/${proposed.body.proposal_id}/approve`, {}, checker).then(async (answer) => {
      approval_answered = true;
      return { answer, instructions_then: await instructions() };
    });
    await waitFor(async () => {
      if (approval_answered) return true;
      const r = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE ${run_pid}::int = ANY(pg_blocking_pids(pid))`.execute(app.ctx.db);
      return Number(r.rows[0]!.n) > 0;
    }, "the approval to answer or to wait behind the run");
    const answered_while_run_open = approval_answered;
    release();
    await blocker;
    const summary = await run;
    const { answer, instructions_then } = await approval;

    expect(answer.status).toBe(200);
    expect(summary.payouts_created).toBe(1);
    const [instruction] = await instructions();
    // The run made its instruction with the account it read; the change came after it.
    expect(instruction!.account_last4).toBe(TEST_ACCOUNT.account_number.slice(-4));
    expect(answered_while_run_open, "the approval committed while the run that read the old account was still open").toBe(false);
    expect(instructions_then, "the instruction existed when the approval answered").toHaveLength(1);
    // The change applies from the next instruction on.
    expect((await app.admin("GET", `/admin/v1/merchants/${merchant.merchant_id}`)).body.settlement.account.account_number_last4).toBe("8887");
  });
});

const WAIT_POLLS_MAX = 500;
const WAIT_STEP_MS = 20;

async function waitFor<T>(check: () => Promise<T | undefined | false>, what: string): Promise<T> {
  for (let i = 0; i < WAIT_POLLS_MAX; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
  throw new Error(`gave up waiting for ${what}`);
}
