import { sql } from "kysely";
import { isRail, type StatementChannelId } from "../channels/index.ts";
import type { ReconciliationRow } from "../db/index.ts";
import { PaycoreError, invalidRequest } from "../kernel/errors.ts";
import { newId } from "../kernel/ids.ts";
import { businessDate, isIsoDate } from "../ledger/index.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { raiseAlert } from "./alerts.ts";
import { lineTotals, reclassifyLines, recordLineExceptions, type ResultTotals, type RunKey } from "./match.ts";
import { loadLines } from "./lines.ts";
import { recordPlatformOnly, releaseBuffer } from "./platform-only.ts";
import { resolveStatusMismatches } from "./resolve-auto.ts";
import { RECONCILED_CHANNELS, loadSettings, type ReconciliationSettings } from "./settings.ts";
import { settleDay, type NetworkSettlementSource } from "./settle.ts";
import { fetchStatementFile, type StatementFile } from "./source.ts";
import { fileDueAt } from "./schedule-times.ts";
import { recordProgress } from "./progress.ts";

/**
 * One reconciliation run of a channel and day, in the crash-safe order of every channel call:
 * fetch and verify the file (no transaction held), claim the day's run (committed), load the
 * file's lines, match, record exceptions, then resolve what the network can answer and book the
 * network's settlement. Every step is idempotent, so a run that dies anywhere is finished by
 * running it again; a re-run finds the same result and writes no duplicate exception or entry.
 *
 * Cost (1,000,000 lines): one INSERT per 10,000 lines, each classifying its batch on the way in
 * (an index lookup per line), one scan of the run's lines for the counts, one select of the lines
 * not matched, one anti-join of the day's payments against the lines; nothing is locked beyond
 * the run's own row.
 */
export type RunPhase = "fetching" | "loading" | "matching" | "resolving" | "settling" | "done";
export type RunProgress = (phase: RunPhase, lines: number) => void;

export interface RunOptions {
  channel_id: string;
  date: string;
  /** A file read elsewhere (CLI from disk, benchmark); otherwise fetched over the adapter. */
  file?: StatementFile;
  progress?: RunProgress;
  /** Query the network about status mismatches (default true). */
  auto_resolve?: boolean;
  settlement_source?: NetworkSettlementSource | null;
}

/** A run still marked running after this long died: the next run takes it over. */
const RUN_LEASE_MS = 15 * 60_000;

export async function runReconciliation(deps: PaymentDeps, options: RunOptions): Promise<{ run: ReconciliationRow; created: boolean }> {
  const settings = await checkRequest(deps, options);
  // Every phase also goes onto the run's row (progress.ts), so any process can show it.
  const recorder = recordProgress(deps.ctx, options.channel_id, options.date, options.progress);
  recorder.progress("fetching", 0);
  const file = options.file ?? (await fetchOrAlert(deps, settings, options.date));
  try {
    const result = await reconcileFile(deps, { ...options, progress: recorder.progress }, settings, file);
    await recorder.flush();
    return { ...result, run: await reread(deps, result.run) };
  } catch (err) {
    await recorder.fail(err);
    throw err;
  } finally {
    await file.dispose?.();
  }
}

/** The row as it stands once the last progress write is in. */
async function reread(deps: PaymentDeps, run: ReconciliationRow): Promise<ReconciliationRow> {
  return deps.ctx.db.selectFrom("reconciliations").selectAll().where("reconciliation_id", "=", run.reconciliation_id).executeTakeFirstOrThrow();
}

async function reconcileFile(deps: PaymentDeps, options: RunOptions, settings: ReconciliationSettings, file: StatementFile): Promise<{ run: ReconciliationRow; created: boolean }> {
  const { ctx } = deps;
  const progress = options.progress ?? (() => {});
  const claimed = await claimRun(deps, options.channel_id, options.date);
  if (!claimed.claimed) return { run: claimed.run, created: false };
  let run = claimed.run;
  const key: RunKey = { reconciliation_id: run.reconciliation_id, channel_id: run.channel_id, settlement_date: run.settlement_date };
  if (file.sha256 === null || file.sha256 !== run.file_sha256) {
    progress("loading", 0);
    const loaded = await loadLines(ctx.db, key, file.records, (n) => progress("loading", n));
    await ctx.db
      .updateTable("reconciliations")
      .set({ file_sha256: file.sha256, line_count: loaded.line_count, file_net: loaded.file_net, updated_at: ctx.clock.now() })
      .where("reconciliation_id", "=", run.reconciliation_id)
      .execute();
    progress("matching", loaded.line_count);
  } else {
    // The same file again: its lines stay, classified anew against paycore's records as they are now.
    progress("matching", run.line_count);
    await reclassifyLines(ctx.db, key);
  }
  const at = ctx.clock.now();
  await recordLineExceptions(ctx.db, key, at);
  await recordPlatformOnly(ctx.db, key, settings, at);
  await releaseBuffer(ctx.db, run.channel_id, run.settlement_date, at);
  run = await finishRun(deps, key);
  // A rail's status mismatches are the payouts sweeper's to settle (it asks the rail), and a rail
  // has no settlement transfer: each credit left the reserve account as it settled.
  const rail = isRail(run.channel_id);
  if (options.auto_resolve !== false && !rail) {
    progress("resolving", run.line_count);
    await resolveStatusMismatches(deps, key);
  }
  progress("settling", run.line_count);
  if (!rail) await settleDay(deps, run, options.settlement_source ?? null);
  progress("done", run.line_count);
  const final = await ctx.db.selectFrom("reconciliations").selectAll().where("reconciliation_id", "=", run.reconciliation_id).executeTakeFirstOrThrow();
  return { run: final, created: claimed.created };
}

