import type { Ctx } from "../context.ts";
import type { ReconciliationRow } from "../db/index.ts";
import { ThrottledProgress, progressErrorText } from "../kernel/progress.ts";
import type { RunPhase, RunProgress } from "./run.ts";

/**
 * A run's progress on its own row (`progress_*` columns of `reconciliations`), for every process:
 * the one running it reports phases and lines (the same calls the CLI's printer gets), another
 * serving the console reads them. The row is found by channel and day (unique), and only once this
 * attempt has claimed it: "fetching" comes before the claim, so it is not written (another
 * process's attempt may hold the row). Cost: one UPDATE per phase and per 5,000 lines loaded (or
 * 2 s); none inside a transaction.
 */
export const RECORDED_PHASES: readonly RunPhase[] = ["loading", "matching", "resolving", "settling", "done"];

export interface ProgressRecorder {
  /** Passes each call on to `inner` (the CLI's printer) and records it. */
  progress: RunProgress;
  /** The attempt failed: the error goes on the row (when this attempt held it) and a new run may take it over. */
  fail(err: unknown): Promise<void>;
  flush(): Promise<void>;
}

export function recordProgress(ctx: Pick<Ctx, "db" | "clock" | "log">, channel_id: string, date: string, inner: RunProgress | undefined): ProgressRecorder {
  let claimed = false;
  let line_count: number | null = null;
  const writer = new ThrottledProgress(
    async (p) => {
      await ctx.db
        .updateTable("reconciliations")
        .set({ progress_phase: p.phase, progress_done: p.done, progress_total: p.total, progress_error: null, progress_at: ctx.clock.now() })
        .where("channel_id", "=", channel_id)
        .where("settlement_date", "=", date)
        .execute();
    },
    () => ctx.clock.now().getTime(),
    (err) => ctx.log.warn({ channel_id, date, err: err.message }, "reconciliation progress not recorded"),
  );
  const progress: RunProgress = (phase, lines) => {
    inner?.(phase, lines);
    if (!RECORDED_PHASES.includes(phase)) return;
    claimed = true;
    // Lines stream in with no known total; after loading, every later phase works on them all.
    if (phase !== "loading") line_count = lines;
    writer.note({ phase, done: lines, total: phase === "loading" ? null : line_count });
  };
  return {
    progress,
    flush: () => writer.flush(),
    fail: async (err) => {
      await writer.flush();
      if (!claimed) return;
      await ctx.db
        .updateTable("reconciliations")
        .set({ progress_phase: "failed", progress_error: progressErrorText(err), progress_at: ctx.clock.now() })
        .where("channel_id", "=", channel_id)
        .where("settlement_date", "=", date)
        .execute();
    },
  };
}

export interface ProgressView {
  phase: string | null;
  done: number;
  total: number | null;
  updated_at: string | null;
}

/** The wire form of a row's progress (phase null: a run recorded before progress was). */
export function progressView(run: ReconciliationRow): { progress: ProgressView; error: string | null } {
  const r = run as ReconciliationRow & { progress_phase?: string | null; progress_done?: number; progress_total?: number | null; progress_error?: string | null; progress_at?: Date | null };
  return {
    progress: { phase: r.progress_phase ?? null, done: r.progress_done ?? 0, total: r.progress_total ?? null, updated_at: r.progress_at?.toISOString() ?? null },
    error: r.progress_error ?? null,
  };
}
