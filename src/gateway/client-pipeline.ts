/**
 * One client's publishes into the stream (docs/scale-out.md, "Publishing" and "Recovery").
 *
 * - On attach: wait until nothing of this client is in flight, read the mark from the
 *   stream leader, WELCOME with it.
 * - Each MESSAGE above what was taken is published in order, up to `maxInFlight` at a
 *   time, with Nats-Msg-Id = clientId:seq; the one sent when nothing is in flight also
 *   carries Nats-Expected-Last-Subject-Sequence = the stream sequence of the last stored one.
 * - PubAcks advance the acknowledged seq over the answered prefix; the client gets an ACK.
 * - Any failure: stop publishing, wait for every answer, re-read the mark, acknowledge up
 *   to it, resend the rest (same msg ids; the first one chained to the mark).
 */

import { OutlastError } from "../errors/outlast-error.js";
import type { Mark, NatsLink } from "./nats-link.js";
import type { NatsFailure } from "./nats-rules.js";
import { natsFailure } from "./nats-rules.js";

/** What the pipeline needs from the client's connection. */
export interface PipelineConnection {
  /** The mark is known: send WELCOME with lastSeq. */
  welcome(lastSeq: number): void;
  /** Turn the client away before WELCOME (it retries after retryAfterMs). */
  turnAway(err: OutlastError, retryAfterMs: number): void;
  /** Send (coalesced) ACK of `seq`. */
  ack(seq: number): void;
  /** A resend of something already taken: counted in the next ACK. */
  duplicate(): void;
  /** A failure a person must fix: send ERROR and close. */
  fail(err: OutlastError, retryAfterMs: number): void;
  /** Another connection of the same clientId took over. */
  superseded(): void;
  pause(): void;
  resume(): void;
}

export interface PipelineHooks {
  readonly link: NatsLink;
  readonly maxInFlight: number;
  /** Every NATS error the pipeline meets, with what it made of it. */
  natsError(error: unknown, failure: NatsFailure, clientId: string): void;
  /** Takes one of the gateway's publish slots (shared by every client); false when none is free. */
  acquire(): boolean;
  /** Gives a slot back (a publish was answered). */
  release(): void;
  /** This pipeline has messages waiting for a slot: pump it when one frees. */
  waitForSlot(pipeline: ClientPipeline): void;
  /** Delay before the next mark read after a failed one. */
  retryDelayMs(attempt: number): number;
  setTimeout(fn: () => void, ms: number): unknown;
}

export interface PipelineStats {
  published: number;
  acknowledged: number;
  recoveries: number;
}

const SENT = 0;
const STORED = 1;
const FAILED = 2;

interface Entry {
  readonly seq: number;
  readonly data: Uint8Array;
  state: number;
  streamSeq: number;
}

type Mode = "idle" | "syncing" | "ready" | "recovering";

export class ClientPipeline {
  readonly id: string;
  readonly subject: string;
  readonly #hooks: PipelineHooks;
  readonly #stats: PipelineStats;
  #conn: PipelineConnection | undefined;
  /** Bumped on every attach/detach: an old mark read or recovery loop sees it and stops. */
  #epoch = 0;
  #mode: Mode = "idle";
  /** Highest seq known stored (acknowledged to the client) and its stream sequence. */
  #storedSeq = 0;
  #lastStreamSeq = 0;
  /** Highest seq taken on the current connection (queued, in flight or stored). */
  #takenSeq = 0;
  #inflight: Entry[] = [];
  #sending = 0;
  #pending: Entry[] = [];
  #pendingHead = 0;
  #paused = false;
  #ackScheduled = false;
  #settledWaiters: (() => void)[] = [];

  constructor(id: string, subject: string, hooks: PipelineHooks, stats: PipelineStats) {
    this.id = id;
    this.subject = subject;
    this.#hooks = hooks;
    this.#stats = stats;
  }

  get connection(): PipelineConnection | undefined {
    return this.#conn;
  }

