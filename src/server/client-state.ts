/**
 * Per-clientId state: what has been handled, recorded and made durable, the
 * in-doubt range left by a server that died, the queue behind a running handler,
 * and the connection currently serving the client. Plain data: the pipeline that
 * moves it on lives in client-registry.ts.
 */

import type { OutlastError } from "../errors/outlast-error.js";
import type { ClientProgress, ClientSeqs } from "./dedup-state.js";
import { NO_DOUBT, NO_PROGRESS } from "./dedup-state.js";

/** What the registry needs from a connection. */
export interface ClientConnection {
  /** Duplicates skipped since the last ACK on this connection. */
  duplicates: number;
  /** Sends ACK{seq, duplicates} if there is anything new to say. */
  flushAck(seq: number): void;
  /** The handler failed: take no more messages; once the client is settled send the last ACK, ERROR OUTLAST_HANDLER_FAILED, and close. */
  handlerFailed(error: unknown, retryAfterMs: number): void;
  pause(): void;
  resume(): void;
  /** Before WELCOME: the state cannot load this client now (`error`); send it as ERROR with retryAfterMs and close. */
  turnAway(error: OutlastError, retryAfterMs: number): void;
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
  /** Seqs in [doubtFromSeq, doubtToSeq] may have been handed to a handler by a server that died. */
  doubtFromSeq = NO_DOUBT.fromSeq;
  doubtToSeq = NO_DOUBT.toSeq;
  /** The state's "handler started" marks for this client (set once loaded). */
  progress: ClientProgress = NO_PROGRESS;
  /** The state has not answered load() yet (a remote state): nothing runs, WELCOME waits. */
  loading = true;
  /** A connection was attached before (a shared state is asked again on the next one). */
  attachedBefore = false;
  /** The last failed call covered failedSeq..failedToSeq (0: none); its seqs come back flagged `redelivery`. */
  failedSeq = 0;
  failedToSeq = 0;
  /** Failed calls in a row that started at failedSeq. */
  failedAttempts = 0;
  /** A handler Promise is pending. */
  busy = false;
  /** Messages waiting for the handler (from queueHead on); undefined when none: no array per idle client. */
  queue: Queued[] | undefined;
  queueHead = 0;
  queuedBytes = 0;
  connection: ClientConnection | undefined;
  paused = false;
  /** Waiting for `settled`; undefined when none. */
  settledWaiters: (() => void)[] | undefined;

  constructor(readonly id: string) {
    this.handledSeq = 0;
    this.recordedSeq = 0;
    this.durableSeq = 0;
  }

  /** What the state said of this client (load()); its marks. */
  loaded(seqs: ClientSeqs, progress: ClientProgress): void {
    this.handledSeq = seqs.lastSeq;
    this.recordedSeq = seqs.lastSeq;
    this.durableSeq = seqs.lastSeq;
    this.doubtFromSeq = seqs.inDoubt.fromSeq;
    this.doubtToSeq = seqs.inDoubt.toSeq;
    this.progress = progress;
    this.loading = false;
  }

  /** A shared state's fresh answer (another server may have gone further): never lowers what is known. */
  reloaded(seqs: ClientSeqs): void {
    this.loading = false;
    if (seqs.lastSeq <= this.durableSeq) return;
    this.handledSeq = Math.max(this.handledSeq, seqs.lastSeq);
    this.recordedSeq = Math.max(this.recordedSeq, seqs.lastSeq);
    this.durableSeq = seqs.lastSeq;
  }

  get queued(): number {
    return this.queue === undefined ? 0 : this.queue.length - this.queueHead;
  }

  /** Loaded, no handler running, nothing queued, every success durable. */
  get settled(): boolean {
    return !this.loading && !this.busy && this.queued === 0 && this.durableSeq >= this.handledSeq;
  }
}
