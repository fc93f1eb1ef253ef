/**
 * The commit loop of the durable outbox (FileOutbox's write side).
 *
 * - Every append of one event-loop turn (or, while busy, every append that
 *   queued during the previous commit) goes out as ONE write and ONE
 *   fdatasync (group commit); its callers learn "stored" only after that, and
 *   only then do the records enter the index (so `read()` never sees them early).
 * - Acknowledgements and drops are already applied to the index by the caller;
 *   here they become ACK/DROP records written with the next commit. `sync()`
 *   waits for that. Each one bumps a control version; `#durableVersion` is the
 *   highest version on disk.
 * - renumber writes a checkpoint segment holding every live record.
 * - A failed fdatasync (or any failure that leaves disk and memory disagreeing)
 *   stops the loop for good: `failure` holds the OUTLAST_OUTBOX_IO error, every
 *   waiting and later call is rejected with it, and `onFailure` is called once.
 *   Out of space rejects that batch only.
 */

import { debuglog } from "node:util";
import type { OutlastError } from "../../errors/outlast-error.js";
import type { DropReason, OutboxEntry } from "../outbox.js";
import { commitChannel, errorChannel } from "./diagnostics.js";
import { outboxFullError, outboxIoError } from "./io-errors.js";
import { checkpointBody } from "./checkpoint-body.js";
import {
  encodedSize,
  encodeRecord,
  metaRecord,
  RecordType,
  SEGMENT_HEADER_BYTES,
} from "../../storage/record-format.js";
import type { RecordIndex } from "./record-index.js";
import { CommitLoop } from "../../storage/commit-loop.js";
import { ScratchBuffer } from "../../storage/scratch-buffer.js";
import type { SegmentSet } from "../../storage/segment-set.js";
import { SegmentWriteError } from "../../storage/segment-writer.js";

const debug = debuglog("outlast");

const DROP_REASONS: readonly DropReason[] = ["full", "expired", "tooLarge"];
const EMPTY = new Uint8Array(0);

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

export interface GroupCommitOptions {
  readonly dir: string;
  readonly clientId: string;
  readonly nextSeq: number;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly index: RecordIndex;
  readonly segments: SegmentSet;
  /** Called once, synchronously, when the loop fails for good (after every waiting call was rejected). */
  readonly onFailure: (error: OutlastError) => void;
}

export { metaRecord } from "../../storage/record-format.js";

export class GroupCommit {
  readonly #dir: string;
  readonly #clientId: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #index: RecordIndex;
  readonly #segments: SegmentSet;
  #nextSeq: number;

