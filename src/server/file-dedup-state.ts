/**
 * Crash-safe dedup state in a directory, on the one durable log of
 * src/storage (docs/server.md, "State directory"):
 * - `seg-*.log` segments of DONE / STARTED records (state-records.ts), each
 *   group commit ONE write and ONE fdatasync (storage/commit-loop.ts) before the
 *   acknowledgements go out; compacted into a checkpoint segment when the log
 *   grows past `compactAfterBytes`, and at every open (state-open.ts);
 * - `slots` (progress-file.ts): per-message progress, written, not synced, so
 *   it survives a process kill;
 * - `lock` (storage/dir-lock.ts) keeps a second server out; `quarantine/`
 *   holds what an open found corrupt.
 * Every file operation goes through one StorageFs (tests swap in one that
 * simulates power loss: test/storage/crash-fs.ts).
 */

import { debuglog } from "node:util";
import { OutlastError } from "../errors/outlast-error.js";
import { CommitLoop } from "../storage/commit-loop.js";
import { DirLock } from "../storage/dir-lock.js";
import type { LockErrors } from "../storage/dir-lock.js";
import { ensureDurableDir } from "../storage/durable-dir.js";
import type { StorageFs } from "../storage/fs-layer.js";
import { nodeFs } from "../storage/fs-layer.js";
import { ScratchBuffer } from "../storage/scratch-buffer.js";
import type { SegmentSet } from "../storage/segment-set.js";
import { SegmentWriteError } from "../storage/segment-writer.js";
import type { ClientProgress, ClientSeqs, CommitListener, DedupState, FatalListener, InDoubt } from "./dedup-state.js";
import { NO_DOUBT } from "./dedup-state.js";
import { stateCommitChannel, stateQuarantineChannel } from "./diagnostics.js";
import type { ProgressFile } from "./progress-file.js";
import { SlotProgress } from "./slot-progress.js";
import type { SlotWriter } from "./slot-progress.js";
import { openState } from "./state-open.js";
import type { ClientMarks } from "./state-records.js";
import { checkpointBody, encodeMarks } from "./state-records.js";

const debug = debuglog("outlast");

/** A commit this small is written synchronously (then fdatasync'd asynchronously), as a pwrite into the page cache costs less than a thread-pool round trip. */
const SMALL_WRITE_BYTES = 64 * 1024;
/** Compact when the active segment grows past this. */
const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;

export interface FileDedupStateOptions {
  /** Bytes appended since the last checkpoint that trigger compaction into a new one (at least the checkpoint's own size). Default 8 MiB. */
  readonly compactAfterBytes?: number;
  /** The file system (tests pass one that simulates power loss). Default: the real one. */
  readonly fs?: StorageFs;
}

function stateIoError(dir: string, cause: unknown): OutlastError {
  const real = cause instanceof SegmentWriteError ? cause.cause : cause;
  const message = real instanceof Error ? real.message : String(real);
  return new OutlastError(
    "OUTLAST_STATE_IO",
    `state directory ${dir}: ${message}; the server stops rather than acknowledge what it could not make durable`,
    { cause: real, details: { dir } },
  );
}

function stateLockErrors(dir: string): LockErrors {
  return {
    locked: (pid) =>
      new OutlastError(
        "OUTLAST_STATE_LOCKED",
        `state directory ${dir} is locked by pid ${pid}; stop that server or pass another state directory`,
        { details: { dir, pid } },
      ),
    io: (what, cause) => stateIoError(dir, Object.assign(new Error(`${what}: ${String(cause)}`), { cause })),
  };
}

