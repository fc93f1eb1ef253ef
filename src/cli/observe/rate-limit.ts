/**
 * A token bucket per kind of log line, so a flood of hostile connections (or a
 * reconnect storm) cannot flood the log: up to `burst` lines at once, then
 * `perSecond`; what was held back is counted and reported in one line when the
 * bucket refills. Pure: the caller passes the time.
 */

export interface RateLimitOptions {
  readonly perSecond: number;
  readonly burst: number;
}

export const DEFAULT_LOG_RATE: RateLimitOptions = { perSecond: 50, burst: 200 };

export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number;
  #suppressed = 0;

  constructor(options: RateLimitOptions, nowMs: number) {
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#lastMs = nowMs;
  }

  /**
   * True when a line may be written now. `suppressed` is how many were held back
   * before this one (report it with the line, then it restarts from 0).
   */
  take(nowMs: number): { allowed: boolean; suppressed: number } {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, nowMs - this.#lastMs) * this.#perMs);
    this.#lastMs = nowMs;
    if (this.#tokens < 1) {
      this.#suppressed++;
      return { allowed: false, suppressed: 0 };
    }
    this.#tokens -= 1;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return { allowed: true, suppressed };
  }

  /** Lines held back since the last allowed one. */
  get suppressed(): number {
    return this.#suppressed;
  }
}
