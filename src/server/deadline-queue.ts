/**
 * Items that each fall due a fixed time after they were added, so deadlines grow with the
 * order and one timer serves them all: the sweep looks only at the head. Two arrays, no
 * object, listener or closure per item. A server keeps refused sockets this way until their
 * linger ends (turn-away.ts), and a pool's primary its sockets until their HELLO wait ends
 * (pool/hello-reader.ts).
 */

import type { Clock, Timer } from "../errors/clock.js";

export class DeadlineQueue<T> {
  readonly #clock: Clock;
  readonly #afterMs: number;
  readonly #due: (item: T) => void;
  /** Items in order, with the clock time each falls due; those before #head were swept. */
  readonly #items: (T | undefined)[] = [];
  readonly #deadlines: number[] = [];
  #head = 0;
  #sweep: Timer | undefined;
  readonly #onSweep = (): void => this.#sweepNow();

  /** `due(item)` is called for each item `afterMs` after it was added (in order), unless cleared first. */
  constructor(clock: Clock, afterMs: number, due: (item: T) => void) {
    this.#clock = clock;
    this.#afterMs = afterMs;
    this.#due = due;
  }

  /** Items not yet due. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  add(item: T): void {
    this.#items.push(item);
    this.#deadlines.push(this.#clock.now() + this.#afterMs);
    this.#sweep ??= this.#clock.setTimeout(this.#onSweep, this.#afterMs);
  }

  /** Calls `each` for every item not yet due, oldest first. */
  forEach(each: (item: T) => void): void {
    for (let i = this.#head; i < this.#items.length; i++) each(this.#items[i] as T);
  }

  /** Empties the queue at once, giving each item not yet due to `each` (instead of `due`), oldest first. */
  clear(each: (item: T) => void): void {
    this.forEach(each);
    this.#items.length = 0;
    this.#deadlines.length = 0;
    this.#head = 0;
    if (this.#sweep !== undefined) this.#clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
  }

  #sweepNow(): void {
    this.#sweep = undefined;
    const now = this.#clock.now();
    while (this.#head < this.#items.length && (this.#deadlines[this.#head] as number) <= now) {
      const item = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined;
      this.#due(item);
    }
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#deadlines.length = 0;
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#deadlines.splice(0, this.#head);
      this.#head = 0;
    }
    this.#sweep = this.#clock.setTimeout(this.#onSweep, (this.#deadlines[this.#head] as number) - now);
  }
}