async function checkRequest(deps: PaymentDeps, options: RunOptions): Promise<ReconciliationSettings> {
  if (!RECONCILED_CHANNELS.includes(options.channel_id)) throw invalidRequest("channel", `one of ${RECONCILED_CHANNELS.join(", ")}`);
  if (!isIsoDate(options.date)) throw invalidRequest("date", "a real date YYYY-MM-DD");
  const settings = await loadSettings(deps.ctx.db, options.channel_id);
  const today = businessDate(deps.ctx.clock.now(), settings.cutoff_minutes);
  if (options.date > today) throw invalidRequest("date", `the network's day ${options.date} has not begun (its current day is ${today})`);
  return settings;
}

/** Fetches the file; a refused file alerts at once, a missing one once it is late. */
async function fetchOrAlert(deps: PaymentDeps, settings: ReconciliationSettings, date: string): Promise<StatementFile> {
  const { ctx } = deps;
  const fetched = await fetchStatementFile(deps, settings.channel_id as StatementChannelId, date);
  if (fetched.ok) return fetched.file;
  const now = ctx.clock.now();
  const late = now.getTime() >= fileDueAt(settings, date).getTime() + settings.file_late_minutes * 60_000;
  if (fetched.problem === "refused" || late) {
    const kind = fetched.problem === "refused" ? "file_refused" : "file_late";
    await raiseAlert(ctx.db, ctx.log, { channel_id: settings.channel_id, settlement_date: date, kind, message: fetched.message }, now);
  }
  throw new PaycoreError("channel_unavailable", fetched.message);
}

async function claimRun(deps: PaymentDeps, channel_id: string, date: string): Promise<{ run: ReconciliationRow; created: boolean; claimed: boolean }> {
  const { ctx } = deps;
  const now = ctx.clock.now();
  const inserted = await ctx.db
    .insertInto("reconciliations")
    .values({
      reconciliation_id: newId("rec", now.getTime()), channel_id, settlement_date: date, status: "running", file_sha256: null, line_count: 0,
      file_net: 0n, run_count: 1, settled_amount: null, settled_at: null, started_at: now, finished_at: null, created_at: now, updated_at: now,
    })
    .onConflict((oc) => oc.columns(["channel_id", "settlement_date"]).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { run: inserted, created: true, claimed: true };
  const lease_from = new Date(now.getTime() - RUN_LEASE_MS);
  const taken = await ctx.db
    .updateTable("reconciliations")
    .set({ status: "running", run_count: sql`run_count + 1`, started_at: now, updated_at: now, progress_error: null })
    .where("channel_id", "=", channel_id)
    .where("settlement_date", "=", date)
    // A run whose last attempt failed (progress.ts recorded the error) is taken over at once.
    .where((eb) => eb.or([eb("status", "=", "done"), eb("started_at", "<", lease_from), eb("progress_error", "is not", null)]))
    .returningAll()
    .executeTakeFirst();
  if (taken) return { run: taken, created: false, claimed: true };
  // Another run of this channel and day is under way: answer it as it stands.
  const current = await ctx.db.selectFrom("reconciliations").selectAll().where("channel_id", "=", channel_id).where("settlement_date", "=", date).executeTakeFirstOrThrow();
  return { run: current, created: false, claimed: false };
}

/** Stores the counts per result and marks the run done. */
async function finishRun(deps: PaymentDeps, key: RunKey): Promise<ReconciliationRow> {
  const { ctx } = deps;
  const totals = [...(await lineTotals(ctx.db, key)), ...(await platformTotals(deps, key))];
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom("reconciliation_results").where("reconciliation_id", "=", key.reconciliation_id).execute();
    if (totals.length > 0) await trx.insertInto("reconciliation_results").values(totals.map((t) => ({ reconciliation_id: key.reconciliation_id, ...t }))).execute();
    return trx
      .updateTable("reconciliations")
      .set({ status: "done", finished_at: now, updated_at: now })
      .where("reconciliation_id", "=", key.reconciliation_id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Platform-only records of the day (not those a later file had) and those still in the buffer. */
async function platformTotals(deps: PaymentDeps, key: RunKey): Promise<ResultTotals[]> {
  const rows = await sql<ResultTotals>`
    SELECT CASE WHEN status = 'buffered' THEN 'buffered' ELSE 'platform_only' END AS result,
      count(*)::int8 AS item_count, 0::int8 AS network_amount,
      coalesce(sum(CASE WHEN refund_id IS NULL THEN platform_amount ELSE -platform_amount END), 0)::int8 AS platform_amount
    FROM reconciliation_exceptions
    WHERE channel_id = ${key.channel_id} AND settlement_date = ${key.settlement_date} AND kind = 'platform_only'
      AND resolution IS DISTINCT FROM 'matched_late'
    GROUP BY 1`.execute(deps.ctx.db);
  return rows.rows;
}
