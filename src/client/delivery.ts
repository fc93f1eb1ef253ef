/**
 * The message side of the client: send() (pending-send.ts) through admission
 * (admission.ts, queue limits and whenFull) to batched appends to the outbox,
 * the send window, acknowledgements, drops (drops.ts: full, expired, too
 * large; expiry-schedule.ts) and flush (flush-waiters.ts). Knows nothing of
 * reconnecting nor of the wire: the client attaches a transport's Link when
 * one is open and detaches it when it is lost.
 */

import { OutlastError } from "../errors/outlast-error.js";
import type { DropReason, Outbox, OutboxRecord } from "../outbox/outbox.js";
import { Admission } from "./admission.js";
import { dropError, tooLargeForFrame } from "./drops.js";
import { ExpirySchedule } from "./expiry-schedule.js";
import { FlushWaiters } from "./flush-waiters.js";
import type { ResolvedOptions } from "./options.js";
import type { SendOptions, SendResult } from "./pending-send.js";
import { copyData, parseSendOptions, PendingSend } from "./pending-send.js";
import { renumberAfter, renumberMap } from "./renumber.js";
import { SendsBySeq } from "./sends-by-seq.js";
import { SendWindow } from "./send-window.js";
import type { StatsCounters } from "./stats.js";
import type { Link } from "./transport/transport.js";

export type { SendOptions, SendResult } from "./pending-send.js";

export interface DeliveryHooks {
  dropped(seq: number, reason: DropReason): void;
  /** Whether anyone listens for per-message `delivered` events (they cost time). */
  wantsDelivered(): boolean;
  delivered(seq: number, latencyMs: number): void;
  /** The outbox failed to store a batch (a durable outbox's I/O error). */
  storeFailed(err: unknown): void;
}

export class Delivery {
  readonly #o: ResolvedOptions;
  readonly #outbox: Outbox;
  readonly #stats: StatsCounters;
  readonly #hooks: DeliveryHooks;
  readonly window: SendWindow;
  /** Wall-clock ms: record creation and expiry times are compared with this. */
  readonly #wallNow: () => number;
  /** The wall-clock reading shared by the send() calls of one append batch (they run in one turn). */
  #batchWallMs = 0;
  readonly #admission: Admission;
  readonly #flush: FlushWaiters;
  readonly #expiry: ExpirySchedule;
  #connection: Link | undefined;
  #ready = false;
  #accepting = true;
  #closedError: unknown;

  /** Admitted, not yet handed to the outbox: the next append batch. */
  #pending: PendingSend[] = [];
  #reservedCount = 0;
  #reservedBytes = 0;
  #appendScheduled = false;
  #batchesIssued = 0;
  #batchesDone = 0;
  /** Stored messages waiting for their acknowledgement: seq -> send. */
  readonly #acks = new SendsBySeq();
  #pumpScheduled = false;

  /** Highest seq written on the current connection. */
  #sentSeq = 0;
  #highestSentEver = 0;
  /** Records stored when the outbox opened have seq <= this: an earlier process may have sent them. */
  #recoveredUpTo = 0;
  /** The outbox's nextSeq when it opened (see renumber.ts). */
  #nextSeqAtOpen = 1;
  #ackedSeq = 0;

