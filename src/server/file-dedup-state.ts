/**
 * Crash-safe dedup state in a directory (docs/server.md, "State directory"):
 * an append-only `log` of (clientId, seq) records with length and CRC,
 * fdatasync'd before the acknowledgement is sent and group-committed (every
 * record buffered while one fdatasync runs shares the next one), compacted into
 * `snapshot` (temp file + fsync + rename + directory fsync). A torn tail is cut
 * off at open. A `lock` file keeps a second server out. Per-message progress
 * (processed up to N, N+1 inside the handler) goes to the `progress` file
 * (progress-file.ts): written, not synced, so it survives a process kill.
 */

import { closeSync, fdatasync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { open, readFile, rename, truncate } from "node:fs/promises";
import { join } from "node:path";
import { debuglog } from "node:util";
import { OutlastError } from "../errors/outlast-error.js";
import type { ClientProgress, ClientSeqs, CommitListener, DedupState, FatalListener, InDoubt } from "./dedup-state.js";
import { NO_DOUBT } from "./dedup-state.js";
import { stateCommitChannel } from "./diagnostics.js";
import type { SeqPair } from "./dedup-file-format.js";
import {
  RECORD_DONE,
  RECORD_SLOT,
  RECORD_STARTED,
  decodeSnapshot,
  encodeRecords,
  encodeSnapshot,
  newSeqPair,
  replayLog,
} from "./dedup-file-format.js";
import { ProgressFile, clientIdHash } from "./progress-file.js";
import { DirLock } from "../storage/dir-lock.js";
import type { LockErrors } from "../storage/dir-lock.js";
import { ensureDurableDir } from "../storage/durable-dir.js";
import { nodeFs } from "../storage/fs-layer.js";

const debug = debuglog("outlast");

/** Compact when the log grows past this. */
const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;

export interface FileDedupStateOptions {
  /** Log size that triggers compaction into the snapshot. Default 8 MiB. */
  readonly compactAfterBytes?: number;
}

function stateIoError(dir: string, cause: unknown): OutlastError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new OutlastError(
    "OUTLAST_STATE_IO",
    `state directory ${dir}: ${message}; the server stops rather than acknowledge what it could not make durable`,
    { cause, details: { dir } },
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

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * One client's marks: one slot of the progress file, written (not synced) right
 * before each handler call ("done N-1, started N"); a success is written with
 * the next call's mark, or by settle() when none follows at once. So a
 * pipelined stream costs one small write per message, and a process kill
 * leaves the slot naming the seqs that may have been inside the handler (one
 * call: one seq, or a batch's range). Seqs a server that died may have run
 * (`inDoubt`) stay named in the slot until they are done: otherwise a second
 * kill, after the first call of a long in-doubt range, would forget the rest
 * of the range and run it again unflagged.
 */
class SlotProgress implements ClientProgress {
  #doneSeq: number;
  readonly #doubtToSeq: number;
  #finishPending = false;
  #slot = -1;

  constructor(
    readonly clientId: string,
    lastSeq: number,
    doubtToSeq: number,
    readonly state: FileDedupState,
  ) {
    this.#doneSeq = lastSeq;
    this.#doubtToSeq = doubtToSeq;
  }

  starting(seq: number): void {
    if (this.#slot < 0) this.#slot = this.state.slotOf(this.clientId);
    this.state.writeSlot(this.#slot, this.#doneSeq, Math.max(seq, this.#doubtToSeq));
    this.#finishPending = false;
    this.state.markStarted(this.clientId, seq);
  }

  finished(seq: number): void {
    if (seq > this.#doneSeq) this.#doneSeq = seq;
    this.#finishPending = true;
  }

  settle(): void {
    if (!this.#finishPending) return;
    this.#finishPending = false;
    this.state.writeSlot(this.#slot, this.#doneSeq, Math.max(this.#doneSeq, this.#doubtToSeq));
  }
}

export class FileDedupState implements DedupState {
  readonly #dir: string;
  readonly #lock: DirLock;
  readonly #compactAfterBytes: number;
  readonly #map = new Map<string, SeqPair>();
  #pending = new Map<string, number>();
  /** "Started" marks not written yet: they go into the log with the next commit. */
  #pendingStarted = new Map<string, number>();
  #fd = -1;
  #logBytes = 0;
  /** An fdatasync or a compaction is running: the next commit waits for it. */
  #busy = false;
  #compacting = false;
  #slotsDuringCompaction = new Map<string, number>();
  #progress: ProgressFile | undefined;
  /** crc32 of the clientId owning each progress slot. */
  readonly #slotHash: number[] = [];
  #nextSlot = 0;
  readonly #inDoubt = new Map<string, InDoubt>();
  #failed: Error | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #onCommit: CommitListener = () => {};
  #onFatal: FatalListener = () => {};

  constructor(dir: string, options: FileDedupStateOptions = {}) {
    this.#dir = dir;
    this.#lock = new DirLock(dir, nodeFs, stateLockErrors(dir));
    this.#compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES;
  }

  setListeners(onCommit: CommitListener, onFatal: FatalListener): void {
    this.#onCommit = onCommit;
    this.#onFatal = onFatal;
  }

  async open(): Promise<void> {
    await ensureDurableDir(nodeFs, this.#dir); // its errno error (with the path) names what to fix
    await this.#lock.acquire();
    try {
      await this.#load();
    } catch (err) {
      this.#progress?.close();
      this.#progress = undefined;
      await this.#lock.release();
      throw err;
    }
  }

  async #load(): Promise<void> {
    const snapshotPath = join(this.#dir, "snapshot");
    const snapshot = await readFile(snapshotPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (snapshot !== undefined && !decodeSnapshot(snapshot, this.#map))
      throw new OutlastError(
        "OUTLAST_STATE_CORRUPT",
        `state snapshot ${snapshotPath} is corrupt (bad CRC); restore it from a backup or move it away (then resends of already processed messages run the handler again)`,
        { details: { path: snapshotPath } },
      );
    const logPath = join(this.#dir, "log");
    const log = await readFile(logPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return Buffer.alloc(0);
      throw err;
    });
    const valid = replayLog(log, this.#map);
    if (valid < log.length) {
      debug("state %s: ignoring a torn log tail of %d bytes", this.#dir, log.length - valid);
      await truncate(logPath, valid);
    }
    this.#logBytes = valid;
    const raised = this.#loadProgress();
    this.#fd = openSync(logPath, "a");
    // Successes the progress file knows of but the log does not: make them durable now,
    // so WELCOME (which reports lastSeq) only ever reports fdatasync'd seqs.
    if (raised.size > 0 && !this.#append(encodeRecords(RECORD_DONE, raised))) throw this.#failed as Error;
    fsyncSync(this.#fd); // the truncation, and a fresh file's existence...
    await fsyncDir(this.#dir); // ...and its directory entry
  }

  /**
   * Merges the progress file into the map. Same boot as its last writer: the page cache
   * survived, so the slots are exact (at most one seq was inside the handler). Otherwise
   * (reboot, power loss, no boot id, torn slot): the fdatasync'd log is the floor and
   * every seq up to the highest "started" mark that survived may have run.
   * Returns the clientIds whose lastSeq the progress file raised.
   */
  #loadProgress(): Map<string, number> {
    const progress = ProgressFile.open(join(this.#dir, "progress"));
    this.#progress = progress;
    const raised = new Map<string, number>();
    for (const pair of this.#map.values()) if (pair.slot >= this.#nextSlot) this.#nextSlot = pair.slot + 1;
    for (const [id, pair] of this.#map) {
      const hash = clientIdHash(id);
      let rec = pair.slot >= 0 ? progress.read(pair.slot) : undefined;
      if (pair.slot >= 0) this.#slotHash[pair.slot] = hash;
      if (rec !== undefined && rec.idHash !== hash) rec = undefined;
      const logDone = pair.lastSeq;
      if (rec !== undefined && rec.doneSeq > pair.lastSeq) {
        pair.lastSeq = rec.doneSeq;
        raised.set(id, rec.doneSeq);
      }
      if (pair.startedSeq < pair.lastSeq) pair.startedSeq = pair.lastSeq;
      let doubt: InDoubt;
      if (progress.sameBoot && rec !== undefined && rec.doneSeq >= logDone) {
        doubt = rec.startedSeq > pair.lastSeq ? { fromSeq: pair.lastSeq + 1, toSeq: rec.startedSeq } : NO_DOUBT;
      } else {
        const high = Math.max(pair.startedSeq, rec?.startedSeq ?? 0);
        doubt = high > pair.lastSeq ? { fromSeq: pair.lastSeq + 1, toSeq: high } : NO_DOUBT;
        if (doubt !== NO_DOUBT)
          debug("state %s: %s may have run seqs %d..%d before a reboot", this.#dir, id, doubt.fromSeq, doubt.toSeq);
      }
      if (doubt !== NO_DOUBT) this.#inDoubt.set(id, doubt);
    }
    return raised;
  }

  load(clientId: string): ClientSeqs {
    return { lastSeq: this.#map.get(clientId)?.lastSeq ?? 0, inDoubt: this.#inDoubt.get(clientId) ?? NO_DOUBT };
  }

  progress(clientId: string): ClientProgress {
    const doubt = this.#inDoubt.get(clientId) ?? NO_DOUBT;
    return new SlotProgress(clientId, this.#map.get(clientId)?.lastSeq ?? 0, doubt.toSeq, this);
  }

  #pair(clientId: string): SeqPair {
    let pair = this.#map.get(clientId);
    if (pair === undefined) {
      pair = newSeqPair();
      this.#map.set(clientId, pair);
    }
    return pair;
  }

  /** The clientId's progress slot (assigned on first use); -1 when the state cannot write. */
  slotOf(clientId: string): number {
    const pair = this.#pair(clientId);
    if (pair.slot >= 0) return pair.slot;
    if (this.#fd < 0 || this.#failed !== undefined) return -1;
    const slot = this.#nextSlot++;
    pair.slot = slot;
    this.#slotHash[slot] = clientIdHash(clientId);
    if (this.#compacting) this.#slotsDuringCompaction.set(clientId, slot);
    // Written (not synced) before the slot is used; synced with the first done record of this client.
    this.#append(encodeRecords(RECORD_SLOT, [[clientId, slot]]));
    return slot;
  }

  /** Overwrites one progress slot (page cache, no sync). Hot path. */
  writeSlot(slot: number, doneSeq: number, startedSeq: number): void {
    const file = this.#progress;
    if (slot < 0 || file === undefined || this.#failed !== undefined) return;
    try {
      file.write(slot, this.#slotHash[slot] as number, doneSeq, startedSeq);
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  /**
   * Notes that handler calls up to `seq` started. Written into the log with the next
   * commit (so it is as durable as that commit); the progress slot covers a process kill
   * before that, and after a power loss a lost mark only loses a `redelivery` flag.
   */
  markStarted(clientId: string, seq: number): void {
    if (this.#fd < 0 || this.#failed !== undefined) return;
    const pair = this.#pair(clientId);
    if (seq <= pair.startedSeq) return;
    pair.startedSeq = seq;
    this.#pendingStarted.set(clientId, seq);
  }

  record(clientId: string, seq: number): void {
    const prev = this.#pending.get(clientId);
    if (prev === undefined || seq > prev) this.#pending.set(clientId, seq);
  }

  commit(): void {
    if (this.#busy || this.#pending.size === 0 || this.#fd < 0 || this.#failed !== undefined) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const started = this.#pendingStarted;
    this.#pendingStarted = new Map();
    if (started.size > 0 && !this.#append(encodeRecords(RECORD_STARTED, started))) return;
    if (!this.#append(encodeRecords(RECORD_DONE, batch))) return;
    this.#busy = true;
    const startedMs = performance.now();
    fdatasync(this.#fd, (err) => {
      this.#busy = false;
      if (err) return this.#fail(err);
      for (const [id, seq] of batch) {
        const pair = this.#pair(id);
        if (seq > pair.startedSeq) pair.startedSeq = seq;
        if (seq > pair.lastSeq) pair.lastSeq = seq;
        else batch.delete(id); // never report a seq below one reported before
      }
      if (stateCommitChannel.hasSubscribers)
        stateCommitChannel.publish({ dir: this.#dir, records: batch.size, durationMs: performance.now() - startedMs });
      if (batch.size > 0) this.#onCommit(batch);
      if (this.#logBytes >= this.#compactAfterBytes && !this.#closed) void this.#compact();
      else this.#next();
    });
  }

  #next(): void {
    if (this.#pending.size > 0 && !this.#closed) this.commit();
    if (!this.#busy && (this.#pending.size === 0 || this.#failed !== undefined || this.#closed)) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #append(buf: Buffer): boolean {
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.#fd, buf, off);
      this.#logBytes += buf.length;
      return true;
    } catch (err) {
      this.#fail(err as Error);
      return false;
    }
  }

  #fail(cause: Error): void {
    if (this.#failed !== undefined) return;
    const err = stateIoError(this.#dir, cause);
    this.#failed = err;
    debug("state %s failed: %s", this.#dir, err.message);
    this.#next();
    this.#onFatal(err);
  }

  async #compact(): Promise<void> {
    this.#busy = true;
    this.#compacting = true;
    this.#slotsDuringCompaction = new Map();
    try {
      // Every record written so far is in #map: the snapshot covers the whole log.
      const tmp = join(this.#dir, "snapshot.tmp");
      const handle = await open(tmp, "w");
      try {
        await handle.writeFile(encodeSnapshot(this.#map));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, join(this.#dir, "snapshot"));
      await fsyncDir(this.#dir);
      // A crash before this line replays the old log over the snapshot: max-merge, harmless.
      // Truncate and re-append what the snapshot may have missed with no await in between.
      ftruncateSync(this.#fd, 0);
      this.#logBytes = 0;
      this.#compacting = false;
      if (this.#slotsDuringCompaction.size > 0) this.#append(encodeRecords(RECORD_SLOT, this.#slotsDuringCompaction));
      debug("state %s: compacted %d clients into the snapshot", this.#dir, this.#map.size);
    } catch (err) {
      this.#fail(err as Error);
    } finally {
      this.#compacting = false;
      this.#busy = false;
      this.#next();
    }
  }

  flush(): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    this.commit();
    if (!this.#busy && this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#idleWaiters.push(() => (this.#failed === undefined ? resolve() : reject(this.#failed)));
    });
  }

  async close(graceful: boolean): Promise<void> {
    if (this.#closed) return;
    if (graceful && this.#failed === undefined) await this.flush().catch(() => undefined);
    this.#closed = true;
    // Never close the fd under a running fdatasync/compaction.
    if (this.#busy) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    if (this.#fd >= 0) {
      try {
        closeSync(this.#fd);
      } catch {
        // already reported through onFatal if it mattered
      }
      this.#fd = -1;
    }
    try {
      this.#progress?.close();
    } catch {
      // nothing left to lose: the log holds every acknowledged seq
    }
    this.#progress = undefined;
    await this.#lock.release();
  }
}
