import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaycoreClient } from "../../src/client/index.ts";
import { cliStorage, readBanner, runCli, startCli, type RunningCli } from "../support/cli.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * `paycore payouts import FILE.csv --merchant M` against a running `paycore start` and its
 * sandbox rails: on the embedded database it asks the server (which holds the data directory); on
 * PostgreSQL it records the proposal itself. The demo merchant ID is funded by a deposit from its
 * entity; the import is a proposal (a bad line named by its file line and field) that moves
 * nothing until another admin approves it; then the good lines are paid, and running the same
 * file again pays nothing twice.
 */
describe("paycore payouts import", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let server: (RunningCli & { banner: string }) | null = null;
  let api = "";
  let sandbox_url = "";
  let token = "";
  let merchant_id = "";
  let client: PaycoreClient;
  const dir = mkdtempSync(join(tmpdir(), "paycore-import-"));
  const env = () => ({ ...storage.env, PORT: "0", SANDBOX_PORT: "0", SANDBOX_URL: sandbox_url || undefined, PAYCORE_LOG_LEVEL: "warn" });
  const available = async () => (await client.get<Json>("/v1/balance")).body.available as number;

  beforeAll(async () => {
    storage = await cliStorage();
    server = await startCli({ ...storage.env, PORT: "0", SANDBOX_PORT: "0", PAYCORE_LOG_LEVEL: "warn" });
    ({ api, sandbox_url, token, client } = readBanner(server.banner));
    merchant_id = client.creds.mch_id;
    const before = await available();
    const dep = await fetch(`${sandbox_url}/sandbox/v1/deposits`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ merchant_id, amount: 10_000_000, payer: { account_name: "Demo Retail Group Co., Ltd.", account_number: "6222020200998877", bank_code: "102100000015" } }),
    });
    expect(dep.status).toBe(201);
    for (let i = 0; i < 400 && (await available()) === before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await available()).toBe(before + 10_000_000);
  }, 240_000);
  afterAll(async () => {
    await server?.stop();
    await storage?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("proposes the file (a bad line named by file line and field), moves nothing until another admin approves, then pays the good lines, and nothing twice on a rerun", async () => {
    const csv = [
      "out_payout_no,amount,account_name,account_number,bank_code,purpose,urgency",
      'imp-1,"1,000.50",上海某某贸易有限公司,6222000011110001,105100000017,货款,',
      "imp-2,200,上海某某贸易有限公司,6222000011110002,10510000001,货款,normal",
      "imp-3,300,上海某某贸易有限公司,6222000011110003,105100000017,货款,urgent",
    ].join("\n");
    const file = join(dir, "payouts.csv");
    writeFileSync(file, csv);
    const before = await available();
    const run = await runCli(["payouts", "import", file, "--merchant", merchant_id], env(), 180_000);
    expect(run.code, run.stderr + run.stdout).toBe(1); // one line would be rejected
    expect(run.stdout).toContain(`proposing 3 payouts from payouts.csv for ${merchant_id}`);
    expect(run.stdout).toMatch(/proposal (prp_\S+) \(import-[0-9a-f]{16}\): 3 lines, 1,300\.50 yuan to pay, 1 line\(s\) that would be rejected — waits for another admin/);
    expect(run.stdout).toContain("rejected: file line 3 (imp-2): invalid_request: payouts.1.payee.bank_code:");
    expect(run.stdout).toContain("four eyes: another admin approves the proposal");
    const proposal_id = /proposal (prp_\S+)/.exec(run.stdout)![1]!;
    // Four eyes: nothing moves until another admin approves (the CLI proposed as the "paycore CLI" operator).
    expect(await available()).toBe(before);
    const admin = (method: string, path: string) => fetch(`${api}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
    const approved = await admin("POST", `/admin/v1/proposals/${proposal_id}/approve`);
    expect(approved.status).toBe(200);
    const fee = 200; // the demo merchant's payout fee minimum
    const after = before - (100_050 + fee) - (30_000 + fee);
    for (let i = 0; i < 600 && (await available()) !== after; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await available()).toBe(after);
    const paidNow = async () => (await client.get<{ data: Json[] }>("/v1/payouts")).body.data.map((p) => [p.out_payout_no, p.amount, p.status]).sort();
    for (let i = 0; i < 600 && JSON.stringify(await paidNow()).includes("processing"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await paidNow()).toEqual([["imp-1", 100_050, "succeeded"], ["imp-3", 30_000, "succeeded"]]);

    // The same file again answers the batch and pays nothing twice.
    const again = await runCli(["payouts", "import", file, "--merchant", merchant_id], env(), 180_000);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stdout).toMatch(/batch pob_\S+ \(import-[0-9a-f]{16}\): 3 lines — succeeded 2, processing 0, queued 0, failed 0, returned 0, rejected 1/);
    expect(again.stdout).toContain("rejected: file line 3 (imp-2): invalid_request: payouts.1.payee.bank_code:");
    expect(await available()).toBe(after);
    // The approval is audited as the import, naming who proposed it.
    const audit = await admin("GET", `/admin/v1/audit-log?target_type=merchant&target_id=${merchant_id}`);
    const entries = ((await audit.json()) as { data: Json[] }).data.filter((e) => e.action === "payout_batch.import");
    expect(entries).toHaveLength(1);
    expect(entries[0]!.after).toMatchObject({ proposed_by: "op_local_cli", proposal_id });
  }, 400_000);

  it("stops with one line and exit 2 on bad arguments or a bad file, and explains itself with --help", async () => {
    const usage = await runCli(["payouts", "import", join(dir, "payouts.csv")], env());
    expect([usage.code, usage.stderr.trim()]).toEqual([2, "usage: paycore payouts import FILE.csv --merchant MERCHANT_ID [--batch OUT_BATCH_NO]"]);
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "out_payout_no,amount\nx,1\n");
    const header = await runCli(["payouts", "import", bad, "--merchant", merchant_id], env());
    expect(header.code).toBe(2);
    expect(header.stderr).toContain("the header line lacks account_name, account_number, bank_code, purpose");
    const help = await runCli(["payouts", "--help"], env());
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining("usage: paycore payouts import FILE.csv --merchant MERCHANT_ID")]);
  }, 120_000);
});
