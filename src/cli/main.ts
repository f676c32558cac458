import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { connect, migrate, type DatabaseHandle } from "../db/index.ts";
import { systemClock } from "../kernel/clock.ts";
import { SecretBox } from "../kernel/crypto/index.ts";
import { createLogger } from "../kernel/log.ts";
import { createOperator, OPERATOR_ROLES, type OperatorRole } from "../operators/index.ts";
import { DEFAULT_SETTINGS, type Ctx } from "../context.ts";
import { loadMasterKey } from "../platform.ts";
import { runStart } from "./start.ts";
import { ledgerCommand, settleCommand } from "./settle.ts";
import { riskCommand } from "./risk.ts";

const USAGE = `usage: paycore <command>

commands:
  start                               run the API server (and the sandbox unless SANDBOX_URL is set)
  migrate                             apply database migrations and exit
  operator create --name N --role R   create an operator (admin | operator | auditor); prints its token once
  settle --date YYYY-MM-DD            settle what has matured by that day's cut-off and pay it out (--no-payouts: instruct only)
  ledger check                        recompute the books from the journal and compare
  risk monitor                        score every merchant ID for gambling and fraud patterns now, with progress

settings come from the environment: see README.md ("Running it").`;

export async function openContext(config: Config): Promise<{ ctx: Ctx; handle: DatabaseHandle; master_key_source: string }> {
  const log = createLogger(config.log_level);
  const { key, source } = loadMasterKey(config);
  const handle = await connect({
    database_url: config.database_url,
    data_dir: config.data_dir,
    on_pool_error: (err) => log.warn({ err: err.message }, "database connection lost; it is replaced on the next query"),
  });
  const ctx: Ctx = {
    db: handle.db,
    clock: systemClock,
    box: new SecretBox(key),
    log,
    settings: { ...DEFAULT_SETTINGS, key_grace_ms: config.key_grace_ms, rate_limit_per_minute: config.rate_limit_per_minute, body_limit_bytes: config.body_limit_bytes, public_url: config.public_url ?? null, webhook_allow_hosts: config.webhook_allow_hosts ?? [] },
  };
  return { ctx, handle, master_key_source: source };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  switch (command) {
    case "start":
      return runStart(config);
    case "migrate": {
      const { handle } = await openContext(config);
      const applied = await migrate(handle.db);
      console.log(applied.length ? `applied: ${applied.join(", ")}` : "nothing to apply");
      await handle.close();
      return 0;
    }
    case "operator":
      return operatorCommand(config, rest);
    case "settle":
      return settleCommand(config, rest);
    case "ledger":
      return ledgerCommand(config, rest);
    case "risk":
      return riskCommand(config, rest);
    default:
      console.error(`paycore: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function operatorCommand(config: Config, args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, options: { name: { type: "string" }, role: { type: "string" } }, allowPositionals: true });
  if (positionals[0] !== "create" || !values.name || !OPERATOR_ROLES.includes(values.role as OperatorRole)) {
    console.error("usage: paycore operator create --name NAME --role admin|operator|auditor");
    return 2;
  }
  const { ctx, handle } = await openContext(config);
  await migrate(handle.db);
  const { operator, token } = await createOperator(ctx, { name: values.name, role: values.role as OperatorRole });
  console.log(`operator ${operator.operator_id} (${operator.role}) created`);
  console.log(`token: ${token}`);
  console.log("the token is shown only now; paycore keeps only its hash");
  await handle.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`paycore: ${err.message}`);
      process.exit(78);
    }
    console.error(`paycore: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
