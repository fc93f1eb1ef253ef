/**
 * Crash-safe dedup state in a directory (docs/server.md, "State directory"):
 * an append-only `log` of (clientId, seq) records with length and CRC,
 * fdatasync'd before the acknowledgement is sent and group-committed (every
 * record buffered while one fdatasync runs shares the next one), compacted into
 * `snapshot` (temp file + fsync + rename + directory fsync). A torn tail is cut
 * off at open. A `lock` file keeps a second server out.
 */

import { closeSync, fdatasync, fsyncSync, openSync, writeSync } from "node:fs";
import { mkdir, open, readFile, rename, truncate } from "node:fs/promises";
import { join } from "node:path";
import { debuglog } from "node:util";
import { OutlastError } from "../errors/outlast-error.js";
import type { CommitListener, DedupState, FatalListener } from "./dedup-state.js";
import type { SeqPair } from "./dedup-file-format.js";
import { RECORD_DONE, RECORD_STARTED, decodeSnapshot, encodeRecords, encodeSnapshot, replayLog } from "./dedup-file-format.js";
import { StateDirLock } from "./state-dir-lock.js";

const debug = debuglog("outlast");

/** Compact when the log grows past this. */
const DEFAULT_COMPACT_BYTES = 8 * 1024 * 1024;

export interface FileDedupStateOptions {
  /** Log size that triggers compaction into the snapshot. Default 8 MiB. */
  readonly compactAfterBytes?: number;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FileDedupState implements DedupState {
  readonly synchronous = false;
  readonly #dir: string;
  readonly #lock: StateDirLock;
  readonly #compactAfterBytes: number;
  readonly #map = new Map<string, SeqPair>();
  #pending = new Map<string, number>();
  #fd = -1;
  #logBytes = 0;
  /** An fdatasync or a compaction is running: the next commit waits for it. */
  #busy = false;
  #compacting = false;
  #startedDuringCompaction = new Map<string, number>();
  #failed: Error | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  #onCommit: CommitListener = () => {};
  #onFatal: FatalListener = () => {};

  constructor(dir: string, options: FileDedupStateOptions = {}) {
    this.#dir = dir;
    this.#lock = new StateDirLock(dir);
    this.#compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES;
  }

  setListeners(onCommit: CommitListener, onFatal: FatalListener): void {
    this.#onCommit = onCommit;
    this.#onFatal = onFatal;
  }

  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await this.#lock.acquire();
    try {
      await this.#load();
    } catch (err) {
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
    this.#fd = openSync(logPath, "a");
    fsyncSync(this.#fd); // the truncation, and a fresh file's existence...
    await fsyncDir(this.#dir); // ...and its directory entry
  }

  lastSeq(clientId: string): number {
    return this.#map.get(clientId)?.lastSeq ?? 0;
  }

  startedSeq(clientId: string): number {
    return this.#map.get(clientId)?.startedSeq ?? 0;
  }

  #pair(clientId: string): SeqPair {
    let pair = this.#map.get(clientId);
    if (pair === undefined) {
      pair = { lastSeq: 0, startedSeq: 0 };
      this.#map.set(clientId, pair);
    }
    return pair;
  }

  markStarted(clientId: string, seq: number): void {
    if (this.#fd < 0 || this.#failed !== undefined) return;
    const pair = this.#pair(clientId);
    if (seq <= pair.startedSeq) return;
    pair.startedSeq = seq;
    if (this.#compacting) this.#startedDuringCompaction.set(clientId, seq);
    // Written (not synced) before the handler runs: survives a process crash, not a power loss.
    this.#append(encodeRecords(RECORD_STARTED, [[clientId, seq]]));
  }

  record(clientId: string, seq: number): void {
    const prev = this.#pending.get(clientId);
    if (prev === undefined || seq > prev) this.#pending.set(clientId, seq);
  }

  commit(): void {
    if (this.#busy || this.#pending.size === 0 || this.#fd < 0 || this.#failed !== undefined) return;
    const batch = this.#pending;
    this.#pending = new Map();
    if (!this.#append(encodeRecords(RECORD_DONE, batch))) return;
    for (const [id, seq] of batch) {
      const pair = this.#pair(id);
      if (seq > pair.lastSeq) pair.lastSeq = seq;
      if (seq > pair.startedSeq) pair.startedSeq = seq;
    }
    this.#busy = true;
    fdatasync(this.#fd, (err) => {
      this.#busy = false;
      if (err) return this.#fail(err);
      this.#onCommit(batch);
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
    const err = new OutlastError("OUTLAST_STATE_IO", `state directory ${this.#dir}: ${cause.message}; the server stops rather than acknowledge what it could not make durable`, {
      cause,
      details: { dir: this.#dir },
    });
    this.#failed = err;
    debug("state %s failed: %s", this.#dir, err.message);
    this.#next();
    this.#onFatal(err);
  }

  async #compact(): Promise<void> {
    this.#busy = true;
    this.#compacting = true;
    this.#startedDuringCompaction = new Map();
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
      await truncate(join(this.#dir, "log"), 0);
      this.#logBytes = 0;
      this.#compacting = false;
      if (this.#startedDuringCompaction.size > 0) this.#append(encodeRecords(RECORD_STARTED, this.#startedDuringCompaction));
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
    await this.#lock.release();
  }
}
