/**
 * The durable Outbox: an append-only segment log in a directory (docs/outbox.md).
 *
 * - append: every append() of one event-loop turn goes out as ONE write and
 *   ONE fdatasync (group commit); callers learn "stored" only after it.
 * - acknowledge/drop change the in-memory view at once and are written as
 *   ACK/DROP records with the next commit (sync() waits for that).
 * - renumber rewrites the live records into a checkpoint segment.
 * - open: lock, replay and repair (log/recovery.ts), then a fresh active segment.
 * - A failed fdatasync makes the outbox fail for good (OUTLAST_OUTBOX_IO):
 *   it is never retried as if it had worked. Out of space (ENOSPC) while
 *   writing rejects that batch only, and the log stays consistent.
 */

import { randomUUID } from "node:crypto";
import { setImmediate as turn } from "node:timers/promises";
import { debuglog } from "node:util";
import { OutlastError } from "../errors/outlast-error.js";
import { commitChannel, errorChannel, openChannel, quarantineChannel } from "./log/diagnostics.js";
import type { OutboxFs } from "./log/fs-layer.js";
import { nodeFs } from "./log/fs-layer.js";
import { outboxIoError } from "./log/io-errors.js";
import { OutboxLock } from "./log/lock.js";
import { encodedSize, encodeRecord, MAX_BODY_BYTES, BODY_HEADER_BYTES, RecordType, RECORD_OVERHEAD_BYTES, SEGMENT_HEADER_BYTES } from "./log/record-format.js";
import { RecordIndex } from "./log/record-index.js";
import type { RecoveryReport } from "./log/recovery.js";
import { recover } from "./log/recovery.js";
import { SegmentSet } from "./log/segment-set.js";
import { SegmentWriteError } from "./log/segment-writer.js";
import type { DropReason, Outbox, OutboxEntry, OutboxRecord } from "./outbox.js";

const debug = debuglog("outlast");

const DROP_REASONS: readonly DropReason[] = ["full", "expired", "tooLarge"];

export interface FileOutboxOptions {
  /** Most bytes the segment files may take on disk; an append past it is rejected with OUTLAST_OUTBOX_FULL. Default 1 GiB. */
  readonly maxBytes?: number;
  /** A new segment is started when the active one reaches this size. Default 8 MiB. */
  readonly segmentBytes?: number;
  /** The file-system layer (tests inject one that simulates power loss). Default: node:fs/promises. */
  readonly fs?: OutboxFs;
}

interface PendingAppend {
  readonly entries: readonly OutboxEntry[];
  /** Seq of the first entry, assigned when its batch is written (renumber may move it while in flight). */
  first: number;
  readonly resolve: (first: number) => void;
  readonly reject: (err: unknown) => void;
}

interface Waiter {
  readonly version: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

type State = "new" | "opening" | "open" | "closed";

export class FileOutbox implements Outbox {
  readonly durable = true;
  readonly dir: string;
  readonly #fs: OutboxFs;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #lock: OutboxLock;
  #state: State = "new";
  #index = new RecordIndex();
  #segments: SegmentSet | undefined;
  #clientId: string | undefined;
  #nextSeq = 1;
  #report: RecoveryReport | undefined;

  #queue: PendingAppend[] = [];
  #inflight: PendingAppend[] | undefined;
  #pendingAck = 0;
  #pendingDrops: { seq: number; reason: DropReason }[] = [];
  /** Bumped by every acknowledge/drop that changed something; #durableVersion: the highest one on disk. */
  #version = 0;
  #durableVersion = 0;
  #syncWaiters: Waiter[] = [];
  #checkpointWaiters: Waiter[] | undefined;
  #running = false;
  #idleWaiters: (() => void)[] = [];
  #failure: OutlastError | undefined;
  #closePromise: Promise<void> | undefined;

  constructor(dir: string, options: FileOutboxOptions = {}) {
    this.dir = dir;
    this.#fs = options.fs ?? nodeFs;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
    this.#segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.#lock = new OutboxLock(dir, this.#fs);
  }

  // ---- opening ----

