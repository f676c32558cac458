import { parseArgs } from "node:util";
import type { Config } from "../config.ts";
import { migrate } from "../db/index.ts";
import { formatYuan } from "../kernel/money.ts";
import { isIsoDate } from "../ledger/index.ts";
import { SandboxBankTransfers, checkBooks, runSettlement, type RunProgress } from "../settlement/index.ts";
import { openContext } from "./main.ts";

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
  if (!values.date || !isIsoDate(values.date)) {
    console.error("usage: paycore settle --date YYYY-MM-DD [--no-payouts]");
    return 2;
  }
  const { ctx, handle } = await openContext(config);
  try {
    await migrate(handle.db);
    const sandbox_url = config.sandbox_url ?? `http://${config.host}:${config.sandbox_port}`;
    const executor = values["no-payouts"] ? null : new SandboxBankTransfers(sandbox_url);
    console.log(`settlement run for ${values.date}${executor ? ` (payouts through ${sandbox_url})` : " (payout instructions only)"}`);
    const s = await runSettlement(ctx, { date: values.date, executor, on_progress: progressPrinter((line) => console.log(`  ${line}`)) });
    console.log(`groups ${s.groups}, records ${s.records_created} (carried forward ${s.carried_forward}, held ${s.held}), not yet closed ${s.not_closed}`);
    console.log(`payout instructions ${s.payouts_created}, ${formatYuan(s.amount_instructed)} yuan`);
    if (s.payouts) console.log(`payouts executed ${s.payouts.attempted}: succeeded ${s.payouts.succeeded}, failed ${s.payouts.failed}, pending ${s.payouts.pending}`);
    return 0;
  } finally {
    await handle.close();
  }
}

/** `paycore ledger check`: recompute the books from the journal and compare; exit 1 on a difference. */
export async function ledgerCommand(config: Config, args: string[]): Promise<number> {
  if (args[0] !== "check" || args.length !== 1) {
    console.error("usage: paycore ledger check");
    return 2;
  }
  const { handle } = await openContext(config);
  try {
    await migrate(handle.db);
    const c = await checkBooks(handle.db);
    console.log(`accounts ${c.accounts_checked}, entries ${c.entries_checked}, trial balance debits ${c.trial_balance.debits} credits ${c.trial_balance.credits} (fen)`);
    for (const p of c.problems) console.log(`  ${p.kind} ${p.subject}: ${p.detail}`);
    console.log(c.ok ? "books ok" : `books NOT ok: ${c.problems.length} problem(s)`);
    return c.ok ? 0 : 1;
  } finally {
    await handle.close();
  }
}
