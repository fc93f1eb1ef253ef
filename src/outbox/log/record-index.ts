/**
 * The in-memory view of a durable outbox: every stored, unacknowledged record
 * (the Outbox interface reads synchronously) in a RecordQueue, the segment each
 * one lives in as its tag, and how many live records each segment still holds,
 * so a segment whose records are all acknowledged or dropped can be deleted.
 */

import type { OutboxRecord } from "../outbox.js";
import { RecordQueue } from "../record-queue.js";

export class RecordIndex {
  readonly #queue: RecordQueue;
  readonly #live = new Map<number, number>();

  /** `onSegmentEmpty` is called when a segment's last live record goes away. */
  constructor(private readonly onSegmentEmpty: (segment: number) => void = () => {}) {
    this.#queue = new RecordQueue({ onRelease: (segment) => this.#release(segment) });
  }

  get count(): number {
    return this.#queue.count;
  }

  get bytes(): number {
    return this.#queue.bytes;
  }

  get oldest(): OutboxRecord | undefined {
    return this.#queue.oldest;
  }

  /** Highest seq held (dropped or not), 0 when empty. */
  get lastSeq(): number {
    return this.#queue.lastSeq;
  }

  liveIn(segment: number): number {
    return this.#live.get(segment) ?? 0;
  }

  /** Adds a record after every held one (its seq must be higher). */
  push(record: OutboxRecord, segment: number): void {
    this.#queue.push(record, segment);
    this.#live.set(segment, (this.#live.get(segment) ?? 0) + 1);
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): OutboxRecord[] {
    return this.#queue.read(afterSeq, maxRecords, maxBytes);
  }

  get(seq: number): OutboxRecord | undefined {
    return this.#queue.get(seq);
  }

  acknowledge(upToSeq: number): number {
    return this.#queue.acknowledge(upToSeq);
  }

  drop(seq: number): boolean {
    return this.#queue.drop(seq);
  }

  /** Returns the seq after the last renumbered record. */
  renumber(afterSeq: number, firstNewSeq: number): number {
    return this.#queue.renumber(afterSeq, firstNewSeq);
  }

  /** The live records, in order (for a checkpoint). */
  liveRecords(): OutboxRecord[] {
    return this.#queue.live();
  }

  /** After a checkpoint: every held record now lives in `segment`. */
  moveAllTo(segment: number): void {
    const records = this.#queue.live();
    this.#queue.clear();
    this.#live.clear();
    for (const r of records) this.push(r, segment);
  }

  #release(segment: number): void {
    const n = (this.#live.get(segment) ?? 1) - 1;
    this.#live.set(segment, n);
    if (n === 0) this.onSegmentEmpty(segment);
  }
}
