import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaycoreClient } from "../../src/client/index.ts";
import { bannerCredentials, bannerField, cliStorage, runCli, startCli } from "../support/cli.ts";

describe("paycore CLI: start, restart on the same data, migrate, operator create, bad config", () => {
  let storage: Awaited<ReturnType<typeof cliStorage>>;
  const env = () => ({ ...storage.env, PORT: "0", SANDBOX_PORT: "0", PAYCORE_LOG_LEVEL: "warn" });

  beforeAll(async () => {
    storage = await cliStorage();
  });
  afterAll(async () => storage.cleanup());

  it("starts, prints where to look, seeds the demo, and keeps everything across a restart", { timeout: 300_000 }, async () => {
    const first = await startCli(env());
    const url = bannerField(first.banner, /API\s+(http:\/\/\S+)/);
    const token = bannerField(first.banner, /Operator token (pco_\S+)/);
    expect(first.banner).toContain(`${url}/docs`);
    const creds = bannerCredentials(first.banner);
    expect(creds).toHaveLength(3);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const sandbox = bannerField(first.banner, /Sandbox\s+(http:\/\/\S+)/);
    const cards = (await (await fetch(`${sandbox}/sandbox/v1/cards`)).json()) as { data: unknown[] };
    expect(cards.data.length).toBeGreaterThanOrEqual(30);
    const balance = await new PaycoreClient(url, creds[0]!).get("/v1/balance");
    expect(balance.status).toBe(200);
    expect(balance.signature_valid).toBe(true);
    const merchants = await fetch(`${url}/admin/v1/merchants`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await merchants.json()) as { data: unknown[] }).data).toHaveLength(3);
    // The demo's links use its own address (PAYCORE_PUBLIC_URL unset): the OpenAPI server says so.
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { servers?: { url: string }[] };
    expect(doc.servers?.[0]?.url).toBe(url);
    expect(await first.stop()).toBe(0);

    const second = await startCli(env());
    const url2 = bannerField(second.banner, /API\s+(http:\/\/\S+)/);
    expect(second.banner).not.toMatch(/Operator token pco_/);
    expect(bannerCredentials(second.banner)).toEqual(creds);
    const again = await fetch(`${url2}/admin/v1/merchants`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await again.json()) as { data: unknown[] }).data).toHaveLength(3);
    expect(await second.stop()).toBe(0);
  });

  it("outside the demo, warns at start about a plain-http public URL off this machine", { timeout: 90_000 }, async () => {
    const plain = await startCli({ ...env(), PAYCORE_SEED_DEMO: "false", PAYCORE_PUBLIC_URL: "http://pay.example.com" });
    expect(plain.output()).toMatch(/PAYCORE_PUBLIC_URL is plain http/);
    expect(await plain.stop()).toBe(0);
  });

  it("migrate applies nothing twice; operator create prints a token", { timeout: 300_000 }, async () => {
    const migrate = await runCli(["migrate"], env());
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toContain("nothing to apply");
    const op = await runCli(["operator", "create", "--name", "Bo", "--role", "auditor"], env());
    expect(op.code).toBe(0);
    expect(op.stdout).toMatch(/token: pco_\S+/);
    const bad = await runCli(["operator", "create", "--name", "Bo", "--role", "king"], env());
    expect(bad.code).toBe(2);
  });

  it("stops with one clear line on a bad setting", { timeout: 300_000 }, async () => {
    for (const [name, value] of [["PORT", "abc"], ["DATABASE_URL", "mysql://x"], ["PAYCORE_SEED_DEMO", "maybe"], ["PAYCORE_MASTER_KEY", "short"], ["PAYCORE_PG_POOL_MAX", "1"]] as const) {
      const run = await runCli(["start"], { ...env(), [name]: value });
      expect(run.code, name).not.toBe(0);
      const lines = run.stderr.trim().split("\n");
      expect(lines, run.stderr).toHaveLength(1);
      expect(lines[0]).toContain(name);
    }
  });
});
