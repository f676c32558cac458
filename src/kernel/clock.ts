/** Time is injected everywhere so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to: for tests and simulations. */
export class ManualClock implements Clock {
  private current_ms: number;

  constructor(start: Date | string | number = Date.now()) {
    this.current_ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current_ms);
  }

  set(at: Date | string | number): void {
    this.current_ms = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.current_ms += ms;
  }
}

/** A clock that follows the system clock shifted by an offset (tests that need real waits too). */
export class OffsetClock implements Clock {
  offset_ms = 0;
  now(): Date {
    return new Date(Date.now() + this.offset_ms);
  }
}

export function unixSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}
