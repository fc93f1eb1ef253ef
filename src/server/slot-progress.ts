/**
 * One client's "handler started" marks in the file state: its slot of the
 * `slots` file (progress-file.ts), written (not synced) right before each
 * handler call ("done N-1, started N"); a success is written with the next
 * call's mark, or by settle() when none follows at once. So a pipelined stream
 * costs one small write per message, and a process kill leaves the slot naming
 * the seqs that may have been inside the handler (one call: one seq, or a
 * batch's range). Seqs a server that died may have run (`inDoubt`) stay named
 * in the slot until they are done: otherwise a second kill, after the first
 * call of a long in-doubt range, would forget the rest of the range and run it
 * again unflagged.
 */

import type { ClientProgress } from "./dedup-state.js";

/** What a SlotProgress needs of its state. */
export interface SlotWriter {
  /** The client's slot, claimed on first use (one synchronous write); -1 when the state cannot write. */
  slotOf(clientId: string, doneSeq: number, startedSeq: number): number;
  writeSlot(slot: number, doneSeq: number, startedSeq: number): void;
  /** Handler calls up to `seq` started: a STARTED record goes into the log with the next commit. */
  markStarted(clientId: string, seq: number): void;
}

export class SlotProgress implements ClientProgress {
  #doneSeq: number;
  readonly #doubtToSeq: number;
  #finishPending = false;
  #slot = -1;

  constructor(
    readonly clientId: string,
    lastSeq: number,
    doubtToSeq: number,
    readonly state: SlotWriter,
  ) {
    this.#doneSeq = lastSeq;
    this.#doubtToSeq = doubtToSeq;
  }

  starting(seq: number): void {
    const startedSeq = Math.max(seq, this.#doubtToSeq);
    if (this.#slot < 0) this.#slot = this.state.slotOf(this.clientId, this.#doneSeq, startedSeq);
    this.state.writeSlot(this.#slot, this.#doneSeq, startedSeq);
    this.#finishPending = false;
    this.state.markStarted(this.clientId, seq);
  }

  finished(seq: number): void {
    if (seq > this.#doneSeq) this.#doneSeq = seq;
    this.#finishPending = true;
  }

  settle(): void {
    if (!this.#finishPending) return;
    this.#finishPending = false;
    this.state.writeSlot(this.#slot, this.#doneSeq, Math.max(this.#doneSeq, this.#doubtToSeq));
  }
}
