/**
 * The stored, unacknowledged records of an outbox, in memory and in seq order:
 * a ring deque, with dropped records marked until they reach the front.
 * Shared by MemoryOutbox and the durable outbox's in-memory index. O(1)
 * amortized per operation, except `read`/`get`/`drop`, which find their place
 * by binary search.
 *
 * A record may carry a numeric tag (the durable outbox: the segment it lives
 * in); `onRelease(tag)` is called when a record that was live leaves (acknowledged
 * or dropped). Untagged queues keep no tags and pay nothing for them.
 */

import type { OutboxRecord } from "./outbox.js";
import { RingDeque } from "./ring-deque.js";

export interface RecordQueueOptions {
  /** Keep a tag per record and call this when a live record leaves. */
  readonly onRelease?: (tag: number) => void;
}

export class RecordQueue {
  readonly #records = new RingDeque<OutboxRecord>();
  /** Parallel to #records when tagged; undefined otherwise. */
  readonly #tags: RingDeque<number> | undefined;
  readonly #onRelease: ((tag: number) => void) | undefined;
  readonly #dropped = new Set<number>();
  #bytes = 0;

  constructor(options: RecordQueueOptions = {}) {
    this.#onRelease = options.onRelease;
    this.#tags = options.onRelease === undefined ? undefined : new RingDeque<number>();
  }

  /** Live (not dropped) records. */
  get count(): number {
    return this.#records.length - this.#dropped.size;
  }

  /** Payload bytes of the live records. */
  get bytes(): number {
    return this.#bytes;
  }

  get oldest(): OutboxRecord | undefined {
    return this.#records.peekFirst();
  }

  /** Highest seq held (dropped or not), 0 when empty. */
  get lastSeq(): number {
    return this.#records.peekLast()?.seq ?? 0;
  }

  /** Adds a record after every held one (its seq must be higher). */
  push(record: OutboxRecord, tag = 0): void {
    this.#records.push(record);
    this.#tags?.push(tag);
    this.#bytes += record.data.length;
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    const n = this.#records.length;
    let bytes = 0;
    for (let i = this.#records.indexAfterSeq(afterSeq); i < n && out.length < maxRecords; i++) {
      const r = this.#records.at(i) as OutboxRecord;
      if (this.#dropped.size > 0 && this.#dropped.has(r.seq)) continue;
      if (out.length > 0 && bytes + r.data.length > maxBytes) break;
      bytes += r.data.length;
      out.push(r);
    }
    return out;
  }

  get(seq: number): OutboxRecord | undefined {
    const r = this.#records.at(this.#records.indexAfterSeq(seq - 1));
    if (r === undefined || r.seq !== seq || this.#dropped.has(seq)) return undefined;
    return r;
  }

  /** Removes every record with seq <= `upToSeq`; returns how many live ones. */
  acknowledge(upToSeq: number): number {
    let removed = 0;
    for (;;) {
      const r = this.#records.peekFirst();
      if (r === undefined || r.seq > upToSeq) break;
      this.#records.shift();
      const tag = this.#tags?.shift();
      if (this.#dropped.size > 0 && this.#dropped.delete(r.seq)) continue;
      this.#bytes -= r.data.length;
      if (tag !== undefined) this.#onRelease?.(tag);
      removed++;
    }
    this.#purgeFront();
    return removed;
  }

  /** Drops one live record; false when there is none with that seq. */
  drop(seq: number): boolean {
    const i = this.#records.indexAfterSeq(seq - 1);
    const r = this.#records.at(i);
    if (r === undefined || r.seq !== seq || this.#dropped.has(seq)) return false;
    this.#bytes -= r.data.length;
    const tag = this.#tags?.at(i);
    if (tag !== undefined) this.#onRelease?.(tag);
    if (i === 0) {
      this.#records.shift();
      this.#tags?.shift();
      this.#purgeFront();
    } else {
      this.#dropped.add(seq);
    }
    return true;
  }

  /**
   * Gives the live records after `afterSeq` consecutive seqs from `firstNewSeq`
   * (new objects: the old ones keep their seq); returns the seq after the last.
   */
  renumber(afterSeq: number, firstNewSeq: number): number {
    const start = this.#records.indexAfterSeq(afterSeq);
    const records: OutboxRecord[] = [];
    const tags: number[] = [];
    let next = firstNewSeq;
    for (let i = 0; i < this.#records.length; i++) {
      const r = this.#records.at(i) as OutboxRecord;
      if (this.#dropped.has(r.seq)) {
        if (i >= start) continue;
        records.push(r);
      } else if (i < start) {
        records.push(r);
      } else {
        records.push({
          seq: next++,
          data: r.data,
          important: r.important,
          createdAtMs: r.createdAtMs,
          expiresAtMs: r.expiresAtMs,
        });
      }
      tags.push(this.#tags?.at(i) ?? 0);
    }
    const droppedBefore = [...this.#dropped].filter((s) => s <= afterSeq);
    this.#dropped.clear();
    for (const s of droppedBefore) this.#dropped.add(s);
    this.#records.clear();
    this.#tags?.clear();
    records.forEach((r, i) => {
      this.#records.push(r);
      this.#tags?.push(tags[i] as number);
    });
    return next;
  }

  /** The live records, in order. */
  live(): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    for (const r of this.#records) if (!this.#dropped.has(r.seq)) out.push(r);
    return out;
  }

  /** Forgets every record (no onRelease calls). */
  clear(): void {
    this.#records.clear();
    this.#tags?.clear();
    this.#dropped.clear();
    this.#bytes = 0;
  }

  #purgeFront(): void {
    while (this.#dropped.size > 0) {
      const r = this.#records.peekFirst();
      if (r === undefined || !this.#dropped.delete(r.seq)) break;
      this.#records.shift();
      this.#tags?.shift();
    }
  }
}
