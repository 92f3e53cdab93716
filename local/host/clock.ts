/** The host's clock: real time that tests can skip ahead, so hour-long timers and schedules fire in milliseconds. */

export interface ClockTimer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch, on this clock (real time plus every skip so far). */
  now(): number;
  /** Calls `callback` once `delayMs` of this clock's time has passed (by waiting or by `advance`). */
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
  /** Moves the clock forward by `ms` and fires every timer that came due; resolves after their callbacks ran. */
  advance(ms: number): Promise<void>;
}

/** A clock a test drives: besides skipping a fixed span, it can jump straight to its next pending timer. */
export interface TestClock extends Clock {
  /** When the earliest pending timer is due (this clock's time), if any. */
  nextTimerAt(): number | undefined;
  /** Skips to the earliest pending timer and fires it (and any due at the same time); false if none is pending. */
  advanceToNextTimer(): Promise<boolean>;
}

/** Node refuses timer delays above 2^31-1 ms; longer waits re-arm in steps. */
const MAX_REAL_DELAY_MS = 2_147_483_647;

interface PendingTimer {
  dueAt: number;
  callback: () => void;
  real: NodeJS.Timeout | undefined;
}

/** A clock that follows real time, offset by every `advance` call. `start` pins the initial time (tests). */
export class SkippableClock implements TestClock {
  #offsetMs: number;
  readonly #pending = new Set<PendingTimer>();

  constructor(options: { start?: number } = {}) {
    this.#offsetMs = options.start === undefined ? 0 : options.start - Date.now();
  }

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    const timer: PendingTimer = { dueAt: this.now() + Math.max(0, delayMs), callback, real: undefined };
    this.#pending.add(timer);
    this.#arm(timer);
    return {
      cancel: () => {
        clearTimeout(timer.real);
        this.#pending.delete(timer);
      },
    };
  }

  nextTimerAt(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.#pending) if (earliest === undefined || timer.dueAt < earliest) earliest = timer.dueAt;
    return earliest;
  }

  async advanceToNextTimer(): Promise<boolean> {
    const next = this.nextTimerAt();
    if (next === undefined) return false;
    await this.advance(Math.max(0, next - this.now()));
    return true;
  }

  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock.advance: expected a non-negative number of ms, found ${ms}`);
    this.#offsetMs += ms;
    const due = [...this.#pending].filter((timer) => timer.dueAt <= this.now()).sort((a, b) => a.dueAt - b.dueAt);
    for (const timer of this.#pending) {
      if (!due.includes(timer)) this.#arm(timer);
    }
    for (const timer of due) this.#fire(timer);
    // Let the callbacks' first asynchronous steps run before the caller looks at their effects.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  #arm(timer: PendingTimer): void {
    clearTimeout(timer.real);
    const delay = Math.min(Math.max(0, timer.dueAt - this.now()), MAX_REAL_DELAY_MS);
    timer.real = setTimeout(() => {
      if (timer.dueAt <= this.now()) this.#fire(timer);
      else this.#arm(timer);
    }, delay);
    // The host's server keeps the process alive; pending timers alone must not.
    timer.real.unref();
  }

  #fire(timer: PendingTimer): void {
    clearTimeout(timer.real);
    if (!this.#pending.delete(timer)) return;
    timer.callback();
  }
}
