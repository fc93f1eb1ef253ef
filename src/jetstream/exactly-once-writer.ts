/**
 * One client's messages into its own JetStream subject, exactly once and in order, beyond
 * the stream's duplicate window (docs/scale-out.md, "Publishing" and "Recovery"). The one
 * writer both the gateway (through its JetStream dedup state) and the nats:// client use.
 *
 * - `readMark()`: the client's mark (the Outlast-Seq of the last message on its subject),
 *   read through the stream leader once nothing of this writer is in flight.
 * - `write(messages)`: each message above what was taken is published in order, up to
 *   `maxInFlight` at a time, with Nats-Msg-Id = clientId:seq. The one sent when nothing is
 *   in flight also carries Nats-Expected-Last-Subject-Sequence = the stream sequence of the
 *   last stored one; when the view was last confirmed longer ago than PROBE_AFTER_MS it is
 *   sent ALONE: the rest follow (pipelined) only once it is stored, which proves this
 *   writer's view of the subject is current. So a burst from a stale view
 *   (another gateway wrote meanwhile, longer ago than the duplicate window) is caught by its
 *   first message and never stored twice. It resolves once every message of the call is in
 *   the stream (PubAck, or found under the mark). Calls may overlap: they share one pipeline.
 * - A failed publish (timeout, election, wrong last sequence, lost connection): nothing
 *   more is sent; once every answer is in, the mark is re-read (retried with backoff while
 *   NATS is unavailable), what it covers counts as stored, the rest is sent again with the
 *   same msg ids, the first chained to the mark. The callers hear nothing meanwhile.
 * - A failure a person must fix (permission, limits): once every answer is in, every
 *   waiting call rejects with an OUTLAST_NATS_REJECTED naming it; the next call starts
 *   from a fresh mark.
 *
 * What it is given and counts into is writer-hooks.ts (with the publish slots several writers
 * share, publish-slots.ts); the errors it rejects with are made in writer-errors.ts.
 */

import type { Mark } from "./nats-link.js";
import { natsFailure } from "./nats-rules.js";
import { natsRejected, writerClosed } from "./writer-errors.js";
import type { OutgoingMessage, WriterHooks, WriterStats } from "./writer-hooks.js";

/**
 * A run of publishes starts with one sent alone when the writer's view of the subject was
 * last confirmed (a PubAck, a mark read) longer ago than this. Well below the least
 * duplicate window a stream may have (1 s, stream-setup.ts): a message another writer stored
 * after our last confirmation is then still inside the window when our pipelined copy lands.
 */
export const PROBE_AFTER_MS = 250;

const SENT = 0;
const STORED = 1;
const FAILED = 2;

interface Entry {
  readonly seq: number;
  readonly data: Uint8Array;
  state: number;
  streamSeq: number;
  /** Sent with the expected last subject sequence: nothing else is sent until it is answered. */
  probe: boolean;
}

interface Waiter {
  /** Resolves once storedSeq reaches it. */
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/**
 * "ready": publishing. "recovering": a mark read is running or scheduled; nothing is sent.
 * "stale": the mark must be read before the next publish (after a refusal). "closed".
 */
type Mode = "ready" | "recovering" | "stale" | "closed";

export class ExactlyOnceWriter {
  readonly clientId: string;
  readonly subject: string;
  readonly #hooks: WriterHooks;
  readonly #stats: WriterStats;
  #mode: Mode = "ready";
  /** Highest seq known stored, and the stream sequence of the last message on the subject. */
  #storedSeq = 0;
  #lastStreamSeq = 0;
  /** Highest seq taken (queued, in flight or stored). */
  #takenSeq = 0;
  #inflight: Entry[] = [];
  #sending = 0;
  #pending: Entry[] = [];
  #pendingHead = 0;
  #waiters: Waiter[] = [];
  #settledWaiters: (() => void)[] = [];
  /** A publish chained to the last stored one is in flight: the rest wait for its answer. */
  #probing = false;
  /** When the view of the subject was last confirmed by the stream (a PubAck, a mark read). */
  #confirmedAt = -Infinity;
  /** A refusal met in flight: every waiting call rejects with it once every answer is in. */
  #refusal: Error | undefined;
  /** Once set, a transient failure rejects the waiting calls with it instead of retrying (closing). */
  #giveUp: Error | undefined;

  constructor(clientId: string, subject: string, hooks: WriterHooks, stats: WriterStats) {
    this.clientId = clientId;
    this.subject = subject;
    this.#hooks = hooks;
    this.#stats = stats;
  }