  constructor(options: ResolvedOptions, stats: StatsCounters, hooks: DeliveryHooks) {
    this.#o = options;
    this.#outbox = options.outbox;
    this.#stats = stats;
    this.#hooks = hooks;
    this.window = new SendWindow(options.maxInFlightMessages, options.maxInFlightBytes);
    const clock = options.clock;
    this.#wallNow = () => clock.wallNow?.() ?? Date.now();
    this.#admission = new Admission(options, {
      queued: () => this.queuedMessages,
      queuedBytes: () => this.queuedBytes,
      inFlight: (seq) => seq <= this.#sentSeq && this.window.has(seq),
      dropForRoom: (seq) => this.#drop(seq, "full"),
      enqueue: (p) => this.#enqueue(p),
    });
    this.#flush = new FlushWaiters(options.clock, {
      ready: () => this.#ready,
      batchesDone: () => this.#batchesDone,
      nextSeq: () => this.#outbox.nextSeq,
      oldestSeq: () => this.#outbox.oldest?.seq,
      queued: () => this.queuedMessages,
    });
    this.#expiry = new ExpirySchedule(options.clock, this.#wallNow, () => this.#expireDue());
  }

  get queuedMessages(): number {
    return this.#outbox.count + this.#reservedCount;
  }

  get queuedBytes(): number {
    return this.#outbox.bytes + this.#reservedBytes;
  }

  get waitingSends(): number {
    return this.#admission.waiting;
  }

  oldestCreatedAtMs(): number | undefined {
    return this.#outbox.oldest?.createdAtMs ?? this.#pending[0]?.createdAtMs;
  }

  /** The outbox is open: appends may start. */
  ready(): void {
    this.#ready = true;
    if (this.#outbox.oldest !== undefined) this.#recoveredUpTo = this.#outbox.nextSeq - 1;
    this.#nextSeqAtOpen = this.#outbox.nextSeq;
    this.#scheduleAppend();
    this.#flush.check(); // a flush() made before the outbox opened also covers what it recovered from disk
  }

  send(data: Uint8Array | string, options: SendOptions | undefined): Promise<SendResult> {
    if (!this.#accepting) return Promise.reject(this.#closed());
    let bytes: Uint8Array;
    let parsed: ReturnType<typeof parseSendOptions>;
    try {
      bytes = copyData(data);
      parsed = parseSendOptions(options);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const { maxFrameBytes, maxQueuedBytes } = this.#o;
    if (tooLargeForFrame(bytes.length, maxFrameBytes) || bytes.length > maxQueuedBytes) {
      return Promise.reject(
        new OutlastError(
          "OUTLAST_MESSAGE_TOO_LARGE",
          `message of ${bytes.length} bytes does not fit in a frame of maxFrameBytes ${maxFrameBytes} (or in maxQueuedBytes ${maxQueuedBytes}); split it or raise the limit on both sides`,
          { details: { bytes: bytes.length, maxFrameBytes } },
        ),
      );
    }
    const signal = parsed.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    // Record times outlive the process with a durable outbox: wall clock, one reading per append
    // batch (its sends run in one turn), whatever the clock.
    const now = this.#appendScheduled ? this.#batchWallMs : (this.#batchWallMs = this.#wallNow());
    const p = new PendingSend(bytes, parsed.important, now, now + parsed.ttlMs, parsed.waitAck, signal);
    if (signal !== undefined) {
      p.onAbort = () => {
        p.settle(signal.reason, undefined);
        this.#admission.remove(p);
      };
      signal.addEventListener("abort", p.onAbort, { once: true });
    }
    this.#admission.offer(p);
    return p.promise;
  }

  #enqueue(p: PendingSend): void {
    this.#pending.push(p);
    this.#reservedCount++;
    this.#reservedBytes += p.data.length;
    this.#scheduleAppend();
  }

  #scheduleAppend(): void {
    if (this.#appendScheduled || !this.#ready || this.#pending.length === 0) return;
    this.#appendScheduled = true;
    queueMicrotask(() => this.#appendNow());
  }

  #appendNow(): void {
    this.#appendScheduled = false;
    if (!this.#ready || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const batchId = ++this.#batchesIssued;
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) bytes += (batch[i] as PendingSend).data.length;
    this.#outbox.append(batch).then(
      (first) => {
        this.#reservedCount -= batch.length;
        this.#reservedBytes -= bytes;
        this.#batchesDone = batchId;
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i] as PendingSend;
          const seq = first + i;
          if (!p.important) this.#admission.storedBestEffort(seq);
          this.#expiry.add(p.expiresAtMs, seq);
          if (p.settled) continue; // aborted while being stored: it is stored anyway
          if (p.waitAck) this.#acks.add(seq, p);
          else p.settle(undefined, seq);
        }
        this.#flush.batchStored(batchId, first + batch.length - 1);
        this.#expiry.arm();
        this.#schedulePump();
        this.#flush.check();
      },
      (err: unknown) => {
        this.#reservedCount -= batch.length;
        this.#reservedBytes -= bytes;
        this.#batchesDone = batchId;
        for (const p of batch) p.settle(err, undefined);
        this.#hooks.storeFailed(err);
        this.#flush.check();
        this.#admission.admitWaiting();
      },
    );
  }

  // ---- the link ----

  attach(connection: Link): void {
    this.#connection = connection;
  }

  detach(): void {
    this.#connection = undefined;
    this.window.clear();
    this.#sentSeq = 0;
  }

  /**
   * WELCOME: records the server already processed are acknowledged (counted as
   * duplicates skipped), the rest is resent in order after `lastSeq`.
   */
  async welcome(lastSeq: number): Promise<void> {
    const after = renumberAfter(lastSeq, {
      durable: this.#outbox.durable,
      nextSeqAtOpen: this.#nextSeqAtOpen,
      highestSentEver: this.#highestSentEver,
    });
    if (after !== undefined) await this.#renumber(after, lastSeq + 1);
    const skipped = this.#ackRecords(lastSeq);
    this.#stats.duplicatesSkipped += skipped;
    this.#sentSeq = lastSeq;
    this.#schedulePump();
  }

  /**
   * The server knows this clientId from another outbox (see renumber.ts): the
   * records after `afterSeq` take numbers from `firstNewSeq`, or the server
   * would skip them as duplicates; the sends waiting for them follow.
   */
  async #renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    const moved = this.#outbox.read(afterSeq, Number.MAX_SAFE_INTEGER, Infinity).map((r) => r.seq);
    await this.#outbox.renumber(afterSeq, firstNewSeq);
    const remap = renumberMap(moved, firstNewSeq);
    this.#acks.renumber(remap);
    this.#admission.renumbered(remap);
    this.#expiry.clear();
    for (const r of this.#outbox.read(0, Number.MAX_SAFE_INTEGER, Infinity)) this.#expiry.add(r.expiresAtMs, r.seq);
  }

  ack(seq: number, duplicates: number): void {
    this.#stats.duplicatesSkipped += duplicates;
    if (seq <= this.#ackedSeq) return;
    const now = this.#o.clock.now();
    const wants = this.#hooks.wantsDelivered();
    this.window.ackUpTo(seq, (s, sentAt) => {
      const latency = now - sentAt;
      this.#stats.recordLatency(latency);
      if (wants) this.#hooks.delivered(s, latency);
    });
    this.#ackRecords(seq);
    this.#schedulePump();
  }

  /** Acknowledges stored records <= seq and settles their waiters; returns how many records. */
  #ackRecords(seq: number): number {
    if (seq > this.#ackedSeq) this.#ackedSeq = seq;
    const removed = this.#outbox.acknowledge(seq);
    this.#stats.acknowledged += removed;
    this.#acks.acknowledge(seq);
    this.#admission.acknowledged(seq);
    if (removed > 0) {
      this.#admission.admitWaiting();
      this.#flush.check();
    }
    return removed;
  }

  #drop(seq: number, reason: DropReason): void {
    if (!this.#outbox.drop(seq, reason)) return;
    this.#stats.drops[reason]++;
    this.#acks.get(seq)?.settle(dropError(seq, reason), undefined);
    this.#hooks.dropped(seq, reason);
    this.#flush.check();
  }

  #expireDue(): void {
    const now = this.#wallNow();
    for (let seq = this.#expiry.popDue(now); seq !== undefined; seq = this.#expiry.popDue(now)) {
      // In flight: the server may be processing it; if the link is lost, the resend path drops it.
      if (this.window.has(seq)) continue;
      this.#drop(seq, "expired");
    }
    this.#admission.admitWaiting();
    this.#expiry.arm();
  }

  // ---- sending ----

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#connection === undefined) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.pump();
    });
  }

  /** Writes what the window allows. */
  pump(): void {
    const conn = this.#connection;
    if (conn === undefined || !conn.isOpen || conn.writableNeedDrain) return;
    const w = this.window;
    const maxRecordBytes = conn.maxRecordBytes;
    const maxInFlight = conn.maxInFlightMessages;
    for (;;) {
      const free = Math.min(w.freeMessages, maxInFlight - w.count, conn.maxBatchMessages ?? Infinity);
      if (free <= 0) return;
      const records = this.#outbox.read(this.#sentSeq, free, w.maxBytes - w.bytes);
      const first = records[0];
      if (first === undefined) return;
      if (w.count > 0 && first.data.length > w.maxBytes - w.bytes) return;
      const now = this.#o.clock.now();
      const wallNow = this.#wallNow();
      // Decided before this batch raises highestSentEver: what an earlier link or process may have written.
      const maybeSentUpTo = Math.max(this.#highestSentEver, this.#recoveredUpTo);
      let out: OutboxRecord[] | undefined;
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as OutboxRecord;
        const drop: DropReason | undefined =
          r.expiresAtMs <= wallNow ? "expired" : r.data.length > maxRecordBytes ? "tooLarge" : undefined;
        if (drop !== undefined) {
          out ??= records.slice(0, i);
          this.#sentSeq = r.seq;
          this.#drop(r.seq, drop);
          continue;
        }
        out?.push(r);
        w.add(r.seq, r.data.length, now);
        if (r.seq <= this.#highestSentEver) this.#stats.resends++;
        else this.#highestSentEver = r.seq;
      }
      const batch = out ?? records;
      this.#sentSeq = (records[records.length - 1] as OutboxRecord).seq;
      this.#stats.sent += batch.length;
      if (batch.length > 0 && !conn.writeRecords(batch, maybeSentUpTo)) return;
      if (conn.writableNeedDrain) return;
    }
  }

  /** The socket drained. */
  drained(): void {
    this.pump();
  }

  // ---- flush / close ----

  /** Resolves when everything accepted so far is acknowledged (or dropped). */
  flush(timeoutMs: number | undefined): Promise<void> {
    return this.#flush.add(this.#batchesIssued + (this.#pending.length > 0 ? 1 : 0), timeoutMs);
  }

  /** No more send(); sends waiting for room are rejected with `err`. */
  stopAccepting(err: unknown): void {
    this.#accepting = false;
    this.#closedError = err;
    this.#admission.rejectWaiting(err);
  }

  /** Rejects everything still pending with `err`; stops timers. */
  failAll(err: unknown): void {
    this.stopAccepting(err);
    for (const p of this.#pending) p.settle(err, undefined);
    this.#pending = [];
    this.#acks.failAll(err);
    this.#flush.rejectAll(err);
    this.#expiry.stop();
    this.#connection = undefined;
  }

  #closed(): Error {
    if (this.#closedError instanceof Error) return this.#closedError;
    return new OutlastError("OUTLAST_CLOSED", "the client is closed; create a new one with connect()");
  }
}
