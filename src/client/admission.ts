/**
 * Admission: the queue limits (maxQueuedMessages, maxQueuedBytes) and
 * whenFull. A send() that fits is queued at once; when the queue is full the
 * oldest stored best-effort messages that are not in flight are dropped
 * ("full") to make room; if that is not enough the send waits in order
 * (whenFull "wait") or is rejected with OUTLAST_QUEUE_FULL ("reject").
 */

import { OutlastError } from "../errors/outlast-error.js";
import { RingDeque } from "../outbox/ring-deque.js";
import type { PendingSend } from "./pending-send.js";

export interface AdmissionLimits {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly whenFull: "wait" | "reject";
}

/** What admission needs from delivery. */
export interface AdmissionHost {
  /** Messages and bytes stored or being stored. */
  queued(): number;
  queuedBytes(): number;
  /** True when the stored message `seq` is written and not acknowledged: its ack is coming, it is not dropped. */
  inFlight(seq: number): boolean;
  /** Drops a stored best-effort message to make room (reason "full"). */
  dropForRoom(seq: number): void;
  /** Queues an admitted send for the outbox. */
  enqueue(p: PendingSend): void;
}

export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #host: AdmissionHost;
  /** send() calls waiting for room, in order. */
  readonly #waiting = new RingDeque<PendingSend>();
  /** Stored best-effort seqs, oldest first: dropped first when full. */
  #bestEffort = new RingDeque<number>();

  constructor(limits: AdmissionLimits, host: AdmissionHost) {
    this.#limits = limits;
    this.#host = host;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A new send(): queued, waiting for room, or rejected (OUTLAST_QUEUE_FULL). */
  offer(p: PendingSend): void {
    if (this.#waiting.length === 0 && this.#makeRoom(p.data.length)) {
      this.#host.enqueue(p);
    } else if (this.#limits.whenFull === "reject") {
      const queuedMessages = this.#host.queued();
      const queuedBytes = this.#host.queuedBytes();
      const { maxQueuedMessages, maxQueuedBytes } = this.#limits;
      p.settle(
        new OutlastError(
          "OUTLAST_QUEUE_FULL",
          `the send queue is full (${queuedMessages} messages, ${queuedBytes} bytes; maxQueuedMessages ${maxQueuedMessages}, maxQueuedBytes ${maxQueuedBytes}); retry later or use whenFull "wait"`,
          { details: { queuedMessages, queuedBytes } },
        ),
        undefined,
      );
    } else {
      this.#waiting.push(p);
    }
  }

  /** Room may have been made: queue the waiting sends that fit now, in order. */
  admitWaiting(): void {
    const waiting = this.#waiting;
    while (waiting.length > 0) {
      const p = waiting.peekFirst() as PendingSend;
      if (p.settled) {
        waiting.shift();
        continue;
      }
      if (!this.#makeRoom(p.data.length)) return;
      waiting.shift();
      this.#host.enqueue(p);
    }
  }

  /** An aborted waiting send. */
  remove(p: PendingSend): void {
    const waiting = this.#waiting;
    for (let i = 0; i < waiting.length; i++) {
      if (waiting.at(i) === p) {
        waiting.removeAt(i);
        return;
      }
    }
  }

  /** A best-effort message was stored as `seq` (seqs arrive in increasing order). */
  storedBestEffort(seq: number): void {
    this.#bestEffort.push(seq);
  }

  /** Records up to `seq` are gone (acknowledged). */
  acknowledged(seq: number): void {
    const be = this.#bestEffort;
    while (be.length > 0 && (be.peekFirst() as number) <= seq) be.shift();
  }

  /** Stored records got new seqs. */
  renumbered(remap: ReadonlyMap<number, number>): void {
    const bestEffort = new RingDeque<number>();
    for (const seq of this.#bestEffort) bestEffort.push(remap.get(seq) ?? seq);
    this.#bestEffort = bestEffort;
  }

  /** Rejects every waiting send with `err`. */
  rejectWaiting(err: unknown): void {
    for (const p of this.#waiting) p.settle(err, undefined);
    this.#waiting.clear();
  }

  /** True when a message of `bytes` fits, after dropping best-effort messages if needed. */
  #makeRoom(bytes: number): boolean {
    const host = this.#host;
    const { maxQueuedMessages, maxQueuedBytes } = this.#limits;
    while (host.queued() + 1 > maxQueuedMessages || host.queuedBytes() + bytes > maxQueuedBytes) {
      const seq = this.#bestEffort.shift();
      if (seq === undefined) return false;
      if (host.inFlight(seq)) continue; // its ack is coming
      host.dropForRoom(seq);
    }
    return true;
  }
}
