import type { Ctx } from "../../context.ts";
import { RISK_LIMITS } from "../limits.ts";
import { runMonitor } from "./run.ts";

/**
 * The hourly monitor run. Every paycore process keeps the timer; the run key (the UTC hour)
 * makes one process score per hour and the others skip it.
 */
export function startMonitorSchedule(ctx: Ctx, interval_ms: number = RISK_LIMITS.monitor_interval_ms): { stop(): Promise<void> } {
  let running: Promise<unknown> | null = null;
  const tick = () => {
    if (running) return;
    const hour = ctx.clock.now().toISOString().slice(0, 13);
    running = runMonitor(ctx, { run_key: `hourly:${hour}`, triggered_by: "schedule" })
      .catch((err: unknown) => ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, "risk monitor run failed"))
      .finally(() => (running = null));
  };
  const timer = setInterval(tick, Math.min(interval_ms, 5 * 60_000));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
