/**
 * The default Outbox: records in a ring deque, in memory. Lost when the process
 * exits (use the durable outbox for that). Every operation is O(1) amortized,
 * except `read`/`get`, which find their start by binary search (O(log n)).
 */

import { randomUUID } from "node:crypto";
import { OutlastError } from "../errors/outlast-error.js";
import type { DropReason, Outbox, OutboxEntry, OutboxRecord } from "./outbox.js";
import { RingDeque } from "./ring-deque.js";

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * An entry that a MemoryOutbox keeps as its own record, setting its `seq`,
 * instead of storing a copy: one object per message instead of two. Only while
 * `seq` is 0 (not stored yet); an entry appended again is copied. The
 * client's pending sends are these. Any other entry is copied.
 */
export class AdoptableEntry implements OutboxRecord {
  readonly data: Uint8Array;
  readonly important: boolean;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  /** 0 until stored. */
  seq = 0;

  constructor(data: Uint8Array, important: boolean, createdAtMs: number, expiresAtMs: number) {
    this.data = data;
    this.important = important;
    this.createdAtMs = createdAtMs;
    this.expiresAtMs = expiresAtMs;
  }
}

function copyRecord(seq: number, e: OutboxEntry): OutboxRecord {
  return { seq, data: e.data, important: e.important, createdAtMs: e.createdAtMs, expiresAtMs: e.expiresAtMs };
}

export interface MemoryOutboxOptions {
  /** The clientId this outbox belongs to; default: whatever the client proposes in open(). */
  readonly clientId?: string;
}

export class MemoryOutbox implements Outbox {
  readonly durable = false;
  #clientId: string | undefined;
  #nextSeq = 1;
  #closed = false;
  /** Records in seq order; dropped ones stay until they reach the front, marked in #dropped. */
  readonly #records = new RingDeque<OutboxRecord>(1024);
  readonly #dropped = new Set<number>();
  #bytes = 0;

  constructor(options: MemoryOutboxOptions = {}) {
    this.#clientId = options.clientId;
  }

  open(proposedClientId: string): Promise<string> {
    this.#clientId ??= proposedClientId || randomUUID();
    return Promise.resolve(this.#clientId);
  }

  get clientId(): string {
    if (this.#clientId === undefined) throw new Error("MemoryOutbox: open() has not been called");
    return this.#clientId;
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  get count(): number {
    return this.#records.length - this.#dropped.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get oldest(): OutboxRecord | undefined {
    return this.#records.peekFirst();
  }

  append(entries: readonly OutboxEntry[]): Promise<number> {
    if (this.#closed) return Promise.reject(closedError());
    const first = this.#nextSeq;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as OutboxEntry;
      const seq = this.#nextSeq++;
      if (e instanceof AdoptableEntry && e.seq === 0) {
        e.seq = seq;
        this.#records.push(e);
      } else {
        this.#records.push(copyRecord(seq, e));
      }
      this.#bytes += e.data.length;
    }
    return Promise.resolve(first);
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): readonly OutboxRecord[] {
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
    const i = this.#indexAfter(seq - 1);
    const r = this.#records.at(i);
    if (r === undefined || r.seq !== seq || this.#dropped.has(seq)) return undefined;
    return r;
  }

  acknowledge(upToSeq: number): number {
    let removed = 0;
    for (;;) {
      const r = this.#records.peekFirst();
      if (r === undefined || r.seq > upToSeq) break;
      this.#records.shift();
      if (this.#dropped.size > 0 && this.#dropped.delete(r.seq)) continue;
      this.#bytes -= r.data.length;
      removed++;
    }
    this.#purgeFront();
    return removed;
  }

  drop(seq: number, _reason: DropReason): boolean {
    const r = this.get(seq);
    if (r === undefined) return false;
    this.#bytes -= r.data.length;
    if (this.#records.peekFirst() === r) {
      this.#records.shift();
      this.#purgeFront();
    } else {
      this.#dropped.add(seq);
    }
    return true;
  }

  renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    const start = this.#indexAfter(afterSeq);
    const kept = new RingDeque<OutboxRecord>(this.#records.length);
    let next = firstNewSeq;
    for (let i = 0; i < this.#records.length; i++) {
      const r = this.#records.at(i) as OutboxRecord;
      if (this.#dropped.has(r.seq)) {
        if (i >= start) continue;
        kept.push(r);
      } else if (i < start) {
        kept.push(r);
      } else {
        kept.push(copyRecord(next++, r)); // a new object: an adopted entry keeps its old seq (the client remaps it)
      }
    }
    const droppedBefore = [...this.#dropped].filter((s) => s <= afterSeq);
    this.#dropped.clear();
    for (const s of droppedBefore) this.#dropped.add(s);
    this.#records.clear();
    for (const r of kept) this.#records.push(r);
    this.#nextSeq = Math.max(this.#nextSeq, next);
    return RESOLVED;
  }

  sync(): Promise<void> {
    return RESOLVED;
  }

  close(): Promise<void> {
    this.#closed = true;
    return RESOLVED;
  }

  #indexAfter(seq: number): number {
    return this.#records.indexAfterSeq(seq);
  }

  #purgeFront(): void {
    while (this.#dropped.size > 0) {
      const r = this.#records.peekFirst();
      if (r === undefined || !this.#dropped.delete(r.seq)) break;
      this.#records.shift();
    }
  }
}

function closedError(): OutlastError {
  return new OutlastError("OUTLAST_CLOSED", "the outbox is closed; create a new client (and outbox) to send again");
}
