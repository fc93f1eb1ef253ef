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
      this.#records.push(copyRecord(this.#nextSeq++, entries[i] as OutboxEntry));
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
