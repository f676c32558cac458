import type { Kysely } from "kysely";
import type { Ctx } from "../context.ts";
import type { Database, SettlementRunRow } from "../db/index.ts";
import { newId } from "../kernel/ids.ts";
import { ThrottledProgress, progressErrorText } from "../kernel/progress.ts";

/**
 * A settlement run's row in `settlement_runs`: opened when the run starts, its phase and counters
 * written as it goes (the same counters the CLI prints), closed as done or failed. Every process
 * reads the same row, so the console of one paycore process shows a run another one (or the CLI)
 * is doing. Cost: one INSERT, one UPDATE per 25 groups or instructions (or 2 s), one UPDATE at the
 * end; no lock beyond the run's own row, and never inside a group's transaction.
 */
export interface RunProgressPoint {
  phase: "settle" | "payout";
  done: number;
  total: number;
}

/** A run still `running` with no progress written for this long died with its process. */
export const SETTLEMENT_RUN_STALE_MS = 15 * 60_000;

export interface SettlementRunRecord {
  run_id: string;
  note(point: RunProgressPoint): void;
  finish(summary: { records_created: number; payouts_created: number; amount_instructed: bigint }): Promise<void>;
  fail(err: unknown): Promise<void>;
}

export async function openSettlementRun(ctx: Pick<Ctx, "db" | "clock" | "log">, date: string, operator_id: string | null): Promise<SettlementRunRecord> {
  const now = ctx.clock.now();
  await markStaleRuns(ctx.db, now);
  const run_id = newId("srn", now.getTime());
  await ctx.db
    .insertInto("settlement_runs")
    .values({ run_id, settlement_date: date, status: "running", phase: "settle", done: 0, total: 0, operator_id, records_created: 0, payouts_created: 0, amount_instructed: 0n, error: null, started_at: now, finished_at: null, updated_at: now })
    .execute();
  const progress = new ThrottledProgress(
    async (p) => {
      await ctx.db
        .updateTable("settlement_runs")
        .set({ phase: p.phase as RunProgressPoint["phase"], done: p.done, total: p.total ?? 0, updated_at: ctx.clock.now() })
        .where("run_id", "=", run_id)
        .where("status", "=", "running")
        .execute();
    },
    () => ctx.clock.now().getTime(),
    (err) => ctx.log.warn({ run_id, err: err.message }, "settlement run progress not recorded"),
  );
  const close = async (set: Partial<Pick<SettlementRunRow, "status" | "error" | "records_created" | "payouts_created" | "amount_instructed" | "phase">>) => {
    await progress.flush();
    const at = ctx.clock.now();
    await ctx.db.updateTable("settlement_runs").set({ ...set, finished_at: at, updated_at: at }).where("run_id", "=", run_id).execute();
  };
  return {
    run_id,
    note: (point) => progress.note(point),
    finish: (s) => close({ status: "done", phase: "done", records_created: s.records_created, payouts_created: s.payouts_created, amount_instructed: s.amount_instructed }),
    fail: (err) => close({ status: "failed", error: progressErrorText(err) }),
  };
}

/** Runs whose process stopped (no progress for SETTLEMENT_RUN_STALE_MS) are closed as failed. */
async function markStaleRuns(db: Kysely<Database>, now: Date): Promise<void> {
  await db
    .updateTable("settlement_runs")
    .set({ status: "failed", error: `no progress recorded for ${SETTLEMENT_RUN_STALE_MS / 60_000} minutes: the process running it stopped`, finished_at: now, updated_at: now })
    .where("status", "=", "running")
    .where("updated_at", "<", new Date(now.getTime() - SETTLEMENT_RUN_STALE_MS))
    .execute();
}

export async function getSettlementRun(db: Kysely<Database>, run_id: string): Promise<SettlementRunRow | undefined> {
  return db.selectFrom("settlement_runs").selectAll().where("run_id", "=", run_id).executeTakeFirst();
}

export async function listSettlementRuns(
  db: Kysely<Database>,
  f: { date?: string | undefined; status?: SettlementRunRow["status"] | undefined; cursor?: string | undefined; limit: number },
): Promise<SettlementRunRow[]> {
  let q = db.selectFrom("settlement_runs").selectAll().orderBy("run_id", "desc").limit(f.limit + 1);
  if (f.date) q = q.where("settlement_date", "=", f.date);
  if (f.status) q = q.where("status", "=", f.status);
  if (f.cursor) q = q.where("run_id", "<", f.cursor);
  return q.execute();
}
