import { PaycoreError } from "./errors.ts";

/**
 * Progress of a long operation written somewhere slow (a database row) from a hot loop: a point is
 * written when the phase changes, when `every_items` more items are done, when the phase is
 * complete (done = total), or when `every_ms` have passed since the last write — so the row also
 * works as a heartbeat. `note` never waits: writes run one after another in the background, and
 * `flush` waits for them (and writes the last point if it was skipped). A failed write is reported
 * to `on_error` and does not stop the operation: progress is for people, the operation's own
 * records are the truth.
 */
export interface ProgressPoint {
  phase: string;
  done: number;
  /** Null while the total is not known (a file still streaming in). */
  total: number | null;
}

export const PROGRESS_LIMITS = {
  /** Items between two writes of the same phase. */
  every_items: 25,
  /** Longest time between two writes while items are being done. */
  every_ms: 2_000,
} as const;

export class ThrottledProgress {
  private chain: Promise<void> = Promise.resolve();
  private last: { phase: string; done: number; at_ms: number } | null = null;
  private skipped: ProgressPoint | null = null;

  constructor(
    private readonly write: (point: ProgressPoint) => Promise<void>,
    private readonly now_ms: () => number,
    private readonly on_error: (err: Error) => void,
    private readonly limits: { every_items: number; every_ms: number } = PROGRESS_LIMITS,
  ) {}

  note(point: ProgressPoint): void {
    const now = this.now_ms();
    const last = this.last;
    const due =
      last === null ||
      last.phase !== point.phase ||
      point.done - last.done >= this.limits.every_items ||
      (point.total !== null && point.done >= point.total) ||
      now - last.at_ms >= this.limits.every_ms;
    if (!due) {
      this.skipped = point;
      return;
    }
    this.send(point, now);
  }

  /** Writes the last skipped point, then waits until every write has finished. */
  async flush(): Promise<void> {
    if (this.skipped) this.send(this.skipped, this.now_ms());
    await this.chain;
  }

  private send(point: ProgressPoint, now: number): void {
    this.skipped = null;
    this.last = { phase: point.phase, done: point.done, at_ms: now };
    const copy = { ...point };
    this.chain = this.chain.then(() => this.write(copy)).catch((err: Error) => this.on_error(err));
  }
}

/**
 * What an operator sees of the error that stopped a run: a paycore error's code and message (they
 * are written for people); anything else only as "internal error", since a driver's message may
 * quote row values. The process that ran it logs the whole error.
 */
export function progressErrorText(err: unknown): string {
  if (err instanceof PaycoreError) return `${err.code}: ${err.message}`.slice(0, PROGRESS_ERROR_CHARS_MAX);
  return "internal error: see the log of the process that ran it";
}

const PROGRESS_ERROR_CHARS_MAX = 500;
