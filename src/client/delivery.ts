/**
 * The message side of the client: admission (queue limits, whenFull), batched
 * appends to the outbox, the send window, acknowledgements, drops (full,
 * expired, too large) and flush. Knows nothing of reconnecting: the client
 * attaches a Connection when one is open and detaches it when it is lost.
 */

import { invalidOption, OutlastError } from "../errors/outlast-error.js";
import type { Timer } from "../errors/clock.js";
import { MESSAGE_HEADER_BYTES } from "../protocol/limits.js";
import type { DropReason, Outbox, OutboxRecord } from "../outbox/outbox.js";
import { RingDeque } from "../outbox/ring-deque.js";
import type { Connection } from "./connection.js";
import { ExpiryHeap } from "./expiry-heap.js";
import type { ResolvedOptions } from "./options.js";
import { SendWindow } from "./send-window.js";
import type { StatsCounters } from "./stats.js";

export interface SendOptions {
  /** "acknowledged" (default): resolve when the server's handler succeeded; "stored": when the outbox has it. */
  readonly wait?: "stored" | "acknowledged";
  /** Default true. false: best-effort, dropped first when the queue is full. */
  readonly important?: boolean;
  /** Drop the message (reason "expired") when it is not acknowledged within this many ms. */
  readonly ttlMs?: number;
  /** Aborts waiting for room; after the message is stored, only stops waiting for the acknowledgement. */
  readonly signal?: AbortSignal;
}

export interface SendResult {
  readonly seq: number;
}

export interface DeliveryHooks {
  dropped(seq: number, reason: DropReason): void;
  /** Whether anyone listens for per-message `delivered` events (they cost time). */
  wantsDelivered(): boolean;
  delivered(seq: number, latencyMs: number): void;
  /** The outbox failed to store a batch (a durable outbox's I/O error). */
  storeFailed(err: unknown): void;
}

/** One send() call from admission until settled. Doubles as the OutboxEntry handed to append. */
interface Pending {
  readonly data: Uint8Array;
  readonly important: boolean;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly waitAck: boolean;
  readonly resolve: (r: SendResult) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
  /** Assigned once stored. */
  seq: number;
}

interface FlushWaiter {
  needBatch: number;
  target: number | undefined;
  timer: Timer | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const DROP_ERRORS: Record<DropReason, ["OUTLAST_QUEUE_FULL" | "OUTLAST_MESSAGE_EXPIRED" | "OUTLAST_MESSAGE_TOO_LARGE", string]> = {
  full: ["OUTLAST_QUEUE_FULL", "dropped to make room in a full queue (best-effort message)"],
  expired: ["OUTLAST_MESSAGE_EXPIRED", "dropped: not acknowledged within its ttlMs"],
  tooLarge: ["OUTLAST_MESSAGE_TOO_LARGE", "dropped: larger than the server's maxFrameBytes"],
};

export class Delivery {
  readonly #o: ResolvedOptions;
  readonly #outbox: Outbox;
  readonly #stats: StatsCounters;
  readonly #hooks: DeliveryHooks;
  readonly window: SendWindow;
  #connection: Connection | undefined;
  #ready = false;
  #accepting = true;
  #closedError: unknown;

  #pending: Pending[] = [];
  #reservedCount = 0;
  #reservedBytes = 0;
  #appendScheduled = false;
  #batchesIssued = 0;
  #batchesDone = 0;
  readonly #admission = new RingDeque<Pending>();
  /** Stored messages waiting for their acknowledgement, in seq order (settled ones are skipped lazily). */
  #waiters = new RingDeque<Pending>(1024);
  #bestEffort = new RingDeque<number>();
  #expiry = new ExpiryHeap();
  #expiryTimer: Timer | undefined;
  #expiryTimerAt = Infinity;
  readonly #flushWaiters = new Set<FlushWaiter>();
  #pumpScheduled = false;

  /** Highest seq written on the current connection. */
  #sentSeq = 0;
  #highestSentEver = 0;
  #ackedSeq = 0;

  constructor(options: ResolvedOptions, stats: StatsCounters, hooks: DeliveryHooks) {
    this.#o = options;
    this.#outbox = options.outbox;
    this.#stats = stats;
    this.#hooks = hooks;
    this.window = new SendWindow(options.maxInFlightMessages, options.maxInFlightBytes);
  }

  get queuedMessages(): number {
    return this.#outbox.count + this.#reservedCount;
  }

  get queuedBytes(): number {
    return this.#outbox.bytes + this.#reservedBytes;
  }

  get waitingSends(): number {
    return this.#admission.length;
  }

