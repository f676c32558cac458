import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { connect, migrate, type DatabaseHandle } from "../db/index.ts";
import { systemClock } from "../kernel/clock.ts";
import { SecretBox } from "../kernel/crypto/index.ts";
import { createLogger } from "../kernel/log.ts";
import { createOperator, OPERATOR_ROLES, type OperatorRole } from "../operators/index.ts";
import { DEFAULT_SETTINGS, type Ctx } from "../context.ts";
import { loadMasterKey } from "../platform.ts";
import { DirectoryLockedError } from "../kernel/dir-lock.ts";
import { busyLine, runningServer } from "./server-link.ts";
import { runStart } from "./start.ts";
import { ledgerCommand, settleCommand } from "./settle.ts";
import { riskCommand } from "./risk.ts";
import { reconcileCommand } from "./reconcile.ts";
import { payoutsCommand } from "./payouts.ts";

const USAGE = `usage: paycore <command>

commands:
  start                               run the API server (and the sandbox unless SANDBOX_URL is set)
  migrate                             apply database migrations and exit
  operator create --name N --role R   create an operator (admin | operator | auditor); prints its token once
  settle --date YYYY-MM-DD            settle what has matured by that day's cut-off and pay it out (--no-payouts: instruct only)
  ledger check                        recompute the books from the journal and compare
  risk monitor                        score every merchant ID for gambling and fraud patterns now, with progress
  reconcile --channel C --date D      match channel C's statement file for day D against paycore's records, with progress
  payouts import FILE.csv --merchant M  propose a CSV file of payouts for merchant ID M as batches (another admin approves)

\`paycore <command> --help\` explains one command. Settings come from the environment: see
docs/api-conventions.md ("Running it"). While \`paycore start\` runs on the embedded database,
operator create, settle, reconcile, payouts import and ledger check ask the running server (PGlite is one process's).`;

/** `paycore <command> --help`. */
export const COMMAND_HELP: Record<string, string> = {
  start: `usage: paycore start

Migrates the database, creates the first admin (its token is printed once), seeds the demo
merchants (PAYCORE_SEED_DEMO=false skips them), starts the sandbox networks (unless SANDBOX_URL)
and serves the API on PORT (default 3000) and the sandbox on SANDBOX_PORT (default 3100).
Stop it with Ctrl-C (SIGINT) or SIGTERM.`,
  migrate: `usage: paycore migrate

Applies the database migrations that are not applied yet, then exits. \`paycore start\` does it too.`,
  operator: `usage: paycore operator create --name NAME --role admin|operator|auditor

Creates an operator and prints its token once (paycore keeps only its hash). Operators call the
admin API with Authorization: Bearer <token>. With the server running, it asks the server.`,
  settle: `usage: paycore settle --date YYYY-MM-DD [--no-payouts]

Settles what has matured by that day's cut-off and pays it out through the bank (the sandbox the
server uses: SANDBOX_URL, else HOST:SANDBOX_PORT). --no-payouts only records the payout
instructions. Running it again for the same date changes nothing. With the server running, it
asks the server (which uses its own sandbox).`,
  reconcile: `usage: paycore reconcile --channel netsunion|unionpay_nocard|unionpay_quickpay --date YYYY-MM-DD

Fetches the channel's statement file for that network day (over the channel, signed and verified),
loads it line by line with progress, matches it against paycore's payments and refunds, records
the exceptions (docs/reconciliation.md) and prints the counts and amounts per result. Running it
again gives the same result. With the server running, it asks the server. The server also runs it
by itself once each file is due.`,
  payouts: `usage: paycore payouts import FILE.csv --merchant MERCHANT_ID [--batch OUT_BATCH_NO]

Proposes paying out the file's lines from the merchant ID's available balance (four eyes): each
batch is a proposal another admin approves (POST /admin/v1/proposals/{id}/approve, or the
console's Proposals page); it then runs as POST /v1/payout-batches would, each line its own
payout, validated and reserved on its own, a bad line rejected alone.
The file is CSV (UTF-8) with a header line naming the columns out_payout_no, amount (yuan, e.g.
52000.00), account_name, account_number, bank_code (12-digit CNAPS code), purpose and optionally
urgency (normal | urgent). Files over 1,000 lines go as several batches (OUT_BATCH_NO-1, -2, …);
OUT_BATCH_NO defaults to one derived from the file's content, so importing the same file again
answers the waiting proposal, or the batch once it has run, and pays nothing twice. Prints each
proposal (lines, sum to pay, each line that would be rejected with its file line number), or each
batch's counts per status and rejected lines. Exit 0: every line well formed; 1: some rejected;
2: a bad file or arguments. With the server running, it asks the server.`,
  ledger: `usage: paycore ledger check

Recomputes every balance from the journal and compares; exit 1 on a difference. With the server
running, it asks the server.`,
};

export async function openContext(config: Config): Promise<{ ctx: Ctx; handle: DatabaseHandle; master_key_source: string }> {
  const log = createLogger(config.log_level);
  const { key, source } = loadMasterKey(config);
  const handle = await connect({
    database_url: config.database_url,
    prepare: config.pg_prepare,
    pool_size_max: config.pg_pool_max,
    data_dir: config.data_dir,
    on_pool_error: (err) => log.warn({ err: err.message }, "database connection lost; it is replaced on the next query"),
  });
  const ctx: Ctx = {
    db: handle.db,
    clock: systemClock,
    box: new SecretBox(key),
    log,
    settings: {
      ...DEFAULT_SETTINGS,
      key_grace_ms: config.key_grace_ms,
      rate_limit_per_minute: config.rate_limit_per_minute,
      body_limit_bytes: config.body_limit_bytes,
      connection_timeout_ms: config.connection_timeout_ms,
      request_timeout_ms: config.request_timeout_ms,
      body_timeout_ms: config.body_timeout_ms,
      public_url: config.public_url ?? null,
      webhook_allow_hosts: config.webhook_allow_hosts ?? [],
    },
  };
  return { ctx, handle, master_key_source: source };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const help = COMMAND_HELP[command];
    if (!help) {
      console.error(`paycore: unknown command '${command}'\n\n${USAGE}`);
      return 2;
    }
    console.log(help);
    return 0;
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
    case "reconcile":
      return reconcileCommand(config, rest);
    case "payouts":
      return payoutsCommand(config, rest);
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
  const server = runningServer(config);
  const { operator, token } = server
    ? await server.call<{ operator_id: string; role: string; token: string }>("POST", "/admin/v1/operators", { name: values.name, role: values.role }).then((o) => ({ operator: o, token: o.token }))
    : await createLocally(config, values.name, values.role as OperatorRole);
  if (server) console.log(`(through the running server at ${server.url})`);
  console.log(`operator ${operator.operator_id} (${operator.role}) created`);
  console.log(`token: ${token}`);
  console.log("the token is shown only now; paycore keeps only its hash");
  return 0;
}

async function createLocally(config: Config, name: string, role: OperatorRole) {
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    return await createOperator(ctx, { name, role });
  } finally {
    await handle.close();
  }
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
    if (err instanceof DirectoryLockedError) {
      console.error(`paycore: ${busyLine(loadConfig().data_dir, err.holder)}`);
      process.exit(75);
    }
    console.error(`paycore: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
