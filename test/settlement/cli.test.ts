import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS, type Ctx } from "../../src/context.ts";
import { connect, migrate } from "../../src/db/index.ts";
import { systemClock } from "../../src/kernel/clock.ts";
import { SecretBox } from "../../src/kernel/crypto/index.ts";
import { newId } from "../../src/kernel/ids.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { addDays, businessDate, postPaymentSucceeded } from "../../src/ledger/index.ts";
import { createEntity, createMerchant } from "../../src/merchants/index.ts";
import type { RunningSandbox } from "../../src/sandbox/index.ts";
import { testUscc } from "../support/app.ts";
import { cliStorage, runCli } from "../support/cli.ts";
import { accountNumber, openSandbox, receivedBy } from "../ledger/world.ts";

const ACTOR = { operator_id: "op_cli", request_id: "req_cli" };

/** `paycore settle` and `paycore ledger check` as an operator runs them, on the run's engine. */
describe("paycore settle --date and paycore ledger check", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let sandbox: RunningSandbox;
  const master_key = randomBytes(32);
  const account = accountNumber();
  // A D+0 merchant paid ten days ago: that day has long closed, whatever the weekday.
  const day = addDays(businessDate(new Date(), 1380), -10);

  beforeAll(async () => {
    storage = await cliStorage();
    // The CLI signs its rail messages with the keys in its data directory: the sandbox reads them there.
    sandbox = await openSandbox({ data_dir: storage.env.PAYCORE_DATA_DIR! });
    const handle = await connect({ database_url: storage.env.DATABASE_URL, data_dir: storage.env.PAYCORE_DATA_DIR });
    try {
      await migrate(handle.db);
      const sink = new Writable({ write: (_c, _e, done) => done() });
      const ctx: Ctx = { db: handle.db, clock: systemClock, box: new SecretBox(master_key), log: createLogger("warn", sink), settings: DEFAULT_SETTINGS };
      const { entity } = await createEntity(ctx, { legal_name: "CLI Co.", uscc: testUscc() }, ACTOR);
      const { merchant } = await createMerchant(
        ctx,
        {
          entity_id: entity.entity_id,
          name: "CLI Shop",
          business_category: "retail",
          risk_level: "low",
          products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 0 }],
          settlement: { mode: "own", cycle_days: 0, account: { account_name: "CLI Co.", account_number: account, bank_code: "102290000012" } },
        },
        ACTOR,
      );
      const at = new Date(`${day}T10:00:00+08:00`);
      await handle.db.transaction().execute((trx) =>
        postPaymentSucceeded(trx, { payment_id: newId("pay"), merchant_id: merchant.row.merchant_id, amount: 50_000n, fee: 300n, channel_id: "netsunion", network_cost: 0n, at }),
      );
    } finally {
      await handle.close();
    }
  });
  afterAll(async () => {
    await sandbox.close();
    await storage.cleanup();
  });

  const env = () => ({ ...storage.env, PAYCORE_MASTER_KEY: master_key.toString("hex"), SANDBOX_URL: sandbox.url, PAYCORE_LOG_LEVEL: "warn" });

  it("settles the date with progress, pays out over the rails, and a second run changes nothing", async () => {
    const first = await runCli(["settle", "--date", day], env());
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`settlement run for ${day}`);
    expect(first.stdout).toMatch(/settling groups: 1\/1/);
    expect(first.stdout).toContain("payout instructions 1, 497.00 yuan");
    expect(first.stdout).toContain("succeeded 1, failed 0, pending 0");
    expect(await receivedBy(sandbox.url, account)).toBe(49_700n);
    const again = await runCli(["settle", "--date", day], env());
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("records 0");
    expect(again.stdout).toContain("payout instructions 0, 0.00 yuan");
    expect(await receivedBy(sandbox.url, account)).toBe(49_700n);
  });

  it("refuses a date that has not begun, with the close time, exit 1 and nothing settled; today is accepted", { timeout: 180_000 }, async () => {
    // The day after tomorrow: the business day before it closes a day from now whatever the time.
    const today = businessDate(new Date(), 1380);
    const later = addDays(today, 2);
    const refused = await runCli(["settle", "--date", later], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`paycore settle: refused, nothing settled: date: settlement date ${later} has not begun: business day ${addDays(later, -1)} closes at ${addDays(later, -1)} 23:00 Beijing time`);
    expect(refused.stdout).not.toContain("groups");
    const accepted = await runCli(["settle", "--date", today], env());
    expect(accepted.stderr).toBe("");
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain(`settlement run for ${today}`);
    expect(accepted.stdout).toMatch(/settling groups: 1\/1/);
  });

  it("checks the books", async () => {
    const check = await runCli(["ledger", "check"], env());
    expect(check.code).toBe(0);
    expect(check.stdout).toContain("books ok");
  });

  it("refuses a bad date saying it is not a date", async () => {
    const bad = await runCli(["settle", "--date", "tomorrow"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--date tomorrow is not a date; give it as YYYY-MM-DD");
  });
});
