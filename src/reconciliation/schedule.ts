import { PaycoreError } from "../kernel/errors.ts";
import { addDays, businessDate } from "../ledger/index.ts";
import type { PaymentDeps } from "../payments/deps.ts";
import { raiseAlert } from "./alerts.ts";
import { RECONCILIATION_LIMITS } from "./limits.ts";
import { runReconciliation } from "./run.ts";
import { fileDueAt, fileLateAt } from "./schedule-times.ts";
import { RECONCILED_CHANNELS, loadSettings, type ReconciliationSettings } from "./settings.ts";
import type { NetworkSettlementSource } from "./settle.ts";

/**
 * The scheduled runs: every minute, each enabled channel's days of the last
 * `schedule_lookback_days` whose file is due (cut-off + `file_ready_minutes`) and not reconciled
 * yet are run. A file the network has not published (or that cannot be fetched) is tried again at
 * the next tick: a late file is reconciled when it arrives. Past `file_late_minutes` the run's own
 * fetch raises `file_late` (or `file_refused` for a file that does not verify); a day that leaves
 * the look-back window without a run raises `file_missing` (an operator runs it by hand:
 * `paycore reconcile`). Days already reconciled are left alone (an operator re-runs them).
 *
 * Several processes may keep the timer: the run's claim (one row per channel and day) makes one
 * of them do the work.
 */
export interface ScheduledOutcome {
  channel_id: string;
  date: string;
  outcome: "reconciled" | "not_ready" | "missing";
  message?: string;
}

export async function runScheduledOnce(deps: PaymentDeps, settlement_source: NetworkSettlementSource | null): Promise<ScheduledOutcome[]> {
  const out: ScheduledOutcome[] = [];
  const now = deps.ctx.clock.now();
  for (const channel_id of RECONCILED_CHANNELS) {
    const settings = await loadSettings(deps.ctx.db, channel_id);
    if (!settings.enabled) continue;
    for (const date of dueDays(settings, now)) {
      const done = await deps.ctx.db
        .selectFrom("reconciliations")
        .select("status")
        .where("channel_id", "=", channel_id)
        .where("settlement_date", "=", date)
        .executeTakeFirst();
      if (done) continue;
      try {
        await runReconciliation(deps, { channel_id, date, settlement_source });
        out.push({ channel_id, date, outcome: "reconciled" });
      } catch (err) {
        // Not published, unreachable, refused (alerted by the run): tried again at the next tick.
        const message = err instanceof Error ? err.message : String(err);
        if (!(err instanceof PaycoreError)) deps.ctx.log.error({ channel_id, settlement_date: date, err: message }, "scheduled reconciliation run failed");
        out.push({ channel_id, date, outcome: "not_ready", message });
      }
    }
    const leaving = addDays(businessDate(now, settings.cutoff_minutes), -RECONCILIATION_LIMITS.schedule_lookback_days - 1);
    if (now.getTime() >= fileLateAt(settings, leaving).getTime()) {
      const run = await deps.ctx.db.selectFrom("reconciliations").select("status").where("channel_id", "=", channel_id).where("settlement_date", "=", leaving).executeTakeFirst();
      if (!run) {
        const message = `${channel_id} has no reconciled file for ${leaving} after ${RECONCILIATION_LIMITS.schedule_lookback_days} days of trying; run it by hand once the network sends it (paycore reconcile)`;
        await raiseMissingOnce(deps, channel_id, leaving, message);
        out.push({ channel_id, date: leaving, outcome: "missing", message });
      }
    }
  }
  return out;
}

/** Days of the look-back window (oldest first) whose file is due by `now`. */
export function dueDays(settings: Pick<ReconciliationSettings, "cutoff_minutes" | "file_ready_minutes">, now: Date): string[] {
  const today = businessDate(now, settings.cutoff_minutes);
  const days: string[] = [];
  for (let back = RECONCILIATION_LIMITS.schedule_lookback_days; back >= 1; back -= 1) {
    const date = addDays(today, -back);
    if (now.getTime() >= fileDueAt(settings, date).getTime()) days.push(date);
  }
  return days;
}

async function raiseMissingOnce(deps: PaymentDeps, channel_id: string, date: string, message: string): Promise<void> {
  const seen = await deps.ctx.db
    .selectFrom("reconciliation_alerts")
    .select("alert_id")
    .where("channel_id", "=", channel_id)
    .where("settlement_date", "=", date)
    .where("kind", "=", "file_missing")
    .executeTakeFirst();
  if (!seen) await raiseAlert(deps.ctx.db, deps.ctx.log, { channel_id, settlement_date: date, kind: "file_missing", message }, deps.ctx.clock.now());
}

/** The timer `paycore start` keeps (unref'd); `runOnce` for tests and the CLI. */
export function startReconciliationSchedule(
  deps: PaymentDeps,
  settlement_source: NetworkSettlementSource | null,
  interval_ms: number = RECONCILIATION_LIMITS.schedule_interval_ms,
): { stop(): Promise<void>; runOnce(): Promise<ScheduledOutcome[]> } {
  let running: Promise<unknown> | null = null;
  const runOnce = () => runScheduledOnce(deps, settlement_source);
  const tick = () => {
    if (running) return;
    running = runOnce()
      .catch((err: unknown) => deps.ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, "scheduled reconciliation failed"))
      .finally(() => (running = null));
  };
  const timer = setInterval(tick, interval_ms);
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
