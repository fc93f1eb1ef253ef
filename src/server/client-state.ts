/**
 * Per-clientId state: what has been handled, recorded and made durable, the
 * in-doubt range left by a server that died, the queue behind a running handler,
 * and the connection currently serving the client. Plain data: the pipeline that
 * moves it on lives in client-registry.ts.
 */

import type { InDoubt } from "./dedup-state.js";

/** What the registry needs from a connection. */
export interface ClientConnection {
  /** Duplicates skipped since the last ACK on this connection. */
  duplicates: number;
  /** Sends ACK{seq, duplicates} if there is anything new to say. */
  flushAck(seq: number): void;
  /** The handler failed: take no more messages; once the client is settled send the last ACK, ERROR OUTLAST_HANDLER_FAILED, and close. */
  handlerFailed(error: unknown, retryAfterMs: number): void;
  /** Highest MESSAGE seq in the batch being processed (for batch-granular "started" marks). */
  batchHighSeq(): number;
  /** While a read is being processed: the seq of the next frame if it is a MESSAGE this connection will pass on; else 0. */
  nextMessageSeq(): number;
  pause(): void;
  resume(): void;
}

export interface Queued {
  readonly seq: number;
  readonly data: Uint8Array;
}

export class ClientState {
  /** Highest seq whose handler succeeded (in memory; dedup uses it). */
  handledSeq: number;
  /** Highest seq passed to state.record(). */
  recordedSeq: number;
  /** Highest seq known durable: what ACK and WELCOME report. */
  durableSeq: number;
  /** Highest seq covered by a "started" mark of this process. */
  markedSeq: number;
  /** Seqs in [doubtFromSeq, doubtToSeq] may have been handed to a handler by a server that died. */
  readonly doubtFromSeq: number;
  readonly doubtToSeq: number;
  /** Progress slot in the state (-1: none yet, or the state keeps none). */
  slot = -1;
  /** The seq the progress slot says is inside the handler (== handledSeq: none); -1 before this process wrote it. */
  announcedSeq = -1;
  failedSeq = 0;
  failedAttempts = 0;
  /** A handler Promise is pending. */
  busy = false;
  queue: Queued[] = [];
  queueHead = 0;
  queuedBytes = 0;
  connection: ClientConnection | undefined;
  dirty = false;
  paused = false;
  settledWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    lastSeq: number,
    startedSeq: number,
    doubt: InDoubt,
  ) {
    this.handledSeq = lastSeq;
    this.recordedSeq = lastSeq;
    this.durableSeq = lastSeq;
    this.markedSeq = startedSeq;
    this.doubtFromSeq = doubt.fromSeq;
    this.doubtToSeq = doubt.toSeq;
  }

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** No handler running, nothing queued, every success durable. */
  get settled(): boolean {
    return !this.busy && this.queued === 0 && this.durableSeq >= this.handledSeq;
  }
}
