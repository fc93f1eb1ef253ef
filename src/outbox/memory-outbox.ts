/**
 * The default Outbox: records in a RecordQueue, in memory. Lost when the process
 * exits (use the durable outbox for that). Every operation is O(1) amortized,
 * except `read`/`get`/`drop`, which find their place by binary search (O(log n)).
 */

import { randomUUID } from "node:crypto";
import { OutlastError } from "../errors/outlast-error.js";
import type { DropReason, Outbox, OutboxEntry, OutboxRecord } from "./outbox.js";
import { RecordQueue } from "./record-queue.js";

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
  readonly #records = new RecordQueue();

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
    return this.#records.count;
  }

  get bytes(): number {
    return this.#records.bytes;
  }

  get oldest(): OutboxRecord | undefined {
    return this.#records.oldest;
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
    }
    return Promise.resolve(first);
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): readonly OutboxRecord[] {
    return this.#records.read(afterSeq, maxRecords, maxBytes);
  }

  get(seq: number): OutboxRecord | undefined {
    return this.#records.get(seq);
  }

  acknowledge(upToSeq: number): number {
    return this.#records.acknowledge(upToSeq);
  }

  drop(seq: number, _reason: DropReason): boolean {
    return this.#records.drop(seq);
  }

  /** Renumbered records are new objects: an adopted entry keeps its old seq (the client remaps it). */
  renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    this.#nextSeq = Math.max(this.#nextSeq, this.#records.renumber(afterSeq, firstNewSeq));
    return RESOLVED;
  }

  sync(): Promise<void> {
    return RESOLVED;
  }

  close(): Promise<void> {
    this.#closed = true;
    return RESOLVED;
  }
}

function closedError(): OutlastError {
  return new OutlastError("OUTLAST_CLOSED", "the outbox is closed; create a new client (and outbox) to send again");
}