  async open(proposedClientId: string): Promise<string> {
    if (this.#state !== "new") throw new Error("FileOutbox: open() may be called once");
    this.#state = "opening";
    try {
      await this.#fs.mkdirp(this.dir).catch((err: unknown) => {
        throw outboxIoError(this.dir, "creating the directory", err, false);
      });
      await this.#lock.acquire();
      try {
        const r = await recover(this.#fs, this.dir, (segment) => this.#segmentEmptied(segment)).catch((err: unknown) => {
          throw err instanceof OutlastError ? err : outboxIoError(this.dir, "reading the outbox", err, false);
        });
        this.#index = r.index;
        this.#clientId = r.clientId ?? (proposedClientId || randomUUID());
        this.#nextSeq = r.nextSeq;
        this.#report = r.report;
        const segments = new SegmentSet(this.#fs, this.dir, r.segments, r.maxSegment, (n) => this.#index.liveIn(n));
        await segments.roll(this.#metaRecord(), false).catch((err: unknown) => {
          throw outboxIoError(this.dir, "creating a segment", err instanceof SegmentWriteError ? err.cause : err, false);
        });
        this.#segments = segments;
        await segments.deleteDead(0);
      } catch (err) {
        await this.#segments?.close().catch(() => undefined);
        await this.#lock.release();
        throw err;
      }
    } catch (err) {
      this.#state = "closed";
      throw err;
    }
    this.#state = "open";
    const report = this.#report;
    debug("outbox %s open: %d records, next seq %d, %d quarantined", this.dir, this.count, this.#nextSeq, report.quarantined.length);
    for (const part of report.quarantined) quarantineChannel.publish({ dir: this.dir, part });
    if (openChannel.hasSubscribers) {
      openChannel.publish({ dir: this.dir, clientId: this.#clientId, count: this.count, bytes: this.bytes, nextSeq: this.#nextSeq, report });
    }
    return this.#clientId;
  }

  // ---- the Outbox interface ----

  get clientId(): string {
    if (this.#clientId === undefined) throw new Error("FileOutbox: open() has not been called");
    return this.#clientId;
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  get count(): number {
    return this.#index.count;
  }

  get bytes(): number {
    return this.#index.bytes;
  }

  get oldest(): OutboxRecord | undefined {
    return this.#index.oldest;
  }

  /** What the last open() found and repaired (undefined before open). */
  get recoveryReport(): RecoveryReport | undefined {
    return this.#report;
  }

  /** Bytes the segment files take on disk now. */
  get diskBytes(): number {
    return this.#segments?.totalBytes ?? 0;
  }

  /** The error that stopped the outbox for good (a failed fdatasync), if any. */
  get failure(): OutlastError | undefined {
    return this.#failure;
  }

  append(entries: readonly OutboxEntry[]): Promise<number> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    for (const e of entries) {
      if (e.data.length > MAX_BODY_BYTES - BODY_HEADER_BYTES) {
        return Promise.reject(
          new OutlastError("OUTLAST_MESSAGE_TOO_LARGE", `a message of ${e.data.length} bytes is larger than the outbox can store`, {
            details: { bytes: e.data.length },
          }),
        );
      }
    }
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ entries, first: 0, resolve, reject });
      this.#kick();
    });
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): readonly OutboxRecord[] {
    return this.#index.read(afterSeq, maxRecords, maxBytes);
  }

  get(seq: number): OutboxRecord | undefined {
    return this.#index.get(seq);
  }

  acknowledge(upToSeq: number): number {
    const removed = this.#index.acknowledge(upToSeq);
    if (removed > 0 && this.#state === "open") {
      this.#pendingAck = Math.max(this.#pendingAck, upToSeq);
      this.#version++;
      this.#kick();
    }
    return removed;
  }

  drop(seq: number, reason: DropReason): boolean {
    if (!this.#index.drop(seq)) return false;
    if (this.#state === "open") {
      this.#pendingDrops.push({ seq, reason });
      this.#version++;
      this.#kick();
    }
    return true;
  }

  renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    let next = this.#index.renumber(afterSeq, firstNewSeq);
    // A batch being written is not in the index yet: it follows the renumbered records.
    for (const a of this.#inflight ?? []) {
      if (a.first > afterSeq) {
        a.first = next;
        next += a.entries.length;
      }
    }
    this.#nextSeq = Math.max(this.#nextSeq, next);
    return new Promise<void>((resolve, reject) => {
      (this.#checkpointWaiters ??= []).push({ version: this.#version, resolve, reject });
      this.#kick();
    });
  }

  sync(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#version <= this.#durableVersion && this.#checkpointWaiters === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#syncWaiters.push({ version: this.#version, resolve, reject });
      this.#kick();
    });
  }

  /** Writes what is pending (appends, acknowledgements), then closes the files and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    if (!wasOpen) return;
    if (this.#failure === undefined && this.#hasWork()) this.#kick();
    if (this.#running) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await this.#segments?.close().catch((e: unknown) => debug("outbox %s: close: %s", this.dir, String(e)));
    await this.#lock.release();
  }

  // ---- the commit loop ----

  #refusal(): Error | undefined {
    if (this.#failure !== undefined) return this.#failure;
    if (this.#state === "closed") return new OutlastError("OUTLAST_CLOSED", "the outbox is closed; create a new client (and outbox) to send again");
    if (this.#state !== "open") return new Error("FileOutbox: open() has not finished");
    return undefined;
  }

  #hasWork(): boolean {
    return (
      this.#queue.length > 0 ||
      this.#checkpointWaiters !== undefined ||
      this.#version > this.#durableVersion ||
      this.#syncWaiters.length > 0
    );
  }

  #kick(): void {
    if (this.#running || this.#segments === undefined) return;
    this.#running = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        await turn(); // let every append of this turn join the batch
        if (this.#failure !== undefined || !this.#hasWork()) break;
        if (this.#checkpointWaiters !== undefined) await this.#checkpoint();
        else if (!(await this.#commit())) break; // out of space: wait for the next append/acknowledge/sync to try again
      }
    } catch (err) {
      this.#fail(outboxIoError(this.dir, "the commit loop", err, true)); // a bug, or an fs layer throwing where it should not
    }
    this.#running = false;
    if (this.#failure !== undefined) this.#rejectAll(this.#failure);
    else this.#resolveSyncWaiters();
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** One group commit; false when it failed without stopping the outbox (out of space). */
  async #commit(): Promise<boolean> {
    const segments = this.#segments as SegmentSet;
    const appends = this.#queue;
    this.#queue = [];
    const version = this.#version;
    const ackUpTo = this.#pendingAck;
    const drops = this.#pendingDrops;
    this.#pendingAck = 0;
    this.#pendingDrops = [];

    const controlBytes = (ackUpTo > 0 ? encodedSize(0) : 0) + drops.length * encodedSize(1);
    const accepted: PendingAppend[] = [];
    let dataBytes = 0;
    let records = 0;
    for (const a of appends) {
      let bytes = 0;
      for (const e of a.entries) bytes += encodedSize(e.data.length);
      if (segments.totalBytes + controlBytes + dataBytes + bytes > this.#maxBytes && bytes > 0) {
        a.reject(this.#fullError(bytes));
        continue;
      }
      accepted.push(a);
      dataBytes += bytes;
      records += a.entries.length;
    }
    if (accepted.length === 0 && controlBytes === 0) {
      this.#resolveSyncWaiters();
      return true;
    }

    const w = segments.active;
    if (w.size + controlBytes + dataBytes > this.#segmentBytes && w.size > SEGMENT_HEADER_BYTES + encodedSize(Buffer.byteLength(this.clientId))) {
      try {
        await segments.roll(this.#metaRecord(), false);
      } catch (err) {
        this.#undoCommit(accepted, ackUpTo, drops, err, "creating a segment");
        return false;
      }
    }

    let seq = this.#nextSeq;
    for (const a of accepted) {
      a.first = seq;
      seq += a.entries.length;
    }
    this.#nextSeq = seq;
    const buf = Buffer.allocUnsafe(controlBytes + dataBytes);
    let at = 0;
    if (ackUpTo > 0) at = encodeRecord(buf, at, RecordType.ACK, ackUpTo, EMPTY);
    for (const d of drops) at = encodeRecord(buf, at, RecordType.DROP, d.seq, new Uint8Array([DROP_REASONS.indexOf(d.reason)]));
    for (const a of accepted) {
      for (let i = 0; i < a.entries.length; i++) {
        const e = a.entries[i] as OutboxEntry;
        at = encodeRecord(buf, at, RecordType.DATA, a.first + i, e.data, e.important, e.createdAtMs, e.expiresAtMs);
      }
    }

    const started = performance.now();
    this.#inflight = accepted;
    try {
      await segments.append(buf);
    } catch (err) {
      this.#inflight = undefined;
      // Nothing of this batch is stored; the seqs it took are skipped (a gap, never reused).
      this.#undoCommit(accepted, ackUpTo, drops, err, "writing");
      return false;
    } finally {
      this.#inflight = undefined;
    }
    const segment = segments.active.number;
    for (const a of accepted) {
      for (let i = 0; i < a.entries.length; i++) {
        const e = a.entries[i] as OutboxEntry;
        this.#index.push({ seq: a.first + i, data: e.data, important: e.important, createdAtMs: e.createdAtMs, expiresAtMs: e.expiresAtMs }, segment);
      }
    }
    this.#durableVersion = Math.max(this.#durableVersion, version);
    for (const a of accepted) a.resolve(a.first);
    this.#resolveSyncWaiters();
    if (commitChannel.hasSubscribers) {
      commitChannel.publish({ dir: this.dir, records, controls: drops.length + (ackUpTo > 0 ? 1 : 0), bytes: buf.length, durationMs: performance.now() - started });
    }
    await segments.deleteDead(this.#durableVersion);
    return true;
  }

  /** A batch failed: reject its appends; a recoverable failure puts the ACK/DROP records back for the next try. */
  #undoCommit(accepted: PendingAppend[], ackUpTo: number, drops: { seq: number; reason: DropReason }[], err: unknown, what: string): void {
    const fatal = !(err instanceof SegmentWriteError) || err.fatal;
    const cause = err instanceof SegmentWriteError ? err.cause : err;
    const error = outboxIoError(this.dir, err instanceof SegmentWriteError && err.phase === "sync" ? "fdatasync" : what, cause, fatal);
    for (const a of accepted) a.reject(error);
    if (fatal) {
      this.#fail(error);
      return;
    }
    this.#pendingAck = Math.max(this.#pendingAck, ackUpTo);
    this.#pendingDrops = drops.concat(this.#pendingDrops);
    for (const w of this.#syncWaiters.splice(0)) w.reject(error);
    if (errorChannel.hasSubscribers) errorChannel.publish({ dir: this.dir, error, fatal: false });
    debug("outbox %s: %s", this.dir, error.message);
  }

  /** Rewrites every live record (with its current seq) into a new checkpoint segment, then deletes the older segments. */
  async #checkpoint(): Promise<void> {
    const segments = this.#segments as SegmentSet;
    const waiters = this.#checkpointWaiters ?? [];
    this.#checkpointWaiters = undefined;
    const version = this.#version;
    // The snapshot holds the effect of every pending ACK/DROP.
    this.#pendingAck = 0;
    this.#pendingDrops = [];
    const live = this.#index.liveRecords();
    const meta = this.#metaRecord();
    let size = meta.length + encodedSize(0);
    for (const r of live) size += encodedSize(r.data.length);
    const body = Buffer.allocUnsafe(size);
    body.set(meta, 0);
    let at = meta.length;
    for (const r of live) at = encodeRecord(body, at, RecordType.DATA, r.seq, r.data, r.important, r.createdAtMs, r.expiresAtMs);
    encodeRecord(body, at, RecordType.END, this.#nextSeq, EMPTY);
    try {
      await segments.roll(body, true);
    } catch (err) {
      // The in-memory view (renumbered) and the disk now disagree: stop rather than write records that would replay wrongly.
      const error = outboxIoError(this.dir, "writing a checkpoint", err instanceof SegmentWriteError ? err.cause : err, true);
      for (const w of waiters) w.reject(error);
      this.#fail(error);
      return;
    }
    this.#index.moveAllTo(segments.active.number);
    this.#durableVersion = Math.max(this.#durableVersion, version);
    for (const w of waiters) w.resolve();
    this.#resolveSyncWaiters();
    await segments.deleteAllBeforeActive();
  }

  #metaRecord(): Buffer {
    const id = Buffer.from(this.clientId, "utf8");
    const b = Buffer.allocUnsafe(encodedSize(id.length));
    encodeRecord(b, 0, RecordType.META, this.#nextSeq, id);
    return b;
  }

  #segmentEmptied(segment: number): void {
    // The ACK/DROP that emptied it gets the next version; the segment may go once that is durable.
    this.#segments?.markDead(segment, this.#version + 1);
  }

  #resolveSyncWaiters(): void {
    if (this.#syncWaiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#syncWaiters) {
      if (w.version <= this.#durableVersion && this.#checkpointWaiters === undefined) w.resolve();
      else still.push(w);
    }
    this.#syncWaiters = still;
  }

  #fullError(bytes: number): OutlastError {
    const used = this.#segments?.totalBytes ?? 0;
    return new OutlastError(
      "OUTLAST_OUTBOX_FULL",
      `outbox ${this.dir} is full: ${used} of maxBytes ${this.#maxBytes} bytes on disk, ${bytes} more needed; wait for acknowledgements or raise maxBytes`,
      { details: { dir: this.dir, maxBytes: this.#maxBytes, bytes: used, needed: bytes } },
    );
  }

  #fail(error: OutlastError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    debug("outbox %s failed: %s", this.dir, error.message);
    if (errorChannel.hasSubscribers) errorChannel.publish({ dir: this.dir, error, fatal: true });
    this.#rejectAll(error);
  }

  #rejectAll(error: OutlastError): void {
    for (const a of this.#queue.splice(0)) a.reject(error);
    for (const w of this.#syncWaiters.splice(0)) w.reject(error);
    const cw = this.#checkpointWaiters ?? [];
    this.#checkpointWaiters = undefined;
    for (const w of cw) w.reject(error);
  }
}

const EMPTY = new Uint8Array(0);

/** Bytes a record of `payloadBytes` takes in the log (for sizing maxBytes). */
export const FILE_OUTBOX_RECORD_OVERHEAD_BYTES = RECORD_OVERHEAD_BYTES;
