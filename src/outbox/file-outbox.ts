/**
 * The durable Outbox: an append-only segment log in a directory (docs/outbox.md).
 *
 * - append: every append() of one event-loop turn goes out as ONE write and
 *   ONE fdatasync (group commit); callers learn "stored" only after it.
 * - acknowledge/drop change the in-memory view at once and are written as
 *   ACK/DROP records with the next commit (sync() waits for that).
 * - renumber rewrites the live records into a checkpoint segment.
 * - open: lock, replay and repair (log/recovery.ts), then appends go on in
 *   the newest segment (a new one only when there is none with a META record).
 * - A failed fdatasync makes the outbox fail for good (OUTLAST_OUTBOX_IO):
 *   it is never retried as if it had worked, and `onFailure` listeners hear
 *   of it. Out of space (ENOSPC) while writing rejects that batch only, and
 *   the log stays consistent.
 * This file is the lifecycle (open, close, lock) and the interface; the
 * write side is log/group-commit.ts.
 */

import { randomUUID } from "node:crypto";
import { debuglog } from "node:util";
import { OutlastError, invalidOption } from "../errors/outlast-error.js";
import { openChannel, quarantineChannel, segmentChannel } from "./log/diagnostics.js";
import { DirLock } from "../storage/dir-lock.js";
import { ensureDurableDir } from "../storage/durable-dir.js";
import type { StorageFs } from "../storage/fs-layer.js";
import { nodeFs } from "../storage/fs-layer.js";
import { GroupCommit, metaRecord } from "./log/group-commit.js";
import { outboxIoError, outboxLockErrors } from "./log/io-errors.js";
import { BODY_HEADER_BYTES, MAX_BODY_BYTES } from "../storage/record-format.js";
import { RecordIndex } from "./log/record-index.js";
import type { RecoveryReport } from "./log/recovery.js";
import { recover } from "./log/recovery.js";
import { SegmentSet } from "../storage/segment-set.js";
import { SegmentWriteError } from "../storage/segment-writer.js";
import type { DropReason, Outbox, OutboxEntry, OutboxRecord } from "./outbox.js";

const debug = debuglog("outlast");

export interface FileOutboxOptions {
  /** Most bytes the segment files may take on disk; an append past it is rejected with OUTLAST_OUTBOX_FULL. Default 1 GiB. */
  readonly maxBytes?: number;
  /** A new segment is started when the active one reaches this size. Default 8 MiB. */
  readonly segmentBytes?: number;
  /** The file-system layer (tests inject one that simulates power loss). Default: node:fs/promises. */
  readonly fs?: StorageFs;
}

type State = "new" | "opening" | "open" | "closed";

/** A size option: a positive whole number of bytes (OUTLAST_INVALID_OPTION naming it otherwise). */
function byteCount(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
    invalidOption(option, `must be a positive whole number of bytes, got ${String(value)}`);
  return value;
}

export class FileOutbox implements Outbox {
  readonly durable = true;
  readonly dir: string;
  readonly #fs: StorageFs;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #lock: DirLock;
  #state: State = "new";
  #index = new RecordIndex();
  #segments: SegmentSet | undefined;
  /** The write side; exists once open() succeeded. */
  #commit: GroupCommit | undefined;
  #clientId: string | undefined;
  #report: RecoveryReport | undefined;
  readonly #failureListeners = new Set<(error: OutlastError) => void>();
  #closePromise: Promise<void> | undefined;

  constructor(dir: string, options: FileOutboxOptions = {}) {
    this.dir = dir;
    this.#fs = options.fs ?? nodeFs;
    this.#maxBytes = byteCount("maxBytes", options.maxBytes, 1024 * 1024 * 1024);
    this.#segmentBytes = byteCount("segmentBytes", options.segmentBytes, 8 * 1024 * 1024);
    this.#lock = new DirLock(dir, this.#fs, outboxLockErrors(dir));
  }

  // ---- opening ----

