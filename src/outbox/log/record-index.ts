/**
 * The in-memory view of a durable outbox: every stored, unacknowledged record
 * (the Outbox interface reads synchronously), the segment each one lives in,
 * and how many live records each segment still holds, so a segment whose
 * records are all acknowledged or dropped can be deleted.
 * Same algorithm as MemoryOutbox: a ring deque in seq order, dropped records
 * marked until they reach the front.
 */

import type { OutboxRecord } from "../outbox.js";
import { RingDeque } from "../ring-deque.js";

export class RecordIndex {
  readonly #records = new RingDeque<OutboxRecord>(1024);
  readonly #segments = new RingDeque<number>(1024);
  readonly #dropped = new Set<number>();
  readonly #live = new Map<number, number>();
  #bytes = 0;

  /** Called when a segment's last live record goes away. */
  constructor(private readonly onSegmentEmpty: (segment: number) => void = () => {}) {}

  get count(): number {
    return this.#records.length - this.#dropped.size;
  }

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

  liveIn(segment: number): number {
    return this.#live.get(segment) ?? 0;
  }

  /** Adds a record after every held one (its seq must be higher). */
  push(record: OutboxRecord, segment: number): void {
    this.#records.push(record);
    this.#segments.push(segment);
    this.#bytes += record.data.length;
    this.#live.set(segment, (this.#live.get(segment) ?? 0) + 1);
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    const n = this.#records.length;
    let bytes = 0;
    for (let i = this.#indexAfter(afterSeq); i < n && out.length < maxRecords; i++) {
      const r = this.#records.at(i) as OutboxRecord;
      if (this.#dropped.size > 0 && this.#dropped.has(r.seq)) continue;
      if (out.length > 0 && bytes + r.data.length > maxBytes) break;
      bytes += r.data.length;
      out.push(r);
    }
    return out;
  }

  get(seq: number): OutboxRecord | undefined {
    const r = this.#records.at(this.#indexAfter(seq - 1));
    if (r === undefined || r.seq !== seq || this.#dropped.has(seq)) return undefined;
    return r;
  }

  acknowledge(upToSeq: number): number {
    let removed = 0;
    for (;;) {
      const r = this.#records.peekFirst();
      if (r === undefined || r.seq > upToSeq) break;
      this.#records.shift();
      const segment = this.#segments.shift() as number;
      if (this.#dropped.size > 0 && this.#dropped.delete(r.seq)) continue;
      this.#bytes -= r.data.length;
      this.#release(segment);
      removed++;
    }
    this.#purgeFront();
    return removed;
  }

  drop(seq: number): boolean {
    const i = this.#indexAfter(seq - 1);
    const r = this.#records.at(i);
    if (r === undefined || r.seq !== seq || this.#dropped.has(seq)) return false;
    this.#bytes -= r.data.length;
    this.#release(this.#segments.at(i) as number);
    if (i === 0) {
      this.#records.shift();
      this.#segments.shift();
      this.#purgeFront();
    } else {
      this.#dropped.add(seq);
    }
    return true;
  }

  /** MemoryOutbox.renumber's algorithm; returns the seq after the last renumbered record. */
  renumber(afterSeq: number, firstNewSeq: number): number {
    const start = this.#indexAfter(afterSeq);
    const records: OutboxRecord[] = [];
    const segments: number[] = [];
    let next = firstNewSeq;
    for (let i = 0; i < this.#records.length; i++) {
      const r = this.#records.at(i) as OutboxRecord;
      const segment = this.#segments.at(i) as number;
      if (this.#dropped.has(r.seq)) {
        if (i >= start) continue;
        records.push(r);
      } else if (i < start) {
        records.push(r);
      } else {
        records.push({ ...r, seq: next++ });
      }
      segments.push(segment);
    }
    const droppedBefore = [...this.#dropped].filter((s) => s <= afterSeq);
    this.#dropped.clear();
    for (const s of droppedBefore) this.#dropped.add(s);
    this.#records.clear();
    this.#segments.clear();
    records.forEach((r, i) => {
      this.#records.push(r);
      this.#segments.push(segments[i] as number);
    });
    return next;
  }

  /** The live records, in order (for a checkpoint). */
  liveRecords(): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    for (const r of this.#records) if (!this.#dropped.has(r.seq)) out.push(r);
    return out;
  }

  /** After a checkpoint: every held record now lives in `segment`. */
  moveAllTo(segment: number): void {
    const records = [...this.#records].filter((r) => !this.#dropped.has(r.seq));
    this.#records.clear();
    this.#segments.clear();
    this.#dropped.clear();
    this.#live.clear();
    this.#bytes = 0;
    for (const r of records) this.push(r, segment);
  }

  forgetSegment(segment: number): void {
    this.#live.delete(segment);
  }

  #release(segment: number): void {
    const n = (this.#live.get(segment) ?? 1) - 1;
    this.#live.set(segment, n);
    if (n === 0) this.onSegmentEmpty(segment);
  }

  #indexAfter(seq: number): number {
    return this.#records.indexAfterSeq(seq);
  }

  #purgeFront(): void {
    while (this.#dropped.size > 0) {
      const r = this.#records.peekFirst();
      if (r === undefined || !this.#dropped.delete(r.seq)) break;
      this.#records.shift();
      this.#segments.shift();
    }
  }
}
