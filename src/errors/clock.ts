/**
 * Time as a dependency, so backoff, heartbeats and timeouts are tested by
 * driving a clock instead of sleeping.
 */

export type Timer = { readonly __timer: unique symbol } | NodeJS.Timeout;

export interface Clock {
  /** Milliseconds, monotonic for the real clock: for timers, timeouts and latencies. */
  now(): number;
  /**
   * Wall-clock milliseconds since the epoch, for timestamps that outlive the process
   * (a durable outbox's record times and TTLs). Default when absent: Date.now().
   */
  wallNow?(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

/** The real clock: monotonic performance.now() and ordinary (ref'd) timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * A clock for tests: time moves only when `advance()` or `runNext()` is called.
 * Timers fire in deadline order (ties in creation order).
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Manual time is the wall clock too: records and TTLs follow advance(). */
  wallNow(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id as unknown as Timer;
  }

  clearTimeout(timer: Timer): void {
    this.#timers.delete(timer as unknown as number);
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#takeDue(target);
      if (next === undefined) break;
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }

  /** Fires the next timer (moving time to it); false when there is none. */
  runNext(): boolean {
    const next = this.#takeDue(Infinity);
    if (next === undefined) return false;
    this.#now = Math.max(this.#now, next.at);
    next.fn();
    return true;
  }

  #takeDue(limit: number): { at: number; fn: () => void } | undefined {
    let bestId: number | undefined;
    let best: { at: number; fn: () => void } | undefined;
    for (const [id, t] of this.#timers) {
      if (t.at <= limit && (best === undefined || t.at < best.at)) {
        best = t;
        bestId = id;
      }
    }
    if (bestId !== undefined) this.#timers.delete(bestId);
    return best;
  }
}
