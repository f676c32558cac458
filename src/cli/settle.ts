import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { PaycoreError } from "../kernel/errors.ts";
import { formatYuan } from "../kernel/money.ts";
import { isIsoDate } from "../ledger/index.ts";
import { createPayoutDeps, DEFAULT_RESERVE_ACCOUNT, HttpRailGateway } from "../payouts/index.ts";
import { checkBooks, runSettlement, type RunProgress, type RunSummary } from "../settlement/index.ts";
import { openContext } from "./main.ts";
import { ServerRefusal, runningServer, whileRunning, type ServerLink } from "./server-link.ts";

/** Prints a progress line at each tenth of the way, so a long run shows it is alive. */
function progressPrinter(write: (line: string) => void): (p: RunProgress) => void {
  const last_tenth = { settle: -1, payout: -1 };
  return (p) => {
    const tenth = p.total === 0 ? 10 : Math.floor((p.done * 10) / p.total);
    if (tenth === last_tenth[p.phase] && p.done !== p.total) return;
    last_tenth[p.phase] = tenth;
    write(`${p.phase === "settle" ? "settling groups" : "executing payouts"}: ${p.done}/${p.total}`);
  };
}

/** `paycore settle --date YYYY-MM-DD [--no-payouts]`: the settlement run for one date. */
export async function settleCommand(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { date: { type: "string" }, "no-payouts": { type: "boolean" } } });
  if (!values.date) {
    console.error("usage: paycore settle --date YYYY-MM-DD [--no-payouts]");
    return 2;
  }
  if (!isIsoDate(values.date)) {
    console.error(`paycore settle: --date ${values.date} is not a date; give it as YYYY-MM-DD (e.g. 2026-05-04)`);
    return 2;
  }
  const server = runningServer(config);
  if (server) return settleThroughServer(server, values.date, values["no-payouts"] === true);
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    const sandbox_url = config.sandbox_url ?? `http://${config.host}:${config.sandbox_port}`;
    const data_dir = config.data_dir === "memory" ? resolve("data") : resolve(config.data_dir);
    // Payouts are routed with the reserve bank in view even when they are only recorded here.
    const pd = createPayoutDeps(ctx, new HttpRailGateway(sandbox_url, data_dir, { ...DEFAULT_RESERVE_ACCOUNT }));
    const execute = values["no-payouts"] !== true;
    console.log(`settlement run for ${values.date}${execute ? ` (payouts over the rails through ${sandbox_url})` : " (payout instructions and their payouts recorded, not sent: the server's sweeper sends them)"}`);
    const s = await runSettlement(pd, { date: values.date, execute, on_progress: progressPrinter((line) => console.log(`  ${line}`)) });
    printSummary(s);
    return 0;
  } catch (err) {
    if (!(err instanceof PaycoreError) || err.code !== "business_day_not_closed") throw err;
    console.error(`paycore settle: refused, nothing settled: ${err.message}`);
    return 1;
  } finally {
    await handle.close();
  }
}

type Summary = Pick<RunSummary, "groups" | "records_created" | "carried_forward" | "held" | "not_closed" | "payouts_created" | "payouts"> & { amount_instructed: bigint };

function printSummary(s: Summary): void {
  console.log(`groups ${s.groups}, records ${s.records_created} (carried forward ${s.carried_forward}, held ${s.held}), not yet closed ${s.not_closed}`);
  console.log(`payout instructions ${s.payouts_created}, ${formatYuan(s.amount_instructed)} yuan`);
  if (s.payouts) console.log(`payouts executed ${s.payouts.attempted}: succeeded ${s.payouts.succeeded}, failed ${s.payouts.failed}, pending ${s.payouts.pending}`);
}

/** The running server settles with its own sandbox (POST /admin/v1/settlements/run). */
async function settleThroughServer(server: ServerLink, date: string, no_payouts: boolean): Promise<number> {
  if (no_payouts) {
    console.error(`paycore settle: --no-payouts needs the data directory, which the running server (pid ${server.pid}) holds; stop it, or settle with payouts through it`);
    return 2;
  }
  console.log(`settlement run for ${date} through the running server at ${server.url} (payouts through its sandbox)`);
  let s: Omit<Summary, "amount_instructed"> & { amount_instructed: number };
  // The server's run writes its counters on its row (GET /admin/v1/settlements/runs): the same ones this printer shows locally.
  const print = progressPrinter((line) => console.log(`  ${line}`));
  const poll = async () => {
    const page = await server.call<{ data: { progress: { phase: string; done: number; total: number } }[] }>("GET", `/admin/v1/settlements/runs?date=${date}&status=running&limit=1`);
    const p = page.data[0]?.progress;
    if (p && (p.phase === "settle" || p.phase === "payout")) print({ phase: p.phase, done: p.done, total: p.total });
  };
  try {
    s = await whileRunning(server.call("POST", "/admin/v1/settlements/run", { date }), poll);
    print({ phase: "settle", done: s.groups, total: s.groups });
    if (s.payouts && s.payouts.attempted > 0) print({ phase: "payout", done: s.payouts.attempted, total: s.payouts.attempted });
  } catch (err) {
    if (!(err instanceof ServerRefusal) || err.code !== "business_day_not_closed") throw err;
    console.error(`paycore settle: refused, nothing settled: ${err.server_message}`);
    return 1;
  }
  printSummary({ ...s, amount_instructed: BigInt(s.amount_instructed) });
  return 0;
}

/** `paycore ledger check`: recompute the books from the journal and compare; exit 1 on a difference. */
export async function ledgerCommand(config: Config, args: string[]): Promise<number> {
  if (args[0] !== "check" || args.length !== 1) {
    console.error("usage: paycore ledger check");
    return 2;
  }
  const server = runningServer(config);
  if (server) {
    console.log(`(through the running server at ${server.url})`);
    return printCheck(await server.call<BooksCheck>("GET", "/admin/v1/ledger/check"));
  }
  const { handle } = await openContext(config);
  try {
    await migrate(handle.db);
    return printCheck(await checkBooks(handle.db));
  } finally {
    await handle.close();
  }
}

interface BooksCheck {
  ok: boolean;
  accounts_checked: number;
  entries_checked: number;
  trial_balance: { debits: bigint | number; credits: bigint | number };
  problems: { kind: string; subject: string; detail: string }[];
}

function printCheck(c: BooksCheck): number {
  console.log(`accounts ${c.accounts_checked}, entries ${c.entries_checked}, trial balance debits ${c.trial_balance.debits} credits ${c.trial_balance.credits} (fen)`);
  for (const p of c.problems) console.log(`  ${p.kind} ${p.subject}: ${p.detail}`);
  console.log(c.ok ? "books ok" : `books NOT ok: ${c.problems.length} problem(s)`);
  return c.ok ? 0 : 1;
}
