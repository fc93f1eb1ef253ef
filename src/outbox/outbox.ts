/**
 * The Outbox: where the client keeps every message until the server has
 * acknowledged it (or it is dropped). The client is its only writer.
 *
 * Contract (test/outbox/conformance.ts checks it for every implementation):
 * - `open()` is called once before anything else. It resolves with the clientId
 *   that owns the stored messages: the persisted one when there is one
 *   (a durable outbox survives restarts, and its sequence numbers belong to
 *   that clientId), else the `proposedClientId`, which is then kept.
 * - `append(entries)` stores a batch and resolves with the seq of its first
 *   entry; entry i gets `firstSeq + i`. "Stored" means: for the memory outbox,
 *   in memory; for a durable one, on disk after fdatasync. One call per batch
 *   lets a disk implementation write and sync a whole event-loop turn at once.
 *   Sequence numbers are never reused, even after the records are gone.
 * - `read()` returns stored records in seq order; gaps are allowed (drops).
 * - `acknowledge(upToSeq)` (cumulative) and `drop(seq)` update the in-memory
 *   view (counts, bytes, read) at once; the returned promise says when that
 *   is persisted. Losing an acknowledgement in a crash only causes a resend
 *   that the server removes as a duplicate, so a durable outbox may batch them.
 * - counts, bytes and the oldest record are synchronous getters, O(1).
 * - `onFailure(listener)` (optional): a durable outbox that can stop for good
 *   (a failed fdatasync) calls the listener once when it does, even when the
 *   failing write held only acknowledgements that no caller awaits. The client
 *   then emits `error` and rejects its pending sends. An outbox that cannot
 *   fail this way (MemoryOutbox) leaves it out.
 */

import type { OutlastError } from "../errors/outlast-error.js";

/** Why a message was dropped without being delivered. */
export type DropReason = "full" | "expired" | "tooLarge";

/** What the client hands to `append`. */
export interface OutboxEntry {
  readonly data: Uint8Array;
  /** false: best-effort, may be dropped to make room. */
  readonly important: boolean;
  /** When the record was created: wall-clock ms since the epoch (Clock.wallNow), so it means the same in the next process. */
  readonly createdAtMs: number;
  /** After this wall-clock time (ms since the epoch) the record is dropped as expired; Infinity when it never expires. */
  readonly expiresAtMs: number;
}

/** A stored record. */
export interface OutboxRecord extends OutboxEntry {
  readonly seq: number;
}

export interface Outbox {
  /** Loads persisted state; resolves with the clientId owning the records (see the contract above). */
  open(proposedClientId: string): Promise<string>;
  /** The owning clientId; valid after `open()`. */
  readonly clientId: string;
  /** The seq the next appended entry will get (starts at 1). Persisted by durable implementations. */
  readonly nextSeq: number;
  /** True when records survive a process restart. */
  readonly durable: boolean;

  /** Stores a batch (see the contract); resolves with the first entry's seq. An empty batch resolves with `nextSeq`. */
  append(entries: readonly OutboxEntry[]): Promise<number>;
  /**
   * Up to `maxRecords` records with seq > `afterSeq`, in seq order, whose data
   * lengths add up to at most `maxBytes` — except that the first one is always
   * returned when there is one, so a record larger than `maxBytes` cannot stall.
   */
  read(afterSeq: number, maxRecords: number, maxBytes: number): readonly OutboxRecord[];
  /** The record with this seq, if stored. */
  get(seq: number): OutboxRecord | undefined;
  /** Removes every record with seq <= `upToSeq`; returns how many were removed. */
  acknowledge(upToSeq: number): number;
  /** Removes one record (a dropped best-effort or expired message); false when it was not stored. */
  drop(seq: number, reason: DropReason): boolean;
  /**
   * Gives every record with seq > `afterSeq` a new seq, consecutive from
   * `firstNewSeq` in the same order, and makes `nextSeq` follow them (never
   * lower than before). Used when the server knows the clientId from another
   * outbox (its lastSeq is ahead of ours), so our numbers would look like duplicates.
   */
  renumber(afterSeq: number, firstNewSeq: number): Promise<void>;
  /** Resolves when every acknowledge/drop/renumber so far is persisted (memory: at once). */
  sync(): Promise<void>;

  /** Number of stored records. */
  readonly count: number;
  /** Sum of the stored records' data lengths. */
  readonly bytes: number;
  /** The stored record with the lowest seq, or undefined when empty. */
  readonly oldest: OutboxRecord | undefined;

  /**
   * Optional: calls `listener` once when the outbox fails for good (every later
   * call is then rejected with that error, code OUTLAST_OUTBOX_IO). Called on a
   * microtask when it has already failed. Returns a function that removes the listener.
   */
  onFailure?(listener: (error: OutlastError) => void): () => void;

  /** Releases resources (a durable outbox closes files and its lock). Idempotent. */
  close(): Promise<void>;
}
