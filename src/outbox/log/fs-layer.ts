/**
 * The file-system operations the outbox uses, behind an interface so tests can
 * swap in a layer that records writes and syncs and simulates power loss
 * (test/outbox/power-loss.test.ts). `nodeFs` is the real one, over
 * node:fs/promises FileHandles: asynchronous, nothing blocks the event loop.
 */

import { constants } from "node:fs";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { FileHandle } from "node:fs/promises";

/** An open file of the outbox. Positions are explicit: no shared file offset. */
export interface OutboxFile {
  /** Writes all of `data` at `position` (loops on short writes). */
  write(data: Uint8Array, position: number): Promise<void>;
  /** fdatasync(2): the data written so far (and the size) is durable. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface OutboxFs {
  /** Creates the directory (and parents) when missing, mode 0700. */
  mkdirp(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  /** The whole file; rejects with ENOENT when missing. */
  readFile(path: string): Promise<Buffer>;
  /** Creates a new file (O_CREAT|O_EXCL, mode 0600) for writing; EEXIST when it exists. */
  createExclusive(path: string): Promise<OutboxFile>;
  /** Opens an existing file for writing (no truncation). */
  openForWrite(path: string): Promise<OutboxFile>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** fsync(2) on the directory, so created/removed/renamed entries are durable. */
  fsyncDir(dir: string): Promise<void>;
  /** This process's pid (written into the lock file). */
  readonly pid: number;
  /** True when a process with this pid exists (stale-lock detection). */
  isProcessAlive(pid: number): boolean;
}

class NodeFile implements OutboxFile {
  constructor(readonly handle: FileHandle) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      if (bytesWritten <= 0) throw Object.assign(new Error("write wrote nothing"), { code: "EIO" });
      done += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** The real file system. */
export const nodeFs: OutboxFs = {
  async mkdirp(dir) {
    const first = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    // Make the new directories' entries durable: fsync each parent, from the deepest up.
    for (let d = dir; ; d = dirname(d)) {
      await nodeFs.fsyncDir(dirname(d));
      if (d === first || dirname(d) === d) break;
    }
  },
  readdir: (dir) => readdir(dir),
  readFile: (path) => readFile(path),
  async createExclusive(path) {
    return new NodeFile(await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  },
  async openForWrite(path) {
    return new NodeFile(await open(path, constants.O_WRONLY));
  },
  unlink: (path) => unlink(path),
  rename: (from, to) => rename(from, to),
  async fsyncDir(dir) {
    const h = await open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
  pid: process.pid,
  isProcessAlive: isAlive,
};