  oldestCreatedAtMs(): number | undefined {
    return this.#outbox.oldest?.createdAtMs ?? this.#pending[0]?.createdAtMs;
  }

  /** The outbox is open: appends may start. */
  ready(): void {
    this.#ready = true;
    this.#scheduleAppend();
    this.#checkFlush(); // a flush() made before the outbox opened also covers what it recovered from disk
  }

  send(data: Uint8Array | string, options: SendOptions | undefined): Promise<SendResult> {
    if (!this.#accepting) return Promise.reject(this.#closed());
    let bytes: Uint8Array;
    let waitAck = true;
    let important = true;
    let expiresAtMs = Infinity;
    let signal: AbortSignal | undefined;
    const now = this.#wallNow(); // record times outlive the process with a durable outbox: wall clock
    try {
      if (typeof data === "string") bytes = Buffer.from(data, "utf8");
      else if (data instanceof Uint8Array) {
        // A private copy (the caller may reuse its buffer); allocUnsafe takes small ones from Node's pool.
        bytes = Buffer.allocUnsafe(data.length);
        bytes.set(data);
      }
      else return invalidOption("data", `must be a Uint8Array or a string, got ${typeof data}`);
      if (options !== undefined) {
        if (options.wait !== undefined) {
          if (options.wait !== "stored" && options.wait !== "acknowledged") invalidOption("wait", `must be "stored" or "acknowledged"`);
          waitAck = options.wait === "acknowledged";
        }
        if (options.important !== undefined) {
          if (typeof options.important !== "boolean") invalidOption("important", "must be a boolean");
          important = options.important;
        }
        if (options.ttlMs !== undefined) {
          if (typeof options.ttlMs !== "number" || !(options.ttlMs > 0)) invalidOption("ttlMs", `must be a number > 0, got ${String(options.ttlMs)}`);
          expiresAtMs = now + options.ttlMs;
        }
        signal = options.signal;
      }
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (MESSAGE_HEADER_BYTES - 5 + 1 + bytes.length > this.#o.maxFrameBytes || bytes.length > this.#o.maxQueuedBytes) {
      return Promise.reject(
        new OutlastError(
          "OUTLAST_MESSAGE_TOO_LARGE",
          `message of ${bytes.length} bytes does not fit in a frame of maxFrameBytes ${this.#o.maxFrameBytes} (or in maxQueuedBytes ${this.#o.maxQueuedBytes}); split it or raise the limit on both sides`,
          { details: { bytes: bytes.length, maxFrameBytes: this.#o.maxFrameBytes } },
        ),
      );
    }
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    return new Promise<SendResult>((resolve, reject) => {
      const p: Pending = {
        data: bytes,
        important,
        createdAtMs: now,
        expiresAtMs,
        waitAck,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        settled: false,
        seq: 0,
      };
      if (signal !== undefined) {
        p.onAbort = () => {
          this.#settle(p, signal.reason, undefined);
          this.#removeFromAdmission(p);
        };
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      if (this.#admission.length === 0 && this.#makeRoom(bytes.length)) {
        this.#enqueue(p);
      } else if (this.#o.whenFull === "reject") {
        this.#settle(
          p,
          new OutlastError(
            "OUTLAST_QUEUE_FULL",
            `the send queue is full (${this.queuedMessages} messages, ${this.queuedBytes} bytes; maxQueuedMessages ${this.#o.maxQueuedMessages}, maxQueuedBytes ${this.#o.maxQueuedBytes}); retry later or use whenFull "wait"`,
            { details: { queuedMessages: this.queuedMessages, queuedBytes: this.queuedBytes } },
          ),
          undefined,
        );
      } else {
        this.#admission.push(p);
      }
    });
  }

  /** True when a message of `bytes` fits, after dropping best-effort messages if needed. */
  #makeRoom(bytes: number): boolean {
    const fits = (): boolean =>
      this.queuedMessages + 1 <= this.#o.maxQueuedMessages && this.queuedBytes + bytes <= this.#o.maxQueuedBytes;
    while (!fits()) {
      const seq = this.#bestEffort.shift();
      if (seq === undefined) return false;
      if (seq <= this.#sentSeq && this.window.has(seq)) continue; // in flight: its ack is coming
      this.#drop(seq, "full");
    }
    return true;
  }

  #enqueue(p: Pending): void {
    this.#pending.push(p);
    this.#reservedCount++;
    this.#reservedBytes += p.data.length;
    this.#scheduleAppend();
  }

  #admit(): void {
    while (this.#admission.length > 0) {
      const p = this.#admission.peekFirst() as Pending;
      if (p.settled) {
        this.#admission.shift();
        continue;
      }
      if (!this.#makeRoom(p.data.length)) return;
      this.#admission.shift();
      this.#enqueue(p);
    }
  }

  #removeFromAdmission(p: Pending): void {
    for (let i = 0; i < this.#admission.length; i++) {
      if (this.#admission.at(i) === p) {
        this.#admission.removeAt(i);
        return;
      }
    }
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
    for (const p of batch) bytes += p.data.length;
    this.#outbox.append(batch).then(
      (first) => {
        this.#reservedCount -= batch.length;
        this.#reservedBytes -= bytes;
        this.#batchesDone = batchId;
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i] as Pending;
          const seq = first + i;
          p.seq = seq;
          if (!p.important) this.#bestEffort.push(seq);
          if (p.expiresAtMs !== Infinity) this.#expiry.push(p.expiresAtMs, seq);
          if (p.settled) continue; // aborted while being stored: it is stored anyway
          if (p.waitAck) this.#waiters.push(p);
          else this.#settle(p, undefined, seq);
        }
        for (const w of this.#flushWaiters) if (w.needBatch === batchId) w.target = first + batch.length - 1;
        this.#armExpiry();
        this.#schedulePump();
        this.#checkFlush();
      },
      (err: unknown) => {
        this.#reservedCount -= batch.length;
        this.#reservedBytes -= bytes;
        this.#batchesDone = batchId;
        for (const p of batch) this.#settle(p, err, undefined);
        this.#hooks.storeFailed(err);
        this.#checkFlush();
        this.#admit();
      },
    );
  }

