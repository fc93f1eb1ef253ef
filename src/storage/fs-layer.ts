/**
 * The file-system operations of the durable log (the client's outbox and the
 * server's state directory), behind an interface so tests can swap in a layer
 * that records writes and syncs and simulates power loss
 * (test/storage/crash-fs.ts). `nodeFs` is the real one, over node:fs/promises
 * FileHandles: asynchronous, nothing blocks the event loop (except the small
 * in-place file, whose writes are synchronous by design).
 */

import { closeSync, constants, fdatasync, openSync, readFileSync, writeSync } from "node:fs";
import { link, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { makeDirs } from "./make-dirs.js";
import type { FileHandle } from "node:fs/promises";

/** An open file of the log. Positions are explicit: no shared file offset. */
export interface StorageFile {
  /** Writes all of `data` at `position` (loops on short writes). */
  write(data: Uint8Array, position: number): Promise<void>;
  /**
   * The same, synchronously: for a small write, where the thread-pool round trip
   * costs more than the write itself (the server state's group commit). Throws.
   */
  writeNow(data: Uint8Array, position: number): void;
  /** fdatasync(2): the data written so far (and the size) is durable. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A small file overwritten in place with synchronous positional writes (the
 * server's progress slots: one write per message, into the page cache, which
 * outlives the process but not the machine).
 */
export interface InPlaceFile {
  /** The file's contents when it was opened. */
  readonly contents: Buffer;
  /** pwrite(2) of all of `data` at `position`; throws on I/O errors. Hot path. */
  writeAt(data: Uint8Array, position: number): void;
  datasync(): Promise<void>;
  close(): void;
}

export interface StorageFs {
  /**
   * Creates the directory and missing parents, mode 0700; resolves with the
   * first directory it created (undefined when `dir` existed). Not durable by
   * itself: durable-dir.ts syncs the parents.
   */
  mkdirp(dir: string): Promise<string | undefined>;
  readdir(dir: string): Promise<string[]>;
  /** The whole file; rejects with ENOENT when missing. */
  readFile(path: string): Promise<Buffer>;
  /** Creates a new file (O_CREAT|O_EXCL, mode 0600) for writing; EEXIST when it exists. */
  createExclusive(path: string): Promise<StorageFile>;
  /** Opens an existing file for writing (no truncation). */
  openForWrite(path: string): Promise<StorageFile>;
  /** Opens (creating when missing, mode 0600) a file to overwrite in place. */
  openInPlace(path: string): Promise<InPlaceFile>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** link(2): `to` becomes a second name of `from`; EEXIST when `to` exists (an atomic create-if-absent). */
  link(from: string, to: string): Promise<void>;
  /** fsync(2) on the directory, so created/removed/renamed entries are durable. */
  fsyncDir(dir: string): Promise<void>;
  /** This process's pid (written into the lock file). */
  readonly pid: number;
  /** This boot's id (Linux: /proc/sys/kernel/random/boot_id); "" when the platform has none. */
  bootId(): string;
  /**
   * When process `pid` started, as the kernel says (Linux: field 22 of
   * /proc/<pid>/stat, an opaque string); undefined when no such process
   * exists; "" when it exists but the platform cannot say.
   */
  processStartTime(pid: number): string | undefined;
}

class NodeFile implements StorageFile {
  constructor(readonly handle: FileHandle) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      if (bytesWritten <= 0) throw Object.assign(new Error("write wrote nothing"), { code: "EIO" });
      done += bytesWritten;
    }
  }

  writeNow(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.handle.fd, data, done, data.length - done, position + done);
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

function readBootId(): string {
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    return /^[0-9a-f-]{1,64}$/.test(id) ? id : "";
  } catch {
    return "";
  }
}

/** Read once: it does not change while the process lives. */
let bootIdCache: string | undefined;

function startTimeOf(pid: number): string | undefined {
  if (!hasProcFs()) return existsWithoutProc(pid) ? "" : undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined; // no such process (or it just went away)
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the fields after the last ")" are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? ""; // field 22: starttime, in clock ticks since boot
}

let procFs: boolean | undefined;

function hasProcFs(): boolean {
  if (procFs === undefined) {
    try {
      readFileSync("/proc/self/stat");
      procFs = true;
    } catch {
      procFs = false;
    }
  }
  return procFs;
}

/** Without /proc: does the process exist? (Its start time stays unknown.) */
function existsWithoutProc(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

class NodeInPlaceFile implements InPlaceFile {
  constructor(
    readonly fd: number,
    readonly contents: Buffer,
  ) {}

  writeAt(data: Uint8Array, position: number): void {
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off, position + off);
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The real file system. */
export const nodeFs: StorageFs = {
  mkdirp: (dir) => makeDirs(dir, 0o700),
  readdir: (dir) => readdir(dir),
  readFile: (path) => readFile(path),
  async createExclusive(path) {
    return new NodeFile(await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
  },
  async openForWrite(path) {
    return new NodeFile(await open(path, constants.O_WRONLY));
  },
  async openInPlace(path) {
    // Synchronous open and read: one small file, once per open of the state.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      return await Promise.resolve(new NodeInPlaceFile(fd, readFileSync(fd)));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  },
  unlink: (path) => unlink(path),
  rename: (from, to) => rename(from, to),
  link: (from, to) => link(from, to),
  async fsyncDir(dir) {
    const h = await open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
  pid: process.pid,
  bootId: () => (bootIdCache ??= readBootId()),
  processStartTime: startTimeOf,
};
