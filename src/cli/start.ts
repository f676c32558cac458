import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { publicUrlWarning, type Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { seedDemo, type DemoMerchant } from "../demo.ts";
import { startNotifier } from "../notify/index.ts";
import { ensureBootstrapAdmin, rotateLocalCliToken } from "../operators/index.ts";
import { HttpSmsGateway } from "../agreements/sms.ts";
import { createChannelRegistry } from "../payments/channel-registry.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { startSweeper } from "../payments/sweeper.ts";
import { startLedgerApplier } from "../ledger/index.ts";
import { startMonitorSchedule } from "../risk/index.ts";
import { sandboxSettlementSource, startReconciliationSchedule } from "../reconciliation/index.ts";
import { createPayoutDeps, DEFAULT_RESERVE_ACCOUNT, HttpRailGateway } from "../payouts/index.ts";
import { crashPointSetting } from "../kernel/crash-point.ts";
import { startServer } from "../platform.ts";
import { startSandbox, type RunningSandbox } from "../sandbox/index.ts";
import { openContext } from "./main.ts";

/**
 * `paycore start`: migrate, bootstrap the first admin, seed demo data, start the sandbox (unless
 * SANDBOX_URL), serve, tell the sandbox where paycore's callbacks are, run the sweeper and the
 * notifier, print where to look.
 */
export async function runStart(config: Config): Promise<number> {
  const crash_point = crashPointSetting(); // a typo in a kill -9 test stops the start, not a payout
  const { ctx, handle, master_key_source } = await openContext(config);
  if (crash_point) ctx.log.warn({ crash_point }, "PAYCORE_CRASH_POINT is set: this process kills itself with SIGKILL at that point (a test facility, docs/reliability.md)");
  await migrate(handle.db);
  const admin = await ensureBootstrapAdmin(ctx, config.admin_token);
  const demo = config.seed_demo ? await seedDemo(ctx) : null;
  // Keys are exchanged with the networks through files in the data directory.
  const data_dir = config.data_dir === "memory" ? mkdtempSync(join(tmpdir(), "paycore-")) : resolve(config.data_dir);
  let sandbox: RunningSandbox | null = null;
  if (!config.sandbox_url) sandbox = await startSandbox({ host: config.host, port: config.sandbox_port, data_dir, keep_state: config.data_dir !== "memory" });
  const sandbox_url = config.sandbox_url ?? sandbox!.url;
  const payouts = createPayoutDeps(ctx, new HttpRailGateway(sandbox_url, data_dir, { ...DEFAULT_RESERVE_ACCOUNT }));
  const deps: PaymentDeps = { ctx, channels: createChannelRegistry(ctx, { data_dir, sandbox_url }), sms: new HttpSmsGateway(sandbox_url), sandbox_url, payouts };
  const server = await startServer(deps, { host: config.host, port: config.port });
  // The CLI finds the server (and a token to act with) in the data directory's lock file.
  if (handle.lock) handle.lock.update({ url: server.url, control_token: await rotateLocalCliToken(ctx) });
  settleDemoDefaults(ctx, config, server.url);
  await tellSandboxOurCallbacks(sandbox_url, `${ctx.settings.public_url ?? server.url}/callbacks/channels`, ctx.log);
  await deps.channels.views(); // creates paycore's channel keys before the first network call
  const sweeper = startSweeper(deps);
  const notifier = startNotifier(ctx);
  const applier = startLedgerApplier(ctx);
  const risk_monitor = startMonitorSchedule(ctx);
  const reconciliation = startReconciliationSchedule(deps, sandboxSettlementSource(sandbox_url));
  printBanner({ config, url: server.url, sandbox_url, admin, demo: demo?.merchants ?? [], master_key_source, engine: handle.engine });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ctx.log.info({ signal }, "shutting down");
    await server.close();
    await sweeper.stop();
    await notifier.stop();
    await applier.stop();
    await risk_monitor.stop();
    await reconciliation.stop();
    await sandbox?.close();
    await handle.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  return 0;
}

export const DEMO_WEBHOOK_ALLOW_HOSTS: readonly string[] = ["localhost", "127.0.0.0/8", "::1"];

/**
 * Links handed out (campaign SMS) are built on PAYCORE_PUBLIC_URL, never on a request's Host. The
 * demo (PAYCORE_SEED_DEMO, the default) uses its own address; otherwise campaigns are refused
 * until it is set. A plain-http public URL on a host other than this machine is warned about.
 */
function settleDemoDefaults(ctx: PaymentDeps["ctx"], config: Config, server_url: string): void {
  if (!ctx.settings.public_url && config.seed_demo) ctx.settings.public_url = server_url;
  // The demo lets notifications reach a receiver on this machine (nothing else internal), unless
  // PAYCORE_WEBHOOK_ALLOW_HOSTS says otherwise. Outside the demo only that setting allows any.
  if (config.webhook_allow_hosts === undefined && config.seed_demo) ctx.settings.webhook_allow_hosts = DEMO_WEBHOOK_ALLOW_HOSTS;
  const warning = publicUrlWarning(ctx.settings.public_url);
  if (warning) ctx.log.warn({ public_url: ctx.settings.public_url }, warning);
}

async function tellSandboxOurCallbacks(sandbox_url: string, callback_url: string, log: PaymentDeps["ctx"]["log"]): Promise<void> {
  try {
    const res = await fetch(`${sandbox_url}/sandbox/v1/config`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ paycore_callback_url: callback_url }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) log.warn({ status: res.status }, "the sandbox did not take paycore's callback URL");
  } catch (err) {
    log.warn({ err: (err as Error).message }, "could not reach the sandbox to give it paycore's callback URL");
  }
}

function printBanner(b: {
  config: Config;
  url: string;
  sandbox_url: string;
  admin: { token: string; created: boolean } | null;
  demo: DemoMerchant[];
  master_key_source: string;
  engine: string;
}): void {
  const lines = [
    "",
    "paycore is running",
    `  API            ${b.url}`,
    `  API docs       ${b.url}/docs   (OpenAPI: ${b.url}/openapi.json)`,
    `  Health         ${b.url}/healthz`,
    `  Sandbox        ${b.sandbox_url}   (SMS inbox: ${b.sandbox_url}/sandbox/inbox; test cards: ${b.sandbox_url}/sandbox/v1/cards)`,
    `  Database       ${b.engine === "postgres" ? "PostgreSQL (DATABASE_URL)" : `embedded PGlite in ${b.config.data_dir === "memory" ? "memory (nothing kept)" : `${b.config.data_dir}/pglite`}`}`,
    `  Master key     ${b.master_key_source}`,
    b.admin
      ? `  Operator token ${b.admin.token}   (admin${b.admin.created && !b.config.admin_token ? "; shown once, only its hash is kept" : ""})`
      : "  Operator token created at first start; make another with: npx paycore operator create --name NAME --role admin",
    "    try: curl -H 'Authorization: Bearer <token>' " + b.url + "/admin/v1/merchants",
  ];
  if (b.demo.length) {
    lines.push("  Demo merchants (sign requests as in docs/merchant-api.md):");
    for (const m of b.demo) {
      lines.push(`    ${m.name}${m.parent_merchant_id ? ` (sub-merchant of ${m.parent_merchant_id})` : ""}`);
      lines.push(`      mch_id=${m.merchant_id}  key_id=${m.key_id}  secret=${m.secret}`);
    }
  }
  lines.push("");
  process.stdout.write(lines.join("\n") + "\n");
}
