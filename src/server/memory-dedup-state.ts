/**
 * Dedup state for the life of the process: a Map. Records are "durable" at once,
 * so acknowledgements are never delayed. A restart forgets everything (use `state`).
 */

import type { CommitListener, DedupState, FatalListener, InDoubt } from "./dedup-state.js";
import { NO_DOUBT } from "./dedup-state.js";

export class MemoryDedupState implements DedupState {
  readonly synchronous = true;
  readonly #lastSeq = new Map<string, number>();

  open(): Promise<void> {
    return Promise.resolve();
  }

  lastSeq(clientId: string): number {
    return this.#lastSeq.get(clientId) ?? 0;
  }

  startedSeq(clientId: string): number {
    return this.lastSeq(clientId);
  }

  inDoubt(_clientId: string): InDoubt {
    return NO_DOUBT; // a restart forgets everything, including what was in the handler
  }

  slot(_clientId: string): number {
    return -1;
  }

  progress(_slot: number, _doneSeq: number, _startedSeq: number): void {}

  markStarted(_clientId: string, _seq: number): void {
    // A process crash loses the memory state anyway: nothing to mark.
  }

  record(clientId: string, seq: number): void {
    if (seq > (this.#lastSeq.get(clientId) ?? 0)) this.#lastSeq.set(clientId, seq);
  }

  commit(): void {}

  setListeners(_onCommit: CommitListener, _onFatal: FatalListener): void {}

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(_graceful: boolean): Promise<void> {
    return Promise.resolve();
  }
}
