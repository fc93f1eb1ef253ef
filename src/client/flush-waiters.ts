/**
 * flush() calls waiting for "everything accepted so far is acknowledged (or
 * dropped)". A flush waits for the append batch that holds the last message
 * accepted before it, then for the outbox's oldest record to pass that
 * batch's last seq.
 */

import type { Clock, Timer } from "../errors/clock.js";
import { OutlastError } from "../errors/outlast-error.js";

interface FlushWaiter {
  /** The append batch that must be stored first. */
  readonly needBatch: number;
  /** Last seq to be acknowledged; known once `needBatch` is stored. */
  target: number | undefined;
  timer: Timer | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** What the waiters look at. */
export interface FlushView {
  /** Appends can happen (the outbox is open). */
  ready(): boolean;
  /** Id of the last append batch that finished (stored or failed). */
  batchesDone(): number;
  /** The outbox's next seq. */
  nextSeq(): number;
  /** Seq of the oldest stored record, or undefined when none. */
  oldestSeq(): number | undefined;
  /** Messages queued (for the timeout message). */
  queued(): number;
}

export class FlushWaiters {
  readonly #clock: Clock;
  readonly #view: FlushView;
  readonly #waiters = new Set<FlushWaiter>();

  constructor(clock: Clock, view: FlushView) {
    this.#clock = clock;
    this.#view = view;
  }

  /** Waits until everything in batches up to `needBatch` is acknowledged; OUTLAST_TIMEOUT after `timeoutMs`. */
  add(needBatch: number, timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const v = this.#view;
      const w: FlushWaiter = {
        needBatch,
        target: v.ready() && needBatch <= v.batchesDone() ? v.nextSeq() - 1 : undefined,
        timer: undefined,
        resolve,
        reject,
      };
      this.#waiters.add(w);
      if (timeoutMs !== undefined && timeoutMs !== Infinity) {
        w.timer = this.#clock.setTimeout(() => {
          this.#waiters.delete(w);
          const queuedMessages = this.#view.queued();
          reject(
            new OutlastError(
              "OUTLAST_TIMEOUT",
              `flush did not finish within ${timeoutMs} ms (${queuedMessages} messages still queued)`,
              {
                details: { timeoutMs, queuedMessages },
              },
            ),
          );
        }, timeoutMs);
      }
      this.check();
    });
  }

  /** Batch `batchId` was stored with seqs up to `lastSeq`. */
  batchStored(batchId: number, lastSeq: number): void {
    for (const w of this.#waiters) if (w.needBatch === batchId) w.target = lastSeq;
  }

  /** Resolves the waiters that are done. */
  check(): void {
    if (this.#waiters.size === 0) return;
    const v = this.#view;
    if (!v.ready()) return;
    const oldest = v.oldestSeq();
    for (const w of this.#waiters) {
      if (w.target === undefined) {
        if (w.needBatch > v.batchesDone()) continue;
        w.target = v.nextSeq() - 1;
      }
      if (oldest === undefined || oldest > w.target) {
        this.#waiters.delete(w);
        if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  rejectAll(err: unknown): void {
    for (const w of this.#waiters) {
      if (w.timer !== undefined) this.#clock.clearTimeout(w.timer);
      w.reject(err);
    }
    this.#waiters.clear();
  }
}
