/**
 * When stored messages expire (ttlMs): a heap of (expiresAtMs, seq) and one
 * timer for the earliest deadline. Deadlines are wall-clock ms, as stored in
 * the outbox (they outlive the process with a durable outbox).
 */

import type { Clock, Timer } from "../errors/clock.js";
import { ExpiryHeap } from "./expiry-heap.js";

export class ExpirySchedule {
  readonly #clock: Clock;
  readonly #wallNow: () => number;
  readonly #onDue: () => void;
  readonly #heap = new ExpiryHeap();
  #timer: Timer | undefined;
  #timerAt = Infinity;

  /** `onDue` runs when the earliest deadline has passed; it takes the due ones with `popDue`, then calls `arm`. */
  constructor(clock: Clock, wallNow: () => number, onDue: () => void) {
    this.#clock = clock;
    this.#wallNow = wallNow;
    this.#onDue = onDue;
  }

  /** Call `arm()` after a series of adds. */
  add(expiresAtMs: number, seq: number): void {
    if (expiresAtMs !== Infinity) this.#heap.push(expiresAtMs, seq);
  }

  /** The seq of a message due at `nowMs`, or undefined when none is. */
  popDue(nowMs: number): number | undefined {
    return this.#heap.peekAt() <= nowMs ? this.#heap.pop() : undefined;
  }

  /** Sets the timer for the earliest deadline (if it is earlier than the one set). */
  arm(): void {
    const at = this.#heap.peekAt();
    if (at >= this.#timerAt) return;
    this.stop();
    if (at === Infinity) return;
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#onDue();
    }, at - this.#wallNow());
  }

  /** Forgets every deadline (they are added again, e.g. after a renumber). */
  clear(): void {
    this.#heap.clear();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
