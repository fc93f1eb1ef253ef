/**
 * A budget for handling socket reads, shared by every connection of a server. libuv
 * hands a poll phase every readable socket at once: when 20,000 clients send together,
 * handling all of their reads back to back stalls the loop for a second. Reads that
 * follow one another with less than GAP_MS between them are one run; past `budgetMs` of
 * a run, a connection's chunk is set aside (its socket paused) and handled on a later
 * turn (setImmediate), in arrival order, at most `budgetMs` of them per turn, so timers,
 * ACK writes and other connections get the loop in between.
 *
 * An idle fleet costs nothing here: a lone read (a heartbeat) starts a new run and
 * schedules nothing; only a run that overflows schedules a turn. Time is wall-clock
 * time (performance.now()), read when a read starts and when it is done.
 */

/** Reads handled in one run (or one later turn) before the rest wait. */
export const READ_BUDGET_MS = 10;
/** Reads further apart than this are separate runs (the loop had nothing to do in between). */
const GAP_MS = 1;

/** Who handles a chunk that was set aside. */
export interface DeferredReader {
  readLater(chunk: Buffer): void;
}

export class ReadBudget {
  readonly #budgetMs: number;
  /** When the current run started, and when its last read was done. */
  #runStartMs = -Infinity;
  #lastDoneMs = -Infinity;
  /** Set-aside reads, in arrival order (two arrays: no object or closure per read); those before #deferredHead ran. */
  readonly #deferred: DeferredReader[] = [];
  readonly #chunks: Buffer[] = [];
  #deferredHead = 0;
  #scheduled = false;
  readonly #onTurn = (): void => this.#nextTurn();

  constructor(budgetMs = READ_BUDGET_MS) {
    this.#budgetMs = budgetMs;
  }

  /**
   * True: handle the read now, then call done(). False: `reader.readLater(chunk)` is called
   * on a later turn (the caller pauses its socket until then).
   */
  admit(reader: DeferredReader, chunk: Buffer): boolean {
    if (this.#deferred.length === this.#deferredHead) {
      const now = performance.now();
      if (now - this.#lastDoneMs > GAP_MS) this.#runStartMs = now;
      if (now - this.#runStartMs < this.#budgetMs) return true;
    }
    this.#deferred.push(reader);
    this.#chunks.push(chunk);
    this.#schedule();
    return false;
  }

  /** The read admitted last is handled. */
  done(): void {
    this.#lastDoneMs = performance.now();
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
    while (this.#deferredHead < this.#deferred.length) {
      if (performance.now() - start >= this.#budgetMs) break;
      const i = this.#deferredHead++;
      const reader = this.#deferred[i] as DeferredReader;
      const chunk = this.#chunks[i] as Buffer;
      this.#deferred[i] = undefined as unknown as DeferredReader;
      this.#chunks[i] = undefined as unknown as Buffer;
      reader.readLater(chunk);
    }
    // This turn's reads count against the run: reads right after it (the next poll phase) continue it.
    this.#runStartMs = start;
    this.#lastDoneMs = performance.now();
    if (this.#deferredHead === this.#deferred.length) {
      this.#deferred.length = 0;
      this.#chunks.length = 0;
      this.#deferredHead = 0;
    } else {
      this.#schedule();
    }
  }
}
