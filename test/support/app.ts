import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { DEFAULT_SETTINGS, type Ctx, type Settings } from "../../src/context.ts";
import { ManualClock, type Clock } from "../../src/kernel/clock.ts";
import { SecretBox } from "../../src/kernel/crypto/index.ts";
import { createLogger } from "../../src/kernel/log.ts";
import { createOperator } from "../../src/operators/index.ts";
import { startServer } from "../../src/platform.ts";
import { allRoutes } from "../../src/api/index.ts";
import type { RouteDef } from "../../src/api/route.ts";
import { PaycoreClient, type Credentials } from "../../src/client/index.ts";
import { isValidUscc, usccCheckChar } from "../../src/kernel/checks.ts";
import pg from "pg";
import { createTestDatabase, testDatabaseUrl } from "./db.ts";
import { startTestSandbox, type TestSandbox } from "./sandbox.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PaymentDeps } from "../../src/payments/deps.ts";
import { createChannelRegistry } from "../../src/payments/channel-registry.ts";
import { HttpSmsGateway } from "../../src/agreements/sms.ts";
import { startSweeper } from "../../src/payments/sweeper.ts";
import { createPayoutDeps, DEFAULT_RESERVE_ACCOUNT, HttpRailGateway } from "../../src/payouts/index.ts";
import type { RailOptions, WorldOptions } from "../../src/sandbox/index.ts";

/**
 * A real paycore server for a suite: its own schema on the run's database engine, listening on
 * 127.0.0.1:0, with an admin operator. Everything goes over HTTP; `close()` stops it all.
 */
export interface TestApp {
  url: string;
  ctx: Ctx;
  deps: PaymentDeps;
  /** The suite's sandbox, when started with `sandbox: true`. */
  sandbox: TestSandbox | null;
  /** Runs the payment sweeper once (it does not run by itself in tests: the clock is manual). */
  sweep(): Promise<number>;
  admin_token: string;
  /** Every log line written, to check what reaches the logs. */
  log_lines: string[];
  admin(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  merchantClient(creds: Credentials, now_s?: () => number): PaycoreClient;
  close(): Promise<void>;
}

export async function startTestApp(
  options: {
    label?: string;
    clock?: Clock;
    settings?: Partial<Settings>;
    extra_routes?: (ctx: Ctx) => RouteDef[];
    /** Start a sandbox (sharing the clock when it is a ManualClock) and wire the channels to it. */
    sandbox?: boolean;
    channel_timeout_ms?: number;
    /** The sandbox rails' timings (short batches and returns in tests). */
    rails?: RailOptions;
    /** How much of its world the sandbox keeps in memory (small in tests of its retirement). */
    sandbox_world?: WorldOptions;
    /** PAYCORE_PUBLIC_URL; by default the server's own address (as the demo), null for none. */
    public_url?: string | null;
    /** A PostgreSQL server for this app's schema (a PostgreSQL-only test in the PGlite pass). */
    database_url?: string;
  } = {},
): Promise<TestApp> {
  const db = await createTestDatabase(options.label ?? "app", options.database_url);
  const log_lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      log_lines.push(chunk.toString("utf8"));
      if (log_lines.length > 20_000) log_lines.splice(0, 10_000);
      done();
    },
  });
  const ctx: Ctx = {
    db: db.db,
    clock: options.clock ?? new ManualClock(),
    box: new SecretBox(randomBytes(32)),
    log: createLogger("info", sink),
    // Tests run their webhook receivers on this machine: allowed explicitly, as an operator would.
    settings: { ...DEFAULT_SETTINGS, webhook_allow_hosts: ["127.0.0.1"], ...options.settings },
  };
  const { token } = await createOperator(ctx, { name: "test-admin", role: "admin" });
  const data_dir = mkdtempSync(join(tmpdir(), "paycore-app-"));
  const sandbox = options.sandbox
    ? await startTestSandbox({ data_dir, ...(ctx.clock instanceof ManualClock ? { clock: ctx.clock } : {}), rails: { beps_batch_interval_ms: 300, return_delay_ms: 300, forward_delay_ms: 200, tick_ms: 50, ...options.rails }, ...(options.sandbox_world ? { world: options.sandbox_world } : {}) })
    : null;
  const sandbox_url = sandbox?.url ?? null;
  const deps: PaymentDeps = {
    ctx,
    channels: createChannelRegistry(ctx, { data_dir, sandbox_url, ...(options.channel_timeout_ms ? { timeout_ms: options.channel_timeout_ms } : {}) }),
    sms: new HttpSmsGateway(sandbox_url ?? "http://127.0.0.1:9"),
    sandbox_url,
    payouts: createPayoutDeps(ctx, sandbox_url ? new HttpRailGateway(sandbox_url, data_dir, { ...DEFAULT_RESERVE_ACCOUNT }) : null),
  };
  const routes = [...allRoutes(deps), ...(options.extra_routes?.(ctx) ?? [])];
  const server = await startServer(deps, { host: "127.0.0.1", port: 0, routes });
  ctx.settings.public_url = options.public_url === undefined ? server.url : options.public_url;
  if (sandbox) {
    await sandbox.send("PUT", "/sandbox/v1/config", { paycore_callback_url: `${server.url}/callbacks/channels` });
    await deps.channels.views();
  }
  const sweeper = startSweeper(deps, { autostart: false });
  const admin: TestApp["admin"] = async (method, path, body, t = token) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${t}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
  };
  return {
    url: server.url,
    ctx,
    deps,
    sandbox,
    sweep: () => sweeper.runOnce(),
    admin_token: token,
    log_lines,
    admin,
    merchantClient: (creds, now_s) => new PaycoreClient(server.url, creds, now_s ?? (() => Math.floor(ctx.clock.now().getTime() / 1000))),
    close: async () => {
      const label = options.label ?? "app";
      await slowStepReport(label, "paycore server close", () => server.close());
      await slowStepReport(label, "sweeper stop", () => sweeper.stop());
      await slowStepReport(label, "sandbox close", async () => sandbox?.close());
      rmSync(data_dir, { recursive: true, force: true });
      await slowStepReport(label, "drop schema", () => db.drop());
    },
  };
}

