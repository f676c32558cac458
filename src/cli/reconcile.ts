import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { HttpSmsGateway } from "../agreements/sms.ts";
import type { Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { formatYuan } from "../kernel/money.ts";
import { isIsoDate } from "../ledger/index.ts";
import { createChannelRegistry } from "../payments/channel-registry.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { RECONCILED_CHANNELS, RESULT_NAMES, reconciliationViews, runReconciliation, sandboxSettlementSource, type RunPhase } from "../reconciliation/index.ts";
import { openContext } from "./main.ts";
import { runningServer, whileRunning, type ServerLink } from "./server-link.ts";

const USAGE = `usage: paycore reconcile --channel ${RECONCILED_CHANNELS.join("|")} --date YYYY-MM-DD`;

/** Progress lines: each phase once, and every `LINES_STEP` lines while the file loads. */
const LINES_STEP = 100_000;

export function progressPrinter(write: (line: string) => void): (phase: RunPhase, lines: number) => void {
  let last_phase: RunPhase | null = null;
  let loaded = { seen: -1, printed: -1 };
  return (phase, lines) => {
    if (phase === "loading") {
      if (loaded.printed < 0 || Math.floor(lines / LINES_STEP) !== Math.floor(loaded.printed / LINES_STEP)) {
        write(`loading the file: ${lines} lines`);
        loaded = { seen: lines, printed: lines };
      } else loaded.seen = lines;
      last_phase = phase;
      return;
    }
    // The file's last count, when the step did not print it.
    if (last_phase === "loading" && loaded.seen !== loaded.printed) write(`loading the file: ${loaded.seen} lines`);
    if (phase === last_phase) return;
    last_phase = phase;
    write(phase === "done" ? `done: ${lines} lines` : `${phase}…`);
  };
}

/** The phases a server's attempt records once it holds the day ("done" is printed from the answer). */
const SHOWN_PHASES: readonly RunPhase[] = ["loading", "matching", "resolving", "settling"];

interface RunView {
  reconciliation_id: string;
  status: "running" | "done";
  progress: { phase: string | null; done: number; total: number | null };
  error: string | null;
  channel: string;
  date: string;
  counts: Record<string, number>;
  amounts: Record<string, { network: bigint | number; platform: bigint | number }>;
  line_count: number;
  file_net: bigint | number;
  run_count: number;
  settled_amount: bigint | number | null;
  open_exceptions: number;
}

function printRun(v: RunView, write: (line: string) => void): void {
  write(`reconciliation ${v.reconciliation_id}: ${v.channel} ${v.date}, ${v.line_count} lines, file net ${formatYuan(BigInt(v.file_net))} yuan (run ${v.run_count})`);
  for (const result of [...RESULT_NAMES, "buffered"]) {
    const n = v.counts[result] ?? 0;
    if (n === 0 && result !== "matched") continue;
    const a = v.amounts[result];
    write(`  ${result.padEnd(16)} ${String(n).padStart(9)}${a ? `   network ${formatYuan(BigInt(a.network))}  paycore ${formatYuan(BigInt(a.platform))}` : ""}`);
  }
  write(`open exceptions ${v.open_exceptions}; network settlement ${v.settled_amount === null ? "not confirmed yet" : `${formatYuan(BigInt(v.settled_amount))} yuan booked`}`);
}

/** `paycore reconcile --channel C --date D`: one channel's file for one day against paycore's records. */
export async function reconcileCommand(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { channel: { type: "string" }, date: { type: "string" } } });
  if (!values.channel || !values.date) {
    console.error(USAGE);
    return 2;
  }
  if (!RECONCILED_CHANNELS.includes(values.channel)) {
    console.error(`paycore reconcile: --channel ${values.channel} is not reconciled; one of ${RECONCILED_CHANNELS.join(", ")}`);
    return 2;
  }
  if (!isIsoDate(values.date)) {
    console.error(`paycore reconcile: --date ${values.date} is not a date; give it as YYYY-MM-DD (e.g. 2026-05-04)`);
    return 2;
  }
  const write = (line: string) => console.log(line);
  const server = runningServer(config);
  if (server) return reconcileThroughServer(server, values.channel, values.date, write);
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    const sandbox_url = config.sandbox_url ?? `http://${config.host}:${config.sandbox_port}`;
    // The channels' keys live in the data directory, as for `paycore start`.
    const data_dir = config.data_dir === "memory" ? resolve("data") : resolve(config.data_dir);
    const deps: PaymentDeps = { ctx, channels: createChannelRegistry(ctx, { data_dir, sandbox_url }), sms: new HttpSmsGateway(sandbox_url), sandbox_url };
    write(`reconciling ${values.channel} ${values.date} (file from ${sandbox_url})`);
    const print = progressPrinter((line) => write(`  ${line}`));
    const { run } = await runReconciliation(deps, { channel_id: values.channel, date: values.date, settlement_source: sandboxSettlementSource(sandbox_url), progress: print });
    const [view] = await reconciliationViews(ctx.db, [run]);
    printRun(view!, write);
    return 0;
  } finally {
    await handle.close();
  }
}

/** The running server reconciles with its own channels (POST /admin/v1/reconciliations). */
async function reconcileThroughServer(server: ServerLink, channel: string, date: string, write: (line: string) => void): Promise<number> {
  write(`reconciling ${channel} ${date} through the running server at ${server.url}`);
  write("  fetching, loading and matching on the server…");
  // The server's attempt writes its phase and lines on the run's row: printed as a local run prints them.
  const print = progressPrinter((line) => write(`  ${line}`));
  const poll = async () => {
    const page = await server.call<{ data: RunView[] }>("GET", `/admin/v1/reconciliations?channel=${encodeURIComponent(channel)}&date=${date}&limit=1`);
    const r = page.data[0];
    const phase = r?.progress?.phase;
    if (r?.status === "running" && !r.error && phase && SHOWN_PHASES.includes(phase as RunPhase)) print(phase as RunPhase, r.progress.done);
  };
  const view = await whileRunning(server.call<RunView>("POST", "/admin/v1/reconciliations", { channel, date }), poll);
  print("done", view.line_count);
  printRun(view, write);
  return 0;
}
