/**
 * Dedup state for the life of the process: a Map. A commit is "durable" at
 * once (the commit listener is called inside commit()), so acknowledgements are
 * never delayed. A restart forgets everything, including what was in the
 * handler (use `state` for a directory that survives).
 */

import type { ClientProgress, ClientSeqs, CommitListener, DedupState, FatalListener } from "./dedup-state.js";
import { NO_DOUBT, NO_PROGRESS } from "./dedup-state.js";

export class MemoryDedupState implements DedupState {
  readonly #lastSeq = new Map<string, number>();
  #pending = new Map<string, number>();
  #onCommit: CommitListener = () => {};

  open(): Promise<void> {
    return Promise.resolve();
  }

  load(clientId: string): ClientSeqs {
    return { lastSeq: this.#lastSeq.get(clientId) ?? 0, inDoubt: NO_DOUBT };
  }

  progress(_clientId: string): ClientProgress {
    return NO_PROGRESS; // a process crash loses the memory state anyway: nothing to mark
  }

  record(clientId: string, seq: number): void {
    if (seq > (this.#pending.get(clientId) ?? 0)) this.#pending.set(clientId, seq);
  }

  commit(): void {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    for (const [id, seq] of batch) {
      if (seq > (this.#lastSeq.get(id) ?? 0)) this.#lastSeq.set(id, seq);
      else batch.delete(id);
    }
    if (batch.size > 0) this.#onCommit(batch);
  }

  setListeners(onCommit: CommitListener, _onFatal: FatalListener): void {
    this.#onCommit = onCommit;
  }

  flush(): Promise<void> {
    this.commit();
    return Promise.resolve();
  }

  close(graceful: boolean): Promise<void> {
    if (graceful) this.commit();
    return Promise.resolve();
  }
}