  #queue: PendingAppend[] = [];
  #inflight: PendingAppend[] | undefined;
  #pendingAck = 0;
  #pendingDrops: { seq: number; reason: DropReason }[] = [];
  #version = 0;
  #durableVersion = 0;
  #syncWaiters: Waiter[] = [];
  #checkpointWaiters: Waiter[] | undefined;
  #failure: OutlastError | undefined;
  readonly #onFailure: (error: OutlastError) => void;
  readonly #scratch = new ScratchBuffer();
  readonly #loop = new CommitLoop(
    {
      hasWork: () => this.#failure === undefined && this.#hasWork(),
      queued: () => this.#queue.length > 0,
      step: async () => {
        if (this.#checkpointWaiters === undefined) return this.#commit(); // false: out of space, wait for the next call
        await this.#checkpoint();
        return true;
      },
      crashed: (err) => this.#fail(outboxIoError(this.#dir, "the commit loop", err, true)),
      stopped: () => {
        if (this.#failure !== undefined) this.#rejectAll(this.#failure);
        else this.#resolveSyncWaiters();
      },
    },
    true,
  );

  constructor(o: GroupCommitOptions) {
    this.#dir = o.dir;
    this.#clientId = o.clientId;
    this.#nextSeq = o.nextSeq;
    this.#maxBytes = o.maxBytes;
    this.#segmentBytes = o.segmentBytes;
    this.#index = o.index;
    this.#segments = o.segments;
    this.#onFailure = o.onFailure;
  }

  get nextSeq(): number {
    return this.#nextSeq;
  }

  get failure(): OutlastError | undefined {
    return this.#failure;
  }

  append(entries: readonly OutboxEntry[]): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ entries, first: 0, resolve, reject });
      this.#kick();
    });
  }

  /** The index already dropped every record <= upToSeq: write an ACK record with the next commit. */
  acknowledged(upToSeq: number): void {
    this.#pendingAck = Math.max(this.#pendingAck, upToSeq);
    this.#version++;
    this.#kick();
  }

  /** The index already dropped `seq`: write a DROP record with the next commit. */
  dropped(seq: number, reason: DropReason): void {
    this.#pendingDrops.push({ seq, reason });
    this.#version++;
    this.#kick();
  }

  /** A segment's last live record went away; it may be deleted once the ACK/DROP that did it (the next version) is durable. */
  segmentEmptied(segment: number): void {
    this.#segments.markDead(segment, this.#version + 1);
  }

  renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
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

  /** Writes what is pending (unless failed) and resolves when the loop is idle (for close). */
  async drain(): Promise<void> {
    if (this.#failure === undefined && this.#hasWork()) this.#kick();
    await this.#loop.idle();
  }

  // ---- the loop's steps ----

  #hasWork(): boolean {
    return (
      this.#queue.length > 0 ||
      this.#checkpointWaiters !== undefined ||
      this.#version > this.#durableVersion ||
      this.#syncWaiters.length > 0
    );
  }

  #kick(): void {
    this.#loop.kick();
  }

  /** One group commit; false when it failed without stopping the outbox (out of space). */
  async #commit(): Promise<boolean> {
    const segments = this.#segments;
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
        a.reject(outboxFullError(this.#dir, this.#maxBytes, segments.totalBytes, bytes));
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
    if (
      w.size + controlBytes + dataBytes > this.#segmentBytes &&
      w.size > SEGMENT_HEADER_BYTES + encodedSize(Buffer.byteLength(this.#clientId))
    ) {
      try {
        await segments.roll(metaRecord(this.#clientId, this.#nextSeq), false);
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
    const buf = this.#scratch.take(controlBytes + dataBytes);
    let at = 0;
    if (ackUpTo > 0) at = encodeRecord(buf, at, RecordType.ACK, ackUpTo, EMPTY);
    for (const d of drops)
      at = encodeRecord(buf, at, RecordType.DROP, d.seq, new Uint8Array([DROP_REASONS.indexOf(d.reason)]));
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
        this.#index.push(
          {
            seq: a.first + i,
            data: e.data,
            important: e.important,
            createdAtMs: e.createdAtMs,
            expiresAtMs: e.expiresAtMs,
          },
          segment,
        );
      }
    }
    this.#durableVersion = Math.max(this.#durableVersion, version);
    for (const a of accepted) a.resolve(a.first);
    this.#resolveSyncWaiters();
    if (commitChannel.hasSubscribers) {
      commitChannel.publish({
        dir: this.#dir,
        records,
        controls: drops.length + (ackUpTo > 0 ? 1 : 0),
        bytes: buf.length,
        durationMs: performance.now() - started,
      });
    }
    await segments.deleteDead(this.#durableVersion);
    return true;
  }

  /** A batch failed: reject its appends; a recoverable failure puts the ACK/DROP records back for the next try. */
  #undoCommit(
    accepted: PendingAppend[],
    ackUpTo: number,
    drops: { seq: number; reason: DropReason }[],
    err: unknown,
    what: string,
  ): void {
    const fatal = !(err instanceof SegmentWriteError) || err.fatal;
    const cause = err instanceof SegmentWriteError ? err.cause : err;
    const error = outboxIoError(
      this.#dir,
      err instanceof SegmentWriteError && err.phase === "sync" ? "fdatasync" : what,
      cause,
      fatal,
    );
    for (const a of accepted) a.reject(error);
    if (fatal) {
      this.#fail(error);
      return;
    }
    this.#pendingAck = Math.max(this.#pendingAck, ackUpTo);
    this.#pendingDrops = drops.concat(this.#pendingDrops);
    for (const w of this.#syncWaiters.splice(0)) w.reject(error);
    if (errorChannel.hasSubscribers) errorChannel.publish({ dir: this.#dir, error, fatal: false });
    debug("outbox %s: %s", this.#dir, error.message);
  }

  /** Rewrites every live record (with its current seq) into a new checkpoint segment, then deletes the older segments. */
  async #checkpoint(): Promise<void> {
    const segments = this.#segments;
    const waiters = this.#checkpointWaiters ?? [];
    this.#checkpointWaiters = undefined;
    const version = this.#version;
    // The snapshot holds the effect of every pending ACK/DROP.
    this.#pendingAck = 0;
    this.#pendingDrops = [];
    const body = checkpointBody(this.#clientId, this.#nextSeq, this.#index.liveRecords());
    try {
      await segments.roll(body, true);
    } catch (err) {
      // The in-memory view (renumbered) and the disk now disagree: stop rather than write records that would replay wrongly.
      const error = outboxIoError(
        this.#dir,
        "writing a checkpoint",
        err instanceof SegmentWriteError ? err.cause : err,
        true,
      );
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

  #resolveSyncWaiters(): void {
    if (this.#syncWaiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#syncWaiters) {
      if (w.version <= this.#durableVersion && this.#checkpointWaiters === undefined) w.resolve();
      else still.push(w);
    }
    this.#syncWaiters = still;
  }

  #fail(error: OutlastError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    debug("outbox %s failed: %s", this.#dir, error.message);
    if (errorChannel.hasSubscribers) errorChannel.publish({ dir: this.#dir, error, fatal: true });
    this.#rejectAll(error);
    this.#onFailure(error);
  }

  #rejectAll(error: OutlastError): void {
    for (const a of this.#queue.splice(0)) a.reject(error);
    for (const w of this.#syncWaiters.splice(0)) w.reject(error);
    const cw = this.#checkpointWaiters ?? [];
    this.#checkpointWaiters = undefined;
    for (const w of cw) w.reject(error);
  }
}
