/**
 * A test facility, not a feature: `PAYCORE_CRASH_POINT=<name>` makes the process die with SIGKILL
 * the moment it reaches the named point, so the kill -9 tests (docs/reliability.md) can stop it
 * exactly between two steps of a crash-safe sequence instead of guessing with timers. Unset (the
 * only state in production), a call is one environment lookup and nothing else.
 *
 * The points, in the order a payout passes them:
 * - `payout_after_intent`: the payout, its message id and its reservation are committed; the
 *   message has not left.
 * - `payout_after_send`: the rail has answered the credit transfer; nothing of its answer is
 *   recorded.
 * - `payout_before_outcome_commit`: the outcome's transaction has written everything and has not
 *   committed.
 */
export const CRASH_POINTS = ["payout_after_intent", "payout_after_send", "payout_before_outcome_commit"] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** The longest the process waits for its own SIGKILL to land before it aborts instead. */
const SIGKILL_WAIT_MS_MAX = 5_000;

/** The point named by `PAYCORE_CRASH_POINT`, or null; an unknown name stops the caller (it is a typo in a test). */
export function crashPointSetting(env: NodeJS.ProcessEnv = process.env): CrashPoint | null {
  const value = env.PAYCORE_CRASH_POINT;
  if (value === undefined || value === "") return null;
  const point = CRASH_POINTS.find((p) => p === value);
  if (!point) throw new Error(`PAYCORE_CRASH_POINT: unknown point "${value}" (known: ${CRASH_POINTS.join(", ")})`);
  return point;
}

/**
 * Dies here, like kill -9, when `PAYCORE_CRASH_POINT` names this point: no exit handlers, no
 * pending writes flushed, open transactions left to the database to roll back. The thread blocks
 * until the signal lands, so not one more statement of the caller runs.
 */
export function crashPoint(point: CrashPoint): void {
  if (process.env.PAYCORE_CRASH_POINT !== point) return;
  process.kill(process.pid, "SIGKILL");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SIGKILL_WAIT_MS_MAX);
  process.abort();
}
