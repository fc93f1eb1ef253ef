/**
 * The segment files of one outbox, oldest first; the newest is the active one
 * that appends go to. Segments are deleted oldest-first only (a prefix), once
 * every record in them is acknowledged or dropped AND the ACK/DROP records
 * saying so are durable, so replaying what is left always gives the same
 * answer. Every creation and deletion is followed by a directory fsync.
 */

import { join } from "node:path";
import { debuglog } from "node:util";
import type { StorageFs } from "./fs-layer.js";
import { errnoCode } from "./errno.js";
import { segmentFileName } from "./record-format.js";
import { SegmentWriter } from "./segment-writer.js";

const debug = debuglog("outlast");

/** A segment was created or deleted (for diagnostics channels). */
export interface SegmentChange {
  readonly dir: string;
  readonly action: "created" | "deleted";
  readonly segment: number;
  readonly checkpoint?: boolean;
}

interface SegmentEntry {
  readonly number: number;
  bytes: number;
  /** The control version whose ACK/DROP emptied it; undefined while it holds live records. */
  deadAt: number | undefined;
}

export class SegmentSet {
  readonly #entries: SegmentEntry[];
  #active: SegmentWriter | undefined;
  #maxNumber: number;
  #totalBytes = 0;

  constructor(
    readonly fs: StorageFs,
    readonly dir: string,
    kept: readonly { number: number; bytes: number }[],
    maxNumber: number,
    readonly liveIn: (segment: number) => number,
    readonly onChange: (change: SegmentChange) => void = () => {},
  ) {
    this.#entries = kept.map((k) => ({
      number: k.number,
      bytes: k.bytes,
      deadAt: liveIn(k.number) === 0 ? 0 : undefined,
    }));
    for (const e of this.#entries) this.#totalBytes += e.bytes;
    this.#maxNumber = maxNumber;
  }

  get active(): SegmentWriter {
    if (this.#active === undefined) throw new Error("SegmentSet: no active segment");
    return this.#active;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  get count(): number {
    return this.#entries.length;
  }

  /** Starts a new active segment holding `body` (a META record, or a whole checkpoint). */
  async roll(body: Uint8Array, checkpoint: boolean): Promise<SegmentWriter> {
    const n = this.#maxNumber + 1;
    const writer = await SegmentWriter.create(this.fs, this.dir, n, checkpoint, body);
    this.#maxNumber = n;
    const previous = this.#active;
    this.#active = writer;
    this.#entries.push({ number: n, bytes: writer.size, deadAt: undefined });
    this.#totalBytes += writer.size;
    this.onChange({ dir: this.dir, action: "created", segment: n, checkpoint });
    await previous?.close().catch((e: unknown) => debug("log: closing a sealed segment: %s", String(e)));
    return writer;
  }

  /**
   * Makes the newest kept segment the active one again (appends go on after
   * its last record). Only for a segment that holds a META record, so the
   * clientId and next seq stay in the newest segment.
   */
  async reopenNewest(): Promise<SegmentWriter> {
    if (this.#active !== undefined) throw new Error("SegmentSet: already has an active segment");
    const last = this.#entries.at(-1);
    if (last === undefined) throw new Error("SegmentSet: no segment to reopen");
    const writer = await SegmentWriter.open(this.fs, this.dir, last.number, last.bytes);
    this.#active = writer;
    return writer;
  }

  /** Appends to the active segment and fdatasyncs (see SegmentWriter.append). */
  async append(data: Uint8Array, now = false): Promise<void> {
    const w = this.active;
    const before = w.size;
    try {
      await w.append(data, now);
    } finally {
      const entry = this.#entries.at(-1) as SegmentEntry;
      entry.bytes = w.size;
      this.#totalBytes += w.size - before;
    }
  }

  /** The segment's last live record went away with control version `version` (it may fill again while active). */
  markDead(segment: number, version: number): void {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i] as SegmentEntry;
      if (e.number === segment) {
        e.deadAt = version;
        return;
      }
    }
  }

  /** Deletes the oldest segments while they are sealed and dead as of `durableVersion`. */
  async deleteDead(durableVersion: number): Promise<number> {
    let n = 0;
    while (this.#entries.length > 1) {
      const e = this.#entries[0] as SegmentEntry;
      if (e.deadAt === undefined || e.deadAt > durableVersion || this.liveIn(e.number) > 0) break;
      if (!(await this.#unlink(e))) break;
      n++;
    }
    return n;
  }

  /** After a checkpoint: every segment older than the active one goes. */
  async deleteAllBeforeActive(): Promise<number> {
    let n = 0;
    while (this.#entries.length > 1) {
      if (!(await this.#unlink(this.#entries[0] as SegmentEntry))) break;
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    const w = this.#active;
    this.#active = undefined;
    await w?.close();
  }

  /**
   * Removes the first entry's file and fsyncs the directory (one at a time, so
   * a power cut can only leave a prefix deleted, never a hole); false (and
   * keeps it) when that fails (and keeps it) when that fails: a leftover dead segment only costs space. */
  async #unlink(e: SegmentEntry): Promise<boolean> {
    try {
      await this.fs.unlink(join(this.dir, segmentFileName(e.number)));
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") {
        debug("log %s: could not delete segment %d: %s", this.dir, e.number, String(err));
        return false;
      }
    }
    await this.#syncDir();
    this.#entries.shift();
    this.#totalBytes -= e.bytes;
    this.onChange({ dir: this.dir, action: "deleted", segment: e.number });
    return true;
  }

  async #syncDir(): Promise<void> {
    try {
      await this.fs.fsyncDir(this.dir);
    } catch (err) {
      // The deleted segments may come back after a power cut; their records are dead either way.
      debug("log %s: directory fsync after deleting segments failed: %s", this.dir, String(err));
    }
  }
}
