/**
 * The active segment: created durably (header and first records written and
 * fdatasync'd, then the directory fsync'd, before anything is appended), or
 * the newest existing segment taken up again at open; then appended to at an
 * explicit position. `append` is one write and ONE fdatasync
 * for a whole group-committed batch.
 *
 * Failures say how bad they are (`SegmentWriteError.fatal`):
 * - a write that fails for lack of space is undone (the file is cut back to
 *   where it was, and that cut is synced): nothing was stored, the log is
 *   consistent, the outbox can go on;
 * - any failed fdatasync, or a write failure that cannot be undone, is fatal:
 *   after a failed fsync the kernel may have dropped the dirty pages and a
 *   retry can "succeed" without the data ever reaching the disk.
 */

import { join } from "node:path";
import type { StorageFile, StorageFs } from "./fs-layer.js";
import { isSpaceError } from "./errno.js";
import { encodeSegmentHeader, segmentFileName } from "./record-format.js";

export class SegmentWriteError extends Error {
  constructor(
    readonly phase: "create" | "write" | "sync",
    readonly fatal: boolean,
    options: ErrorOptions,
  ) {
    super(`segment ${phase} failed`, options);
  }
}

export class SegmentWriter {
  #size: number;

  private constructor(
    readonly number: number,
    readonly path: string,
    readonly file: StorageFile,
    size: number,
  ) {
    this.#size = size;
  }

  /** Bytes in the file (all of them durable once an append has resolved). */
  get size(): number {
    return this.#size;
  }

  /**
   * Creates segment `n` holding its header and `body`, durably: file data
   * synced, then the directory, so the segment survives power loss before it
   * is used. On failure the half-made file is removed (best effort).
   */
  static async create(
    fs: StorageFs,
    dir: string,
    n: number,
    checkpoint: boolean,
    body: Uint8Array,
  ): Promise<SegmentWriter> {
    const path = join(dir, segmentFileName(n));
    const header = encodeSegmentHeader(n, checkpoint);
    const data = Buffer.concat([header, body]);
    let file: StorageFile | undefined;
    try {
      file = await fs.createExclusive(path);
      await file.write(data, 0);
      await file.datasync();
      await fs.fsyncDir(dir);
      return new SegmentWriter(n, path, file, data.length);
    } catch (cause) {
      if (file !== undefined) {
        await file.close().catch(() => undefined);
        await fs.unlink(path).catch(() => undefined);
      }
      throw new SegmentWriteError("create", !isSpaceError(cause), { cause });
    }
  }

  /**
   * Goes on appending to existing segment `n`, whose first `size` bytes
   * recovery read and kept (so an outbox reopened again and again does not
   * start a segment each time). Those bytes are fdatasync'd first: what the
   * replay found (perhaps still only in the page cache after a killed
   * process) is durable before any of it is sent.
   */
  static async open(fs: StorageFs, dir: string, n: number, size: number): Promise<SegmentWriter> {
    const path = join(dir, segmentFileName(n));
    let file: StorageFile | undefined;
    try {
      file = await fs.openForWrite(path);
      await file.datasync();
      return new SegmentWriter(n, path, file, size);
    } catch (cause) {
      await file?.close().catch(() => undefined);
      throw new SegmentWriteError(file === undefined ? "create" : "sync", file !== undefined, { cause });
    }
  }

  /**
   * Appends `data` and fdatasyncs it; resolves only when it is durable. `now`:
   * the write is synchronous (a small batch: one thread-pool round trip less
   * per commit; the fdatasync stays asynchronous).
   */
  async append(data: Uint8Array, now = false): Promise<void> {
    const at = this.#size;
    try {
      if (now) this.file.writeNow(data, at);
      else await this.file.write(data, at);
    } catch (cause) {
      // Undo a partial write so the next batch starts on a record boundary.
      let undone: boolean;
      try {
        await this.file.truncate(at);
        await this.file.datasync();
        undone = true;
      } catch {
        undone = false;
      }
      throw new SegmentWriteError("write", !(undone && isSpaceError(cause)), { cause });
    }
    this.#size = at + data.length;
    try {
      await this.file.datasync();
    } catch (cause) {
      throw new SegmentWriteError("sync", true, { cause });
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