  /** Highest seq known stored in the stream. */
  get storedSeq(): number {
    return this.#storedSeq;
  }

  /** Nothing in flight and nothing waiting to be sent. */
  get idle(): boolean {
    return this.#sending === 0 && this.#pendingCount === 0;
  }

  get #pendingCount(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /**
   * The mark, read through the stream leader once nothing is in flight; the writer chains
   * its next publish to it. Rejects with the NATS error (reported to natsError first).
   */
  async readMark(): Promise<Mark> {
    if (this.#sending > 0) await new Promise<void>((resolve) => this.#settledWaiters.push(resolve));
    let mark: Mark;
    try {
      mark = await this.#hooks.link.readMark(this.subject);
    } catch (err) {
      this.#hooks.natsError(err, natsFailure(err), this.clientId);
      throw err;
    }
    if (this.#sending === 0 && this.#pendingCount === 0) {
      this.#adopt(mark);
      if (this.#mode === "stale") this.#mode = "ready";
    }
    return mark;
  }

  /** Resolves once every message is in the stream; rejects with OUTLAST_NATS_REJECTED (or OUTLAST_CLOSED). */
  write(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#mode === "closed") return Promise.reject(writerClosed(this.clientId, false));
    let last = 0;
    for (const m of messages) {
      if (m.seq > last) last = m.seq;
      if (m.seq <= this.#takenSeq) continue; // stored, or queued by an earlier call
      this.#takenSeq = m.seq;
      this.#pending.push({ seq: m.seq, data: m.data, state: SENT, streamSeq: 0, probe: false });
    }
    if (last <= this.#storedSeq) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ seq: last, resolve, reject }));
    if (this.#mode === "stale") this.#startRecovery();
    else this.pump();
    return done;
  }

  /** Sends what the window allows (nothing while recovering or while NATS is disconnected). */
  pump(): void {
    if (this.#mode !== "ready" || !this.#hooks.link.connected) return;
    const max = this.#hooks.maxInFlight;
    while (this.#pendingCount > 0 && this.#inflight.length < max && !this.#probing) {
      if (!this.#hooks.slots.acquire()) {
        this.#hooks.slots.wait(this);
        break;
      }
      const e = this.#pending[this.#pendingHead] as Entry;
      this.#pending[this.#pendingHead++] = undefined as unknown as Entry;
      const expect = this.#inflight.length === 0 ? this.#lastStreamSeq : undefined;
      this.#send(e, expect, expect !== undefined && this.#hooks.now() - this.#confirmedAt > PROBE_AFTER_MS);
    }
    if (this.#pendingCount === 0) {
      this.#pending = [];
      this.#pendingHead = 0;
    }
  }

  #send(e: Entry, expect: number | undefined, probe: boolean): void {
    e.state = SENT;
    e.probe = probe;
    if (probe) this.#probing = true;
    this.#inflight.push(e);
    this.#sending++;
    this.#stats.published++;
    this.#hooks.link
      .publish({
        subject: this.subject,
        clientId: this.clientId,
        seq: e.seq,
        data: e.data,
        expectLastSubjectSeq: expect,
      })
      .then(
        (ack) => {
          e.state = STORED;
          e.streamSeq = ack.streamSeq;
          this.#confirmedAt = this.#hooks.now();
          if (e.probe) this.#probing = false;
          this.#answered();
        },
        (err: unknown) => {
          e.state = FAILED;
          if (e.probe) this.#probing = false;
          const failure = natsFailure(err);
          this.#hooks.natsError(err, failure, this.clientId);
          if (failure.kind === "fatal" && this.#refusal === undefined)
            this.#refusal = this.#rejected(`the stream refused seq ${e.seq} of ${this.clientId}`, err);
          if (this.#mode === "ready") this.#enterRecovery();
          this.#answered();
        },
      );
  }

  /** NATS connection lost: publish nothing more until every answer is in and the mark is re-read. */
  linkLost(): void {
    if (this.#sending > 0 && this.#mode === "ready") this.#enterRecovery();
  }

  #enterRecovery(): void {
    this.#mode = "recovering";
    this.#stats.recoveries++;
  }

  #answered(): void {
    this.#sending--;
    this.#hooks.slots.release();
    // The answered prefix is stored.
    let advanced = false;
    while (this.#inflight.length > 0 && (this.#inflight[0] as Entry).state === STORED) {
      const e = this.#inflight.shift() as Entry;
      if (e.seq > this.#storedSeq) {
        this.#storedSeq = e.seq;
        this.#lastStreamSeq = e.streamSeq;
        this.#stats.acknowledged++;
        advanced = true;
      }
    }
    if (advanced) this.#resolveWaiters();
    if (this.#sending > 0) {
      if (this.#mode === "ready") this.pump();
      return;
    }
    const settled = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const fn of settled) fn();
    if (this.#refusal !== undefined) {
      const refusal = this.#refusal;
      this.#refusal = undefined;
      this.#fail(refusal);
    } else if (this.#mode === "recovering") {
      this.#recover(0);
    } else if (this.#mode === "ready") {
      this.pump();
    }
  }

  #startRecovery(): void {
    this.#enterRecovery();
    if (this.#sending === 0) this.#recover(0);
  }

  #recover(attempt: number): void {
    if (this.#mode !== "recovering") return;
    if (this.#giveUp !== undefined) {
      this.#fail(this.#giveUp);
      return;
    }
    this.#hooks.link.readMark(this.subject).then(
      (mark) => {
        if (this.#mode !== "recovering") return;
        this.#resync(mark);
        this.#mode = "ready";
        this.#resolveWaiters();
        this.pump();
      },
      (err: unknown) => {
        if (this.#mode !== "recovering") return;
        const failure = natsFailure(err);
        this.#hooks.natsError(err, failure, this.clientId);
        if (failure.kind === "fatal") {
          this.#fail(this.#rejected(`cannot read the mark of ${this.clientId}`, err));
          return;
        }
        this.#hooks.setTimeout(() => this.#recover(attempt + 1), this.#hooks.retryDelayMs(attempt));
      },
    );
  }

  /** The stream says `mark` is the client's last message: what it covers is stored, the rest goes back to the queue. */
  #resync(mark: Mark): void {
    const again = this.#inflight.filter((e) => e.seq > mark.seq && e.seq > this.#storedSeq);
    this.#inflight = [];
    this.#adoptMark(mark);
    const rest = this.#pending.slice(this.#pendingHead).filter((e) => e.seq > this.#storedSeq);
    this.#pending = [...again, ...rest];
    this.#pendingHead = 0;
    if (this.#takenSeq < this.#storedSeq) this.#takenSeq = this.#storedSeq;
  }

  /** Nothing in flight or queued: take the mark as it is. */
  #adopt(mark: Mark): void {
    this.#adoptMark(mark);
    this.#takenSeq = this.#storedSeq;
    this.#resolveWaiters();
  }

  #adoptMark(mark: Mark): void {
    this.#confirmedAt = this.#hooks.now();
    if (mark.seq > this.#storedSeq) {
      this.#stats.acknowledged += this.#inflight.filter((e) => e.seq <= mark.seq).length;
      this.#storedSeq = mark.seq;
    }
    this.#lastStreamSeq = mark.streamSeq;
  }

  #resolveWaiters(): void {
    let i = 0;
    while (i < this.#waiters.length && (this.#waiters[i] as Waiter).seq <= this.#storedSeq) i++;
    if (i === 0) return;
    const done = this.#waiters.splice(0, i);
    for (const w of done) w.resolve();
  }

  #rejected(what: string, cause: unknown): Error {
    return natsRejected(what, cause, this.#hooks.link.stream, this.subject);
  }

  /** Every waiting call rejects with `err`; queued messages are dropped; the next write starts from a fresh mark. */
  #fail(err: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#pending = [];
    this.#pendingHead = 0;
    this.#inflight = [];
    this.#takenSeq = this.#storedSeq;
    if (this.#mode !== "closed") this.#mode = "stale";
    for (const w of waiters) w.reject(err);
  }

  /**
   * From now on a failure rejects the waiting calls with `err` instead of retrying (a closing
   * gateway: its clients resend elsewhere); a recovery under way ends now.
   */
  giveUp(err: Error): void {
    this.#giveUp = err;
    if (this.#sending > 0 || this.#waiters.length === 0) return;
    // A recovery under way, or messages waiting for a lost NATS connection to come back.
    if (this.#mode === "recovering" || (this.#mode === "ready" && !this.#hooks.link.connected)) this.#fail(err);
  }

  /** Stops: every waiting call rejects with OUTLAST_CLOSED. In-flight publishes finish on their own. */
  close(): void {
    if (this.#mode === "closed") return;
    this.#mode = "closed";
    this.#fail(writerClosed(this.clientId, true));
  }
}