export class FileDedupState implements DedupState, SlotWriter {
  readonly #dir: string;
  readonly #fs: StorageFs;
  readonly #lock: DirLock;
  readonly #compactAfterBytes: number;
  #marks = new Map<string, ClientMarks>();
  #inDoubt = new Map<string, InDoubt>();
  #pending = new Map<string, number>();
  /** "Started" marks not written yet: they go into the log with the next commit. */
  #pendingStarted = new Map<string, number>();
  #segments: SegmentSet | undefined;
  /** Size of the active segment right after the last checkpoint. */
  #checkpointBytes = 0;
  #progress: ProgressFile | undefined;
  readonly #scratch = new ScratchBuffer();
  readonly #loop = new CommitLoop(
    {
      hasWork: () => this.#pending.size > 0 && this.#failed === undefined,
      queued: () => this.#pending.size > 0,
      step: () => this.#commitStep(),
      crashed: (err) => this.#fail(err),
      stopped: () => {},
    },
    false,
  );
  #failed: Error | undefined;
  #closed = false;
  #onCommit: CommitListener = () => {};
  #onFatal: FatalListener = () => {};

  constructor(dir: string, options: FileDedupStateOptions = {}) {
    this.#dir = dir;
    this.#fs = options.fs ?? nodeFs;
    this.#lock = new DirLock(dir, this.#fs, stateLockErrors(dir));
    this.#compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES;
  }

  setListeners(onCommit: CommitListener, onFatal: FatalListener): void {
    this.#onCommit = onCommit;
    this.#onFatal = onFatal;
  }

  async open(): Promise<void> {
    await ensureDurableDir(this.#fs, this.#dir); // its errno error (with the path) names what to fix
    await this.#lock.acquire();
    try {
      const opened = await openState(this.#fs, this.#dir);
      this.#marks = opened.marks;
      this.#inDoubt = opened.inDoubt;
      this.#progress = opened.progress;
      this.#segments = opened.segments;
      for (const part of opened.quarantined) stateQuarantineChannel.publish({ dir: this.#dir, part });
      this.#checkpointBytes = opened.segments.active.size;
    } catch (err) {
      await this.#lock.release();
      throw err instanceof OutlastError ? err : stateIoError(this.#dir, err);
    }
  }

  load(clientId: string): ClientSeqs {
    return { lastSeq: this.#marks.get(clientId)?.lastSeq ?? 0, inDoubt: this.#inDoubt.get(clientId) ?? NO_DOUBT };
  }

  progress(clientId: string): ClientProgress {
    const doubt = this.#inDoubt.get(clientId) ?? NO_DOUBT;
    return new SlotProgress(clientId, this.#marks.get(clientId)?.lastSeq ?? 0, doubt.toSeq, this);
  }

  /** The clientId's slot, claimed on first use (one synchronous write); -1 when the state cannot write. */
  slotOf(clientId: string, doneSeq: number, startedSeq: number): number {
    const file = this.#progress;
    if (file === undefined || this.#failed !== undefined) return -1;
    try {
      return file.claim(clientId, doneSeq, startedSeq);
    } catch (err) {
      this.#fail(err);
      return -1;
    }
  }

  /** Overwrites one slot (page cache, no sync). Hot path. */
  writeSlot(slot: number, doneSeq: number, startedSeq: number): void {
    const file = this.#progress;
    if (slot < 0 || file === undefined || this.#failed !== undefined) return;
    try {
      file.write(slot, doneSeq, startedSeq);
    } catch (err) {
      this.#fail(err);
    }
  }

  /**
   * Notes that handler calls up to `seq` started. Written into the log with the next
   * commit (so it is as durable as that commit); the slot covers a process kill
   * before that, and after a power loss a lost mark only loses a `redelivery` flag.
   */
  markStarted(clientId: string, seq: number): void {
    if (this.#failed !== undefined || this.#closed) return;
    let m = this.#marks.get(clientId);
    if (m === undefined) this.#marks.set(clientId, (m = { lastSeq: 0, startedSeq: 0 }));
    if (seq <= m.startedSeq) return;
    m.startedSeq = seq;
    this.#pendingStarted.set(clientId, seq);
  }

  record(clientId: string, seq: number): void {
    const prev = this.#pending.get(clientId);
    if (prev === undefined || seq > prev) this.#pending.set(clientId, seq);
  }

  commit(): void {
    if (this.#pending.size === 0 || this.#segments === undefined || this.#failed !== undefined || this.#closed) return;
    this.#loop.kick();
  }

  /**
   * One group commit: a checkpoint first when the records appended since the last one
   * passed compactAfterBytes, and the checkpoint's own size (so a state with many
   * clients does not rewrite all of them every few commits).
   */
  async #commitStep(): Promise<boolean> {
    const segments = this.#segments as SegmentSet;
    const appended = segments.active.size - this.#checkpointBytes;
    if (appended >= Math.max(this.#compactAfterBytes, this.#checkpointBytes)) await this.#compact(segments);
    const batch = this.#pending;
    this.#pending = new Map();
    const started = this.#pendingStarted;
    this.#pendingStarted = new Map();
    const startedMs = performance.now();
    const records = encodeMarks(this.#scratch, batch, started);
    await segments.append(records, records.length <= SMALL_WRITE_BYTES);
    for (const [id, seq] of batch) {
      let m = this.#marks.get(id);
      if (m === undefined) this.#marks.set(id, (m = { lastSeq: 0, startedSeq: 0 }));
      if (seq > m.startedSeq) m.startedSeq = seq;
      if (seq > m.lastSeq) m.lastSeq = seq;
      else batch.delete(id); // never report a seq below one reported before
    }
    if (stateCommitChannel.hasSubscribers)
      stateCommitChannel.publish({ dir: this.#dir, records: batch.size, durationMs: performance.now() - startedMs });
    if (batch.size > 0) this.#onCommit(batch);
    return true;
  }

  /** Every durable record is in #marks: a checkpoint of it supersedes every older segment. */
  async #compact(segments: SegmentSet): Promise<void> {
    await segments.roll(checkpointBody(this.#marks), true);
    this.#checkpointBytes = segments.active.size;
    const removed = await segments.deleteAllBeforeActive();
    debug(
      "state %s: compacted %d clients into a checkpoint (%d segments removed)",
      this.#dir,
      this.#marks.size,
      removed,
    );
  }

  #fail(cause: unknown): void {
    if (this.#failed !== undefined) return;
    const err = stateIoError(this.#dir, cause);
    this.#failed = err;
    debug("state %s failed: %s", this.#dir, err.message);
    this.#onFatal(err);
  }

  async flush(): Promise<void> {
    for (;;) {
      if (this.#failed !== undefined) throw this.#failed;
      if (this.#closed || this.#segments === undefined || (this.#pending.size === 0 && !this.#loop.running)) return;
      this.commit();
      await this.#loop.idle();
    }
  }

  async close(graceful: boolean): Promise<void> {
    if (this.#closed) return;
    if (graceful && this.#failed === undefined) await this.flush().catch(() => undefined);
    this.#closed = true;
    await this.#loop.idle(); // never close the files under a running commit
    await this.#segments?.close().catch(() => undefined); // already reported through onFatal if it mattered
    this.#segments = undefined;
    try {
      this.#progress?.close();
    } catch {
      // nothing left to lose: the log holds every acknowledged seq
    }
    this.#progress = undefined;
    await this.#lock.release();
  }
}
