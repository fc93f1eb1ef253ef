/**
 * An in-memory StorageFs that models what survives a power cut, for the
 * power-loss tests of the outbox (test/outbox/power-loss.test.ts) and of the
 * server's state (test/server/state-power-loss.test.ts).
 *
 * Model (stricter than ext4/xfs, so code that passes here is safe there):
 * - a file's data is durable up to its last completed datasync(); every write
 *   or truncate after it may, at the crash, be lost, applied, applied in part
 *   (torn at 512-byte sectors, in any order), or turned into zeros;
 * - a created, removed or renamed directory entry is durable only after
 *   fsyncDir() of its directory; before that it may or may not survive;
 * - the operation numbered `crashAt` (and everything after it) throws: the
 *   machine lost power while it was being issued (a write in progress may be
 *   partly on disk).
 * - a created directory is durable only after fsyncDir() of its parent; a
 *   directory that did not survive takes everything in it along;
 * - the machine restarts: an image has a new boot id, and its process table
 *   holds only the process opening it (pid 4242 again: a reused pid).
 * The in-place file's synchronous writes are writes like the others.
 */

import { dirname } from "node:path";
import type { InPlaceFile, StorageFile, StorageFs } from "../../src/storage/fs-layer.js";
import { rng } from "../helpers/seed.js";

type DataOp = { kind: "write"; pos: number; bytes: Buffer } | { kind: "truncate"; length: number };
type DirOp =
  | { kind: "mkdir"; path: string }
  | { kind: "link"; path: string; inode: Inode }
  | { kind: "unlink"; path: string }
  | { kind: "rename"; from: string; to: string };

interface Inode {
  data: Buffer<ArrayBufferLike>;
  durable: Buffer<ArrayBufferLike>;
  unsynced: DataOp[];
}

export class PowerCut extends Error {
  override name = "PowerCut";
  readonly code = "EPOWERCUT";
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

function applyOp(data: Buffer, op: DataOp): Buffer<ArrayBufferLike> {
  if (op.kind === "truncate")
    return op.length <= data.length
      ? Buffer.from(data.subarray(0, op.length))
      : Buffer.concat([data, Buffer.alloc(op.length - data.length)]);
  const end = op.pos + op.bytes.length;
  const out = end > data.length ? Buffer.concat([data, Buffer.alloc(end - data.length)]) : Buffer.from(data);
  op.bytes.copy(out, op.pos);
  return out;
}

export type CrashMode = "none" | "all" | "random";

/** The start time of the process that runs the workload (and of the one that reopens an image). */
export const CRASH_FS_START_TIME = "100";

export class CrashFs implements StorageFs {
  readonly pid = 4242;
  /** pid -> start time of the processes alive on this machine (tests add others). */
  readonly processes = new Map<number, string>([[4242, CRASH_FS_START_TIME]]);
  /** Operations issued so far (writes, truncates, syncs, creates, unlinks, renames). */
  ops = 0;
  crashed = false;
  readonly #names = new Map<string, Inode>();
  #durableNames = new Map<string, Inode>();
  #pendingDir: DirOp[] = [];
  readonly #dirs = new Set<string>(["/"]);
  #durableDirs = new Set<string>(["/"]);

  constructor(
    readonly crashAt = Infinity,
    readonly boot = "b0",
  ) {}

  bootId(): string {
    return this.boot;
  }

  processStartTime(pid: number): string | undefined {
    return this.processes.get(pid);
  }

  #step(): void {
    if (this.crashed) throw new PowerCut("power is off");
    if (this.ops === this.crashAt) {
      this.crashed = true;
      throw new PowerCut("power cut");
    }
    this.ops++;
  }