/**
 * Runs one step of a suite's shutdown; if it is still running after 15 s, says which step on
 * stderr with what the database is doing (PostgreSQL), so a shutdown that hangs in CI names its
 * cause instead of only exceeding the hook timeout.
 */
async function slowStepReport(label: string, step: string, run: () => Promise<unknown>): Promise<void> {
  const timer = setTimeout(() => void reportSlowStep(label, step), 15_000);
  try {
    await run();
  } finally {
    clearTimeout(timer);
  }
}

async function reportSlowStep(label: string, step: string): Promise<void> {
  let activity = "(embedded database)";
  const url = testDatabaseUrl();
  if (url) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const r = await client.query(
        `SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS xact_age, left(query, 200) AS query
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`,
      );
      activity = JSON.stringify(r.rows, null, 1);
    } catch (err) {
      activity = `(could not read pg_stat_activity: ${(err as Error).message})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  process.stderr.write(`\n[test app ${label}] shutdown step "${step}" still running after 15 s; database activity: ${activity}\n`);
}

let uscc_counter = 0;
/** A fresh valid unified social credit code per call. */
export function testUscc(): string {
  uscc_counter += 1;
  const body = `91310000MA${randomBytes(3).toString("hex").toUpperCase().replace(/[IOSVZ]/g, "1")}${String(uscc_counter % 10)}`.slice(0, 17);
  const code = body + usccCheckChar(body);
  if (!isValidUscc(code)) throw new Error(`bad test uscc ${code}`);
  return code;
}

export const TEST_ACCOUNT = { account_name: "Test Co., Ltd.", account_number: "6222020200112233445", bank_code: "102290000012" };

/** An entity and a merchant ID under it, through the admin API; answers its credentials. */
export async function createTestMerchant(app: TestApp, overrides: Record<string, unknown> = {}, entity_id?: string) {
  let entity = entity_id;
  if (!entity) {
    const e = await app.admin("POST", "/admin/v1/entities", { legal_name: `Test Entity ${randomBytes(3).toString("hex")}`, uscc: testUscc() });
    if (e.status !== 201) throw new Error(`entity: ${JSON.stringify(e.body)}`);
    entity = e.body.entity_id as string;
  }
  const m = await app.admin("POST", "/admin/v1/merchants", {
    entity_id: entity,
    name: "Test Merchant",
    business_category: "retail",
    risk_level: "low",
    products: [{ product: "agreement_pay", fee_rate_bps: 60, fee_min: 1 }],
    settlement: { mode: "own", cycle_days: 1, account: TEST_ACCOUNT },
    ...overrides,
  });
  if (m.status !== 201) throw new Error(`merchant: ${JSON.stringify(m.body)}`);
  const creds: Credentials = { mch_id: m.body.merchant_id, key_id: m.body.api_key.key_id, secret: m.body.api_key.secret };
  return { entity_id: entity, merchant: m.body, creds };
}
