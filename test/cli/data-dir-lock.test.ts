import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli, type RunningCli } from "../support/cli.ts";

/**
 * PGlite is one process's database. While `paycore start` holds the data directory, operator
 * create, settle and ledger check ask the running server; anything else stops with one line.
 * (Always on the embedded database: that is what the lock is for.)
 */
describe("one process owns the embedded database's data directory", () => {
  let dir: string;
  let server: (RunningCli & { banner: string }) | null = null;
  let url = "";
  const env = () => ({ PAYCORE_DATA_DIR: dir, PORT: "0", SANDBOX_PORT: "0", PAYCORE_LOG_LEVEL: "warn" });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "paycore-lock-"));
    server = await startCli(env());
    url = /API\s+(http:\/\/\S+)/.exec(server.banner)![1]!;
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("operator create and ledger check go through the running server, which sees the new operator", async () => {
    const op = await runCli(["operator", "create", "--name", "Lin", "--role", "auditor"], env());
    expect(op.code, op.stderr).toBe(0);
    expect(op.stdout).toContain(`(through the running server at ${url})`);
    const token = /token: (pco_\S+)/.exec(op.stdout)![1]!;
    const seen = await fetch(`${url}/admin/v1/merchants`, { headers: { authorization: `Bearer ${token}` } });
    expect(seen.status).toBe(200);

    const check = await runCli(["ledger", "check"], env());
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain("through the running server");
    expect(check.stdout).toContain("books ok");
  }, 120_000);

  it("settle goes through the server (and its sandbox); a bad date says it is not a date", async () => {
    const settle = await runCli(["settle", "--date", "2026-05-04"], env());
    expect(settle.code, settle.stderr).toBe(0);
    expect(settle.stdout).toContain(`through the running server at ${url} (payouts through its sandbox)`);
    expect(settle.stdout).toMatch(/payout instructions \d+/);
    // The server's run counters, printed as a local run prints them (the last point, at least).
    expect(settle.stdout).toMatch(/settling groups: (\d+)\/\1/);
    const bad = await runCli(["settle", "--date", "2026-13-45"], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("paycore settle: --date 2026-13-45 is not a date; give it as YYYY-MM-DD (e.g. 2026-05-04)");
  }, 120_000);

  it("anything else that needs the database stops with one clear line naming the server", async () => {
    const migrate = await runCli(["migrate"], env());
    expect(migrate.code).toBe(75);
    const lines = migrate.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^paycore: the paycore server \\(pid ${server!.child.pid}, ${url.replace(/[.]/g, "\\.")}\\) holds the data directory ${dir}; stop it first`));
  }, 60_000);

  it("explains every command with --help", async () => {
    for (const command of ["start", "migrate", "operator", "settle", "ledger"]) {
      const help = await runCli([command, "--help"], env());
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`^usage: paycore ${command}`));
    }
  }, 120_000);
});