  /** Nothing in flight. */
  get settled(): boolean {
    return this.#sending === 0;
  }

  get #pendingCount(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /** Resolves when nothing of this client is in flight. */
  whenSettled(fn: () => void): void {
    if (this.#sending === 0) fn();
    else this.#settledWaiters.push(fn);
  }

  /** `conn` is now the client's connection: read the mark and WELCOME it. */
  attach(conn: PipelineConnection): void {
    const old = this.#conn;
    this.#conn = conn;
    const epoch = ++this.#epoch;
    this.#mode = "syncing";
    this.#dropPending();
    if (old !== undefined && old !== conn) old.superseded();
    this.whenSettled(() => {
      if (this.#epoch !== epoch) return;
      this.#hooks.link.readMark(this.subject).then(
        (mark) => {
          if (this.#epoch !== epoch) return;
          // A fresh start: what an older connection left in flight is answered; the client resends the rest.
          this.#inflight = [];
          this.#storedSeq = mark.seq;
          this.#lastStreamSeq = mark.streamSeq;
          this.#takenSeq = mark.seq;
          this.#mode = "ready";
          conn.welcome(mark.seq);
        },
        (err: unknown) => {
          if (this.#epoch !== epoch) return;
          const failure = natsFailure(err);
          this.#hooks.natsError(err, failure, this.id);
          this.#detachInternal();
          const text = err instanceof Error ? err.message : String(err);
          if (failure.kind === "fatal")
            conn.fail(
              new OutlastError("OUTLAST_NATS_REJECTED", `cannot read the mark of this client: ${text}`, {
                cause: err,
              }),
              30_000,
            );
          else
            conn.turnAway(
              new OutlastError(
                "OUTLAST_SERVER_BUSY",
                `stream ${this.#hooks.link.stream} unavailable (${failure.kind === "transient" ? failure.reason : text}); retry later`,
                { cause: err, details: { stream: this.#hooks.link.stream } },
              ),
              1000,
            );
        },
      );
    });
  }

  /** The connection closed: stop taking its messages. In-flight publishes finish on their own. */
  detach(conn: PipelineConnection): void {
    if (this.#conn !== conn) return;
    this.#detachInternal();
  }

  #detachInternal(): void {
    this.#conn = undefined;
    this.#epoch++;
    this.#dropPending();
    if (this.#mode !== "recovering") this.#mode = "idle";
  }

  #dropPending(): void {
    this.#pending = [];
    this.#pendingHead = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#conn?.resume();
    }
  }

  /** A MESSAGE on the client's current connection. */
  message(conn: PipelineConnection, seq: number, data: Uint8Array): void {
    if (conn !== this.#conn || (this.#mode !== "ready" && this.#mode !== "recovering")) return;
    if (seq <= this.#takenSeq) {
      conn.duplicate();
      this.#scheduleAck();
      return;
    }
    this.#takenSeq = seq;
    this.#pending.push({ seq, data, state: SENT, streamSeq: 0 });
    if (!this.#paused && this.#pendingCount > 4 * this.#hooks.maxInFlight) {
      this.#paused = true;
      conn.pause();
    }
    this.pump();
  }

  /** Sends what the window allows (nothing while recovering or while NATS is disconnected). */
  pump(): void {
    if (this.#mode !== "ready" || !this.#hooks.link.connected) return;
    const max = this.#hooks.maxInFlight;
    while (this.#pendingCount > 0 && this.#inflight.length < max) {
      if (!this.#hooks.acquire()) {
        this.#hooks.waitForSlot(this);
        break;
      }
      const e = this.#pending[this.#pendingHead] as Entry;
      this.#pending[this.#pendingHead++] = undefined as unknown as Entry;
      this.#send(e, this.#inflight.length === 0 ? this.#lastStreamSeq : undefined);
    }
    if (this.#pendingCount === 0) {
      this.#pending = [];
      this.#pendingHead = 0;
    }
    if (this.#paused && this.#pendingCount <= 2 * max) {
      this.#paused = false;
      this.#conn?.resume();
    }
  }

  #send(e: Entry, expect: number | undefined): void {
    e.state = SENT;
    this.#inflight.push(e);
    this.#sending++;
    this.#stats.published++;
    this.#hooks.link
      .publish({ subject: this.subject, clientId: this.id, seq: e.seq, data: e.data, expectLastSubjectSeq: expect })
      .then(
        (ack) => {
          e.state = STORED;
          e.streamSeq = ack.streamSeq;
          this.#answered();
        },
        (err: unknown) => {
          e.state = FAILED;
          const failure = natsFailure(err);
          this.#hooks.natsError(err, failure, this.id);
          if (failure.kind === "fatal" && this.#conn !== undefined) {
            const text = err instanceof Error ? err.message : String(err);
            this.#conn.fail(
              new OutlastError("OUTLAST_NATS_REJECTED", `the stream refused seq ${e.seq}: ${text}`, { cause: err }),
              30_000,
            );
          }
          this.#enterRecovery();
          this.#answered();
        },
      );
  }

  /** NATS connection lost: publish nothing more until every answer is in and the mark is re-read. */
  linkLost(): void {
    if (this.#sending > 0) this.#enterRecovery();
  }

  #enterRecovery(): void {
    if (this.#mode === "ready") {
      this.#mode = "recovering";
      this.#stats.recoveries++;
    }
  }

  #answered(): void {
    this.#sending--;
    this.#hooks.release();
    // The answered prefix is stored: acknowledge it.
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
    if (advanced) this.#scheduleAck();
    if (this.#sending > 0) {
      if (this.#mode === "ready") this.pump();
      return;
    }
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const w of waiters) w();
    if (this.#mode === "recovering") this.#recover(0);
    else if (this.#mode === "ready") this.pump();
  }

  #recover(attempt: number): void {
    const epoch = this.#epoch;
    if (this.#conn === undefined) {
      this.#inflight = [];
      this.#mode = "idle";
      return;
    }
    this.#hooks.link.readMark(this.subject).then(
      (mark) => {
        if (this.#epoch !== epoch || this.#mode !== "recovering") return;
        this.#resync(mark);
        this.#mode = "ready";
        this.#scheduleAck();
        this.pump();
      },
      (err: unknown) => {
        if (this.#epoch !== epoch || this.#mode !== "recovering") return;
        const failure = natsFailure(err);
        this.#hooks.natsError(err, failure, this.id);
        if (failure.kind === "fatal") {
          const text = err instanceof Error ? err.message : String(err);
          this.#conn?.fail(
            new OutlastError("OUTLAST_NATS_REJECTED", `cannot read the mark of this client: ${text}`, { cause: err }),
            30_000,
          );
          return;
        }
        this.#hooks.setTimeout(() => {
          if (this.#epoch === epoch && this.#mode === "recovering") this.#recover(attempt + 1);
        }, this.#hooks.retryDelayMs(attempt));
      },
    );
  }

  /** The stream says `mark` is the client's last message: what is above it goes back to the queue, in order. */
  #resync(mark: Mark): void {
    if (mark.seq > this.#storedSeq) {
      this.#stats.acknowledged += this.#inflight.filter((e) => e.seq <= mark.seq).length;
      this.#storedSeq = mark.seq;
    }
    this.#lastStreamSeq = mark.streamSeq;
    const again = this.#inflight.filter((e) => e.seq > this.#storedSeq);
    this.#inflight = [];
    if (again.length > 0) {
      const rest = this.#pending.slice(this.#pendingHead);
      this.#pending = [...again, ...rest];
      this.#pendingHead = 0;
    }
  }

  #scheduleAck(): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    setImmediate(() => {
      this.#ackScheduled = false;
      this.#conn?.ack(this.#storedSeq);
    });
  }
}