  async open(proposedClientId: string): Promise<string> {
    if (this.#state !== "new")
      throw new OutlastError(
        "OUTLAST_CLOSED",
        `outbox ${this.dir}: open() may be called once; create a new FileOutbox`,
      );
    this.#state = "opening";
    let clientId: string;
    try {
      await ensureDurableDir(this.#fs, this.dir).catch((err: unknown) => {
        throw outboxIoError(this.dir, "creating the directory", err, false);
      });
      await this.#lock.acquire();
      try {
        const r = await recover(this.#fs, this.dir, proposedClientId || randomUUID(), (segment) =>
          this.#commit?.segmentEmptied(segment),
        ).catch((err: unknown) => {
          throw err instanceof OutlastError ? err : outboxIoError(this.dir, "reading the outbox", err, false);
        });
        this.#index = r.index;
        clientId = r.clientId;
        this.#clientId = clientId;
        this.#report = r.report;
        const segments = new SegmentSet(
          this.#fs,
          this.dir,
          r.segments,
          r.maxSegment,
          (n) => this.#index.liveIn(n),
          (change) => segmentChannel.hasSubscribers && segmentChannel.publish(change),
        );
        // Appends go on in the newest segment when it holds a META record (clientId, next seq); a new
        // segment per open would pile up files while an older segment still holds messages. After
        // damage, that is the segment recovery created to hold the jumped next seq.
        const reuse = r.segments.at(-1)?.hasMeta === true;
        const started = reuse ? segments.reopenNewest() : segments.roll(metaRecord(clientId, r.nextSeq), false);
        await started.catch((err: unknown) => {
          throw outboxIoError(
            this.dir,
            reuse ? "reopening the newest segment" : "creating a segment",
            err instanceof SegmentWriteError ? err.cause : err,
            false,
          );
        });
        this.#segments = segments;
        this.#commit = new GroupCommit({
          dir: this.dir,
          clientId,
          nextSeq: r.nextSeq,
          maxBytes: this.#maxBytes,
          segmentBytes: this.#segmentBytes,
          index: this.#index,
          segments,
          onFailure: (error) => this.#failed(error),
        });
        await segments.deleteDead(0);
      } catch (err) {
        this.#commit = undefined;
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
    debug(
      "outbox %s open: %d records, next seq %d, %d quarantined",
      this.dir,
      this.count,
      this.nextSeq,
      report.quarantined.length,
    );
    for (const part of report.quarantined) quarantineChannel.publish({ dir: this.dir, part });
    if (openChannel.hasSubscribers) {
      openChannel.publish({
        dir: this.dir,
        clientId,
        count: this.count,
        bytes: this.bytes,
        nextSeq: this.nextSeq,
        report,
      });
    }
    return clientId;
  }

  // ---- the Outbox interface ----

  get clientId(): string {
    if (this.#clientId === undefined)
      throw new OutlastError("OUTLAST_CLOSED", `outbox ${this.dir} is not open; call open() first`);
    return this.#clientId;
  }

  get nextSeq(): number {
    return this.#commit?.nextSeq ?? 1;
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
    return this.#commit?.failure;
  }

  /**
   * Calls `listener` once when the outbox fails for good (a failed fdatasync,
   * including one of a commit that held only acknowledgements, which no
   * caller awaits). If it already failed, the listener is called on a
   * microtask. Returns a function that removes the listener.
   */
  onFailure(listener: (error: OutlastError) => void): () => void {
    const failure = this.failure;
    if (failure !== undefined) {
      queueMicrotask(() => listener(failure));
      return () => {};
    }
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  append(entries: readonly OutboxEntry[]): Promise<number> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    for (const e of entries) {
      if (e.data.length > MAX_BODY_BYTES - BODY_HEADER_BYTES) {
        return Promise.reject(
          new OutlastError(
            "OUTLAST_MESSAGE_TOO_LARGE",
            `a message of ${e.data.length} bytes is larger than the outbox can store`,
            {
              details: { bytes: e.data.length },
            },
          ),
        );
      }
    }
    return (this.#commit as GroupCommit).append(entries);
  }

  read(afterSeq: number, maxRecords: number, maxBytes: number): readonly OutboxRecord[] {
    return this.#index.read(afterSeq, maxRecords, maxBytes);
  }

  get(seq: number): OutboxRecord | undefined {
    return this.#index.get(seq);
  }

  acknowledge(upToSeq: number): number {
    const removed = this.#index.acknowledge(upToSeq);
    if (removed > 0 && this.#state === "open") this.#commit?.acknowledged(upToSeq);
    return removed;
  }

  drop(seq: number, reason: DropReason): boolean {
    if (!this.#index.drop(seq)) return false;
    if (this.#state === "open") this.#commit?.dropped(seq, reason);
    return true;
  }

  renumber(afterSeq: number, firstNewSeq: number): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return (this.#commit as GroupCommit).renumber(afterSeq, firstNewSeq);
  }

  sync(): Promise<void> {
    return this.#commit?.sync() ?? Promise.resolve();
  }

  /** Writes what is pending (appends, acknowledgements), then closes the files and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#failureListeners.clear();
    if (!wasOpen) return;
    await this.#commit?.drain();
    await this.#segments?.close().catch((e: unknown) => debug("outbox %s: close: %s", this.dir, String(e)));
    await this.#lock.release();
  }

  #refusal(): Error | undefined {
    const failure = this.failure;
    if (failure !== undefined) return failure;
    if (this.#state === "closed")
      return new OutlastError("OUTLAST_CLOSED", "the outbox is closed; create a new client (and outbox) to send again");
    if (this.#state !== "open")
      return new OutlastError("OUTLAST_CLOSED", `outbox ${this.dir} is not open yet; wait for open() to resolve`);
    return undefined;
  }

  #failed(error: OutlastError): void {
    const listeners = [...this.#failureListeners];
    this.#failureListeners.clear();
    for (const listener of listeners) {
      try {
        listener(error);
      } catch (err) {
        debug("outbox %s: an onFailure listener threw: %s", this.dir, String(err));
      }
    }
  }
}
