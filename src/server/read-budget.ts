/**
 * One event-loop turn's budget for handling socket reads, shared by every
 * connection of a server. libuv hands a poll phase every readable socket at
 * once: when 20,000 clients send together, handling all of their reads in one
 * turn stalls the loop for a second. Past `budgetMs` of reads in one turn, a
 * connection's chunk is set aside (and its socket paused) and handled on a later
 * turn, in arrival order, so timers, ACK flushes and other connections get the
 * loop in between. Time here is CPU time spent, not a timer: performance.now().
 */

/** Reads handled in one event-loop turn before the rest wait for the next turns. */
export const READ_BUDGET_MS = 20;

/** Who handles a chunk that was set aside. */
export interface DeferredReader {
  readLater(chunk: Buffer): void;
}

export class ReadBudget {
  readonly #budgetMs: number;
  /** When the first read of this turn was admitted; -1 before any. */
  #turnStartMs = -1;
  /** Set-aside reads, in arrival order (two arrays: no object or closure per read); those before #deferredHead ran. */
  readonly #deferred: DeferredReader[] = [];
  readonly #chunks: Buffer[] = [];
  #deferredHead = 0;
  #scheduled = false;
  readonly #onTurn = (): void => this.#nextTurn();

  constructor(budgetMs = READ_BUDGET_MS) {
    this.#budgetMs = budgetMs;
  }

  /** True: handle the read now. False: `reader.readLater(chunk)` is called on a later turn (the caller pauses its socket). */
  admit(reader: DeferredReader, chunk: Buffer): boolean {
    if (this.#deferred.length === this.#deferredHead) {
      const now = performance.now();
      if (this.#turnStartMs < 0) {
        this.#turnStartMs = now;
        this.#schedule();
      }
      if (now - this.#turnStartMs < this.#budgetMs) return true;
    }
    this.#deferred.push(reader);
    this.#chunks.push(chunk);
    this.#schedule();
    return false;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#onTurn);
  }

  /** A new turn: run set-aside reads within the budget, in order; the rest wait again. */
  #nextTurn(): void {
    this.#scheduled = false;
    const start = performance.now();
    this.#turnStartMs = -1;
    while (this.#deferredHead < this.#deferred.length) {
      if (performance.now() - start >= this.#budgetMs) break;
      const i = this.#deferredHead++;
      const reader = this.#deferred[i] as DeferredReader;
      const chunk = this.#chunks[i] as Buffer;
      this.#deferred[i] = undefined as unknown as DeferredReader;
      this.#chunks[i] = undefined as unknown as Buffer;
      reader.readLater(chunk);
    }
    if (this.#deferredHead === this.#deferred.length) {
      this.#deferred.length = 0;
      this.#chunks.length = 0;
      this.#deferredHead = 0;
    } else {
      this.#turnStartMs = start; // this turn's budget is spent
      this.#schedule();
    }
  }
}
