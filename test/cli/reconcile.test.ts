import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { businessDate } from "../../src/ledger/index.ts";
import { cliStorage, readBanner, runCli, startCli, type RunningCli } from "../support/cli.ts";
import { cardBody, type SandboxCard } from "../payments/helpers.ts";

type Json = Record<string, unknown>;

/**
 * `paycore reconcile --channel C --date D` against a running `paycore start` and its sandbox: on
 * the embedded database it asks the server (which holds the data directory); on PostgreSQL it
 * runs itself, printing its progress. Either way the day's payment is matched, a second run is
 * the same run again, and bad arguments stop with one line and exit 2.
 */
describe("paycore reconcile", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  let server: (RunningCli & { banner: string }) | null = null;
  let api = "";
  let sandbox_url = "";
  let token = "";
  let channel = "";
  let date = "";
  const env = () => ({ ...storage.env, PORT: "0", SANDBOX_PORT: "0", SANDBOX_URL: sandbox_url || undefined, PAYCORE_LOG_LEVEL: "warn" });

  beforeAll(async () => {
    storage = await cliStorage();
    server = await startCli({ ...storage.env, PORT: "0", SANDBOX_PORT: "0", PAYCORE_LOG_LEVEL: "warn" });
    const banner = readBanner(server.banner);
    ({ api, sandbox_url, token } = banner);
    const client = banner.client;
    const cards = ((await (await fetch(`${sandbox_url}/sandbox/v1/cards`)).json()) as { data: SandboxCard[] }).data;
    const card = cards.filter((c) => c.card_type === "debit" && c.status === "normal" && c.balance >= 100_000)[2]!;
    const start = await client.post<Json>("/v1/agreements", { out_request_no: "recon-sign", user_ref: "recon", card: cardBody(card) });
    expect(start.status, start.text).toBe(201);
    const sms = (await (await fetch(`${sandbox_url}/sandbox/v1/sms?phone=${card.phone}`)).json()) as { data: { otp: string }[] };
    const confirm = await client.post<Json>("/v1/agreements/confirm", { sign_request_id: start.body.sign_request_id, otp: sms.data.at(-1)!.otp });
    expect(confirm.status, confirm.text).toBe(201);
    const paid = await client.post<Json>("/v1/payments", { out_trade_no: "recon-1", agreement_id: confirm.body.agreement_id, amount: 1_234, currency: "CNY", description: "cli recon" });
    expect(paid.body.status).toBe("succeeded");
    channel = paid.body.channel as string;
    date = businessDate(new Date(paid.body.created_at as string), 23 * 60); // the network's day so far
  }, 240_000);
  afterAll(async () => {
    await server?.stop();
    await storage?.cleanup();
  });

  it("reconciles a channel's day and prints its progress and counts; a second run is the same run again", async () => {
    const first = await runCli(["reconcile", "--channel", channel, "--date", date], env(), 120_000);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    if (storage.env.DATABASE_URL) {
      expect(first.stdout).toContain(`reconciling ${channel} ${date} (file from ${sandbox_url})`);
      for (const step of ["fetching…", "loading the file: 1 lines", "matching…", "done: 1 lines"]) expect(first.stdout).toContain(step);
    } else {
      expect(first.stdout).toContain(`reconciling ${channel} ${date} through the running server at ${api}`);
    }
    expect(first.stdout).toMatch(new RegExp(`reconciliation rec_\\S+: ${channel} ${date}, 1 lines, file net [\\d.]+ yuan \\(run 1\\)`));
    // Near the cut-off the payment waits in the buffer instead (docs/reconciliation.md).
    expect(first.stdout).toMatch(/ (matched +1 |buffered +1)/);
    expect(first.stdout).toContain("open exceptions 0");

    const again = await runCli(["reconcile", "--channel", channel, "--date", date], env(), 120_000);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("(run 2)");
    const listed = await fetch(`${api}/admin/v1/reconciliations?channel=${channel}&date=${date}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await listed.json()) as { data: { run_count: number; line_count: number }[] };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({ run_count: 2, line_count: 1 });
  }, 240_000);

  it("stops with one line and exit 2 on a bad channel or date, and explains itself with --help", async () => {
    const channel_bad = await runCli(["reconcile", "--channel", "visa", "--date", date], env());
    expect(channel_bad.code).toBe(2);
    expect(channel_bad.stderr.trim()).toBe("paycore reconcile: --channel visa is not reconciled; one of netsunion, unionpay_nocard, unionpay_quickpay, hvps, beps, ibps, bank_direct");
    const date_bad = await runCli(["reconcile", "--channel", channel, "--date", "2026-02-30"], env());
    expect(date_bad.code).toBe(2);
    expect(date_bad.stderr.trim()).toBe("paycore reconcile: --date 2026-02-30 is not a date; give it as YYYY-MM-DD (e.g. 2026-05-04)");
    const help = await runCli(["reconcile", "--help"], env());
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: paycore reconcile --channel/);
  }, 120_000);
});