  #settle(p: Pending, err: unknown, seq: number | undefined): void {
    if (p.settled) return;
    p.settled = true;
    if (p.onAbort !== undefined) p.signal?.removeEventListener("abort", p.onAbort);
    if (seq !== undefined && err === undefined) p.resolve({ seq });
    else p.reject(err);
  }

  // ---- the link ----

  attach(connection: Connection): void {
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
    const boundary = this.#outbox.durable ? (lastSeq >= this.#outbox.nextSeq ? 0 : Infinity) : this.#highestSentEver;
    if (lastSeq > boundary) await this.#renumber(boundary, lastSeq + 1);
    const skipped = this.#ackRecords(lastSeq);
    this.#stats.duplicatesSkipped += skipped;
    this.#sentSeq = lastSeq;
    this.#schedulePump();
  }

  /**
   * The server knows this clientId from another outbox (its lastSeq is ahead of
   * anything we sent): give our unsent records numbers after lastSeq, or the
   * server would skip them as duplicates.
   */
  async #renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    const moved = this.#outbox.read(afterSeq, Number.MAX_SAFE_INTEGER, Infinity).map((r) => r.seq);
    await this.#outbox.renumber(afterSeq, firstNewSeq);
    const remap = new Map<number, number>();
    moved.forEach((old, i) => remap.set(old, firstNewSeq + i));
    for (const p of this.#waiters) p.seq = remap.get(p.seq) ?? p.seq;
    const bestEffort = new RingDeque<number>();
    for (const seq of this.#bestEffort) bestEffort.push(remap.get(seq) ?? seq);
    this.#bestEffort = bestEffort;
    this.#expiry.clear();
    for (const r of this.#outbox.read(0, Number.MAX_SAFE_INTEGER, Infinity)) if (r.expiresAtMs !== Infinity) this.#expiry.push(r.expiresAtMs, r.seq);
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
    const waiters = this.#waiters;
    for (let p = waiters.peekFirst(); p !== undefined && p.seq <= seq; p = waiters.peekFirst()) {
      waiters.shift();
      this.#settle(p, undefined, p.seq);
    }
    while (this.#bestEffort.length > 0 && (this.#bestEffort.peekFirst() as number) <= seq) this.#bestEffort.shift();
    if (removed > 0) {
      this.#admit();
      this.#checkFlush();
    }
    return removed;
  }

  #drop(seq: number, reason: DropReason): void {
    if (!this.#outbox.drop(seq, reason)) return;
    this.#stats.drops[reason]++;
    const p = this.#waiterOf(seq);
    if (p !== undefined) {
      const [code, text] = DROP_ERRORS[reason];
      this.#settle(p, new OutlastError(code, `message ${seq} ${text}`, { details: { seq, reason } }), undefined);
    }
    this.#hooks.dropped(seq, reason);
    this.#checkFlush();
  }

  /** The unsettled waiter for `seq` (binary search; it stays in the deque, settled, until acknowledged past). */
  #waiterOf(seq: number): Pending | undefined {
    const w = this.#waiters;
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((w.at(mid) as Pending).seq < seq) lo = mid + 1;
      else hi = mid;
    }
    const p = w.at(lo);
    return p !== undefined && p.seq === seq && !p.settled ? p : undefined;
  }

  // ---- expiry ----

  #armExpiry(): void {
    const at = this.#expiry.peekAt();
    if (at >= this.#expiryTimerAt) return;
    if (this.#expiryTimer !== undefined) this.#o.clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryTimerAt = Infinity;
    if (at === Infinity) return;
    this.#expiryTimerAt = at;
    this.#expiryTimer = this.#o.clock.setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryTimerAt = Infinity;
      this.#expireDue();
    }, at - this.#wallNow());
  }

  /** Wall-clock ms: record creation and expiry times are compared with this. */
  #wallNow(): number {
    return this.#o.clock.wallNow?.() ?? Date.now();
  }