  mkdirp(dir: string): Promise<string | undefined> {
    try {
      const missing: string[] = [];
      for (let d = dir; !this.#dirs.has(d) && d !== dirname(d); d = dirname(d)) missing.unshift(d);
      if (missing.length === 0) return Promise.resolve(undefined);
      this.#step();
      for (const d of missing) {
        this.#dirs.add(d);
        this.#pendingDir.push({ kind: "mkdir", path: d });
      }
      return Promise.resolve(missing[0]);
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  readdir(dir: string): Promise<string[]> {
    if (this.crashed) return Promise.reject(new PowerCut("power is off"));
    if (!this.#dirs.has(dir)) return Promise.reject(errno("ENOENT", dir));
    const out = new Set<string>();
    for (const p of this.#names.keys()) if (dirname(p) === dir) out.add(p.slice(dir.length + 1));
    for (const d of this.#dirs) if (dirname(d) === dir) out.add(d.slice(dir.length + 1));
    return Promise.resolve([...out]);
  }

  readFile(path: string): Promise<Buffer> {
    if (this.crashed) return Promise.reject(new PowerCut("power is off"));
    const i = this.#names.get(path);
    return i === undefined ? Promise.reject(errno("ENOENT", path)) : Promise.resolve(Buffer.from(i.data));
  }

  createExclusive(path: string): Promise<StorageFile> {
    try {
      this.#step();
      if (this.#names.has(path)) throw errno("EEXIST", path);
      if (!this.#dirs.has(dirname(path))) throw errno("ENOENT", path);
      const inode: Inode = { data: Buffer.alloc(0), durable: Buffer.alloc(0), unsynced: [] };
      this.#names.set(path, inode);
      this.#pendingDir.push({ kind: "link", path, inode });
      return Promise.resolve(this.#file(inode));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  openForWrite(path: string): Promise<StorageFile> {
    const inode = this.#names.get(path);
    if (this.crashed) return Promise.reject(new PowerCut("power is off"));
    return inode === undefined ? Promise.reject(errno("ENOENT", path)) : Promise.resolve(this.#file(inode));
  }

  unlink(path: string): Promise<void> {
    try {
      this.#step();
      if (!this.#names.delete(path)) throw errno("ENOENT", path);
      this.#pendingDir.push({ kind: "unlink", path });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  link(from: string, to: string): Promise<void> {
    try {
      this.#step();
      const i = this.#names.get(from);
      if (i === undefined) throw errno("ENOENT", from);
      if (this.#names.has(to)) throw errno("EEXIST", to);
      this.#names.set(to, i);
      this.#pendingDir.push({ kind: "link", path: to, inode: i });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  openInPlace(path: string): Promise<InPlaceFile> {
    try {
      let inode = this.#names.get(path);
      if (inode === undefined) {
        this.#step();
        if (!this.#dirs.has(dirname(path))) throw errno("ENOENT", path);
        inode = { data: Buffer.alloc(0), durable: Buffer.alloc(0), unsynced: [] };
        this.#names.set(path, inode);
        this.#pendingDir.push({ kind: "link", path, inode });
      } else if (this.crashed) throw new PowerCut("power is off");
      const file = this.#file(inode);
      const node = inode;
      return Promise.resolve({
        contents: Buffer.from(inode.data),
        writeAt: (data, position) => {
          const op: DataOp = { kind: "write", pos: position, bytes: Buffer.from(data) };
          if (this.ops === this.crashAt && !this.crashed) node.unsynced.push(op); // in progress at the cut
          this.#step();
          node.data = applyOp(node.data, op);
          node.unsynced.push(op);
        },
        datasync: () => file.datasync(),
        close: () => {},
      });
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  rename(from: string, to: string): Promise<void> {
    try {
      this.#step();
      const i = this.#names.get(from);
      if (i === undefined) throw errno("ENOENT", from);
      this.#names.delete(from);
      this.#names.set(to, i);
      this.#pendingDir.push({ kind: "rename", from, to });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  fsyncDir(dir: string): Promise<void> {
    try {
      this.#step();
      const touches = (op: DirOp): boolean =>
        op.kind === "rename" ? dirname(op.from) === dir || dirname(op.to) === dir : dirname(op.path) === dir;
      const keep: DirOp[] = [];
      for (const op of this.#pendingDir) {
        if (!touches(op)) keep.push(op);
        else if (op.kind === "mkdir") this.#durableDirs.add(op.path);
        else this.#durableNames = CrashFs.#applyDir(this.#durableNames, op);
      }
      this.#pendingDir = keep;
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  static #applyDir(names: Map<string, Inode>, op: Exclude<DirOp, { kind: "mkdir" }>): Map<string, Inode> {
    const out = new Map(names);
    if (op.kind === "link") out.set(op.path, op.inode);
    else if (op.kind === "unlink") out.delete(op.path);
    else {
      const i = out.get(op.from);
      out.delete(op.from);
      if (i !== undefined) out.set(op.to, i);
    }
    return out;
  }

  #file(inode: Inode): StorageFile {
    return {
      write: (data, position) => {
        try {
          const op: DataOp = { kind: "write", pos: position, bytes: Buffer.from(data) };
          if (this.ops === this.crashAt && !this.crashed) inode.unsynced.push(op); // in progress at the cut: maybe partly on disk
          this.#step();
          inode.data = applyOp(inode.data, op);
          inode.unsynced.push(op);
          return Promise.resolve();
        } catch (err) {
          return Promise.reject(asError(err));
        }
      },
      writeNow: (data, position) => {
        const op: DataOp = { kind: "write", pos: position, bytes: Buffer.from(data) };
        if (this.ops === this.crashAt && !this.crashed) inode.unsynced.push(op); // in progress at the cut
        this.#step();
        inode.data = applyOp(inode.data, op);
        inode.unsynced.push(op);
      },
      truncate: (length) => {
        try {
          this.#step();
          const op: DataOp = { kind: "truncate", length };
          inode.data = applyOp(inode.data, op);
          inode.unsynced.push(op);
          return Promise.resolve();
        } catch (err) {
          return Promise.reject(asError(err));
        }
      },
      datasync: () => {
        try {
          this.#step();
          inode.durable = Buffer.from(inode.data);
          inode.unsynced = [];
          return Promise.resolve();
        } catch (err) {
          return Promise.reject(asError(err));
        }
      },
      close: () => Promise.resolve(),
    };
  }

  /**
   * What the disk holds after the power cut: durable state plus some of what
   * was not synced ("none": nothing of it, "all": all of it, "random": each
   * unsynced write lost, kept, torn at sectors, or zeroed; each unsynced
   * directory change kept or not).
   */
  image(mode: CrashMode, random: () => number = Math.random, boot = `${this.boot}+`): CrashFs {
    const out = new CrashFs(Infinity, boot);
    const dirs = new Set(this.#durableDirs);
    let names = this.#durableNames;
    for (const op of this.#pendingDir) {
      if (mode === "all" || (mode === "random" && random() < 0.5)) {
        if (op.kind === "mkdir") dirs.add(op.path);
        else names = CrashFs.#applyDir(names, op);
      }
    }
    // A directory survives when its whole path did; a file when its directory did.
    const reachable = (d: string): boolean => d === dirname(d) || (dirs.has(d) && reachable(dirname(d)));
    for (const d of dirs) if (reachable(d)) out.#dirs.add(d);
    out.#durableDirs = new Set(out.#dirs);
    const images = new Map<Inode, Inode>();
    for (const [path, inode] of names) {
      if (!out.#dirs.has(dirname(path))) continue;
      let img = images.get(inode);
      if (img === undefined) {
        let data: Buffer<ArrayBufferLike> = Buffer.from(inode.durable);
        for (const op of inode.unsynced) {
          if (mode === "none") break;
          if (mode === "all") {
            data = applyOp(data, op);
            continue;
          }
          const r = random();
          if (r < 0.3) continue; // lost
          if (r < 0.6 || op.kind === "truncate") data = applyOp(data, op);
          else if (r < 0.8)
            data = applyOp(data, { kind: "write", pos: op.pos, bytes: Buffer.alloc(op.bytes.length) }); // size grew, data never came
          else data = tornWrite(data, op, random);
        }
        img = { data, durable: Buffer.from(data), unsynced: [] };
        images.set(inode, img);
      }
      out.#names.set(path, img);
    }
    out.#durableNames = new Map(out.#names);
    return out;
  }

  /**
   * What the disk holds after the process was killed (the machine kept
   * running): everything it wrote, synced or not, is in the page cache, also
   * the operation in progress. Same boot; the process that reopens it has the
   * dead one's pid (4242) but started later, as a reused pid does.
   */
  afterProcessKill(): CrashFs {
    const out = this.image("all", Math.random, this.boot);
    out.processes.set(4242, `${CRASH_FS_START_TIME}1`);
    return out;
  }

  /** Every file and its contents (as the running process sees them). */
  files(): Map<string, Buffer> {
    return new Map([...this.#names].map(([p, i]) => [p, Buffer.from(i.data)]));
  }

  /** A file system holding exactly these files, all durable (the power goes at operation `crashAt`). */
  static from(files: ReadonlyMap<string, Uint8Array>, crashAt = Infinity): CrashFs {
    const fs = new CrashFs(crashAt);
    for (const [path, data] of files) {
      for (let d = dirname(path); d !== dirname(d); d = dirname(d)) {
        fs.#dirs.add(d);
        fs.#durableDirs.add(d);
      }
      const inode: Inode = { data: Buffer.from(data), durable: Buffer.from(data), unsynced: [] };
      fs.#names.set(path, inode);
      fs.#durableNames.set(path, inode);
    }
    return fs;
  }
}

/** Some 512-byte sectors of the write reach the disk, in no particular order; the rest keep what was there. */
function tornWrite(
  data: Buffer<ArrayBufferLike>,
  op: { pos: number; bytes: Buffer },
  random: () => number,
): Buffer<ArrayBufferLike> {
  const end = op.pos + op.bytes.length;
  const out = end > data.length ? Buffer.concat([data, Buffer.alloc(end - data.length)]) : Buffer.from(data);
  for (let s = Math.floor(op.pos / 512) * 512; s < end; s += 512) {
    if (random() < 0.5) continue;
    const from = Math.max(s, op.pos);
    const to = Math.min(s + 512, end);
    op.bytes.copy(out, from, from - op.pos, to - op.pos);
  }
  return out;
}

/** The disk images built from each cut: nothing unsynced survived, all of it, and four random mixes. */
const CUT_IMAGES: readonly (readonly [CrashMode, number])[] = [
  ["none", 0],
  ["all", 0],
  ["random", 1],
  ["random", 2],
  ["random", 3],
  ["random", 4],
];

/**
 * Runs `workload` over a CrashFs whose power goes at operation 0, then 1, 2,
 * ... until the workload runs through; after each cut, `check` gets every
 * disk image of it (CUT_IMAGES, random ones seeded by the cut) with the
 * workload's trace, a label naming the cut, and the cut file system itself
 * (for other images of it). Returns the number of cuts.
 */
export async function atEveryCut<T>(
  newTrace: () => T,
  workload: (fs: CrashFs, trace: T) => Promise<void>,
  check: (image: CrashFs, trace: T, label: string, mode: CrashMode, cut: CrashFs) => Promise<void>,
): Promise<number> {
  for (let crashAt = 0; ; crashAt++) {
    const fs = new CrashFs(crashAt);
    const trace = newTrace();
    try {
      await workload(fs, trace);
    } catch (err) {
      if (!fs.crashed) throw err;
    }
    if (!fs.crashed) return crashAt;
    for (const [mode, seed] of CUT_IMAGES) {
      const label = `cut at op ${crashAt}, ${mode}${seed ? ` #${seed}` : ""}`;
      await check(fs.image(mode, rng(crashAt * 100 + seed)), trace, label, mode, fs);
    }
  }
}