  #expireDue(): void {
    const now = this.#wallNow();
    while (this.#expiry.peekAt() <= now) {
      const seq = this.#expiry.pop() as number;
      // In flight: the server may be processing it; if the link is lost, the resend path drops it.
      if (this.window.has(seq)) continue;
      this.#drop(seq, "expired");
    }
    this.#admit();
    this.#armExpiry();
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
    const peerMax = conn.peerMaxFrameBytes;
    while (w.freeMessages > 0) {
      const records = this.#outbox.read(this.#sentSeq, w.freeMessages, w.maxBytes - w.bytes);
      const first = records[0];
      if (first === undefined) return;
      if (w.count > 0 && first.data.length > w.maxBytes - w.bytes) return;
      const now = this.#o.clock.now();
      const wallNow = this.#wallNow();
      let out: OutboxRecord[] | undefined;
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as OutboxRecord;
        const drop: DropReason | undefined =
          r.expiresAtMs <= wallNow ? "expired" : MESSAGE_HEADER_BYTES - 5 + 1 + r.data.length > peerMax ? "tooLarge" : undefined;
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
      if (batch.length > 0 && !conn.writeMessages(batch)) return;
    }
  }

  /** The socket drained. */
  drained(): void {
    this.pump();
  }

  // ---- flush / close ----

  /** Resolves when everything accepted so far is acknowledged (or dropped). */
  flush(timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const needBatch = this.#batchesIssued + (this.#pending.length > 0 ? 1 : 0);
      const w: FlushWaiter = {
        needBatch,
        target: this.#ready && needBatch <= this.#batchesDone ? this.#outbox.nextSeq - 1 : undefined,
        timer: undefined,
        resolve,
        reject,
      };
      this.#flushWaiters.add(w);
      if (timeoutMs !== undefined && timeoutMs !== Infinity) {
        w.timer = this.#o.clock.setTimeout(() => {
          this.#flushWaiters.delete(w);
          reject(
            new OutlastError("OUTLAST_TIMEOUT", `flush did not finish within ${timeoutMs} ms (${this.queuedMessages} messages still queued)`, {
              details: { timeoutMs, queuedMessages: this.queuedMessages },
            }),
          );
        }, timeoutMs);
      }
      this.#checkFlush();
    });
  }

  #checkFlush(): void {
    if (this.#flushWaiters.size === 0 || !this.#ready) return;
    const oldest = this.#outbox.oldest;
    for (const w of this.#flushWaiters) {
      if (w.target === undefined) {
        if (w.needBatch > this.#batchesDone) continue;
        w.target = this.#outbox.nextSeq - 1;
      }
      if (oldest === undefined || oldest.seq > w.target) {
        this.#flushWaiters.delete(w);
        if (w.timer !== undefined) this.#o.clock.clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  /** No more send(); sends waiting for room are rejected with `err`. */
  stopAccepting(err: unknown): void {
    this.#accepting = false;
    this.#closedError = err;
    for (const p of this.#admission) this.#settle(p, err, undefined);
    this.#admission.clear();
  }

  /** Rejects everything still pending with `err`; stops timers. */
  failAll(err: unknown): void {
    this.stopAccepting(err);
    for (const p of this.#pending) this.#settle(p, err, undefined);
    this.#pending = [];
    for (const p of this.#waiters) this.#settle(p, err, undefined);
    this.#waiters.clear();
    for (const w of this.#flushWaiters) {
      if (w.timer !== undefined) this.#o.clock.clearTimeout(w.timer);
      w.reject(err);
    }
    this.#flushWaiters.clear();
    if (this.#expiryTimer !== undefined) this.#o.clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryTimerAt = Infinity;
    this.#connection = undefined;
  }

  #closed(): Error {
    if (this.#closedError instanceof Error) return this.#closedError;
    return new OutlastError("OUTLAST_CLOSED", "the client is closed; create a new one with connect()");
  }
}
