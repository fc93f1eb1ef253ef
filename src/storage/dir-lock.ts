/**
 * One writer per directory (the client's outbox, the server's state): the file
 * `<dir>/lock`, naming its holder by pid, boot id and process start time:
 *
 *   outlast-lock 1\n pid <pid>\n boot <boot id>\n start <start time>\n
 *
 * Taken atomically and durably: the content is written to `.lock-<pid>.tmp`
 * and fdatasync'd, then linked to `lock` (link(2) fails with EEXIST when a lock
 * exists, so nobody ever sees a half-written lock), then the directory is
 * fsync'd. A lock is stale, and taken over, when
 * - its boot id is not this boot's (the machine restarted: its holder is gone),
 * - its pid does not exist, or exists but started at another time (a reused pid),
 * - its content is unreadable (only a power cut can leave it so).
 * A lock of the format before (`<pid>\n`) is stale when that pid does not exist.
 * A holder of this boot whose pid lives and started when the lock says (or
 * whose start time the platform cannot tell: no /proc) is never taken over.
 */

import { join } from "node:path";
import { errnoCode } from "./errno.js";
import type { StorageFs } from "./fs-layer.js";

export const LOCK_FILE = "lock";
const MAGIC = "outlast-lock 1";

export interface LockHolder {
  readonly pid: number;
  /** "" when the holder's platform had none (or the lock is of the format before). */
  readonly bootId: string;
  /** "" when the holder's platform could not tell (or the lock is of the format before). */
  readonly startTime: string;
}

/** What a lock user throws: its own coded errors. */
export interface LockErrors {
  /** A live process holds the lock. */
  locked(pid: number): Error;
  /** A file-system failure while taking the lock. */
  io(what: string, cause: unknown): Error;
}

/** The holder a lock file names, or undefined when its content is unreadable. */
export function parseLock(content: Buffer): LockHolder | undefined {
  const text = content.toString("latin1");
  const legacy = /^(\d{1,10})\n$/.exec(text);
  if (legacy !== null) {
    const pid = Number(legacy[1]);
    return pid > 0 ? { pid, bootId: "", startTime: "" } : undefined;
  }
  const m = /^outlast-lock 1\npid (\d{1,10})\nboot ([0-9a-f-]{0,64})\nstart (\d{0,20})\n$/.exec(text);
  if (m === null) return undefined;
  const pid = Number(m[1]);
  return pid > 0 ? { pid, bootId: m[2] as string, startTime: m[3] as string } : undefined;
}

function encodeLock(holder: LockHolder): Buffer {
  return Buffer.from(`${MAGIC}\npid ${holder.pid}\nboot ${holder.bootId}\nstart ${holder.startTime}\n`, "latin1");
}

type Liveness = Pick<StorageFs, "bootId" | "processStartTime">;

/** True when the holder still runs: same boot, its pid exists and started when the lock says. */
export function isLive(fs: Liveness, holder: LockHolder): boolean {
  const boot = fs.bootId();
  if (holder.bootId !== "" && boot !== "" && holder.bootId !== boot) return false; // rebooted since
  const startTime = fs.processStartTime(holder.pid);
  if (startTime === undefined) return false; // no such process
  if (holder.startTime !== "" && startTime !== "" && startTime !== holder.startTime) return false; // pid reused
  return true;
}

/** The pid of the live holder of `dir`'s lock; undefined when there is no lock or it is stale. Reads only. */
export async function liveLockHolder(
  fs: Liveness & Pick<StorageFs, "readFile">,
  dir: string,
): Promise<number | undefined> {
  let content: Buffer;
  try {
    content = await fs.readFile(join(dir, LOCK_FILE));
  } catch {
    return undefined; // no lock file (or unreadable: the next open decides)
  }
  const holder = parseLock(content);
  return holder !== undefined && isLive(fs, holder) ? holder.pid : undefined;
}

/** The previous holder an acquire took over: "none" when the lock was free, "unreadable" for a damaged lock. */
export type TakenOver = LockHolder | "none" | "unreadable";

export class DirLock {
  readonly #path: string;
  readonly #tmp: string;
  #held = false;

  constructor(
    readonly dir: string,
    readonly fs: StorageFs,
    readonly errors: LockErrors,
  ) {
    this.#path = join(dir, LOCK_FILE);
    this.#tmp = join(dir, `.lock-${fs.pid}.tmp`);
  }

  /** Takes the lock (durably); throws `errors.locked(pid)` when a live process holds it. */
  async acquire(): Promise<TakenOver> {
    const me: LockHolder = {
      pid: this.fs.pid,
      bootId: this.fs.bootId(),
      startTime: this.fs.processStartTime(this.fs.pid) ?? "",
    };
    await this.#writeTmp(encodeLock(me));
    let takenOver: TakenOver = "none";
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await this.fs.link(this.#tmp, this.#path);
          await this.fs.fsyncDir(this.dir);
          this.#held = true;
          return takenOver;
        } catch (err) {
          if (errnoCode(err) !== "EEXIST") throw this.errors.io("creating the lock file", err);
        }
        let content: Buffer;
        try {
          content = await this.fs.readFile(this.#path);
        } catch (err) {
          if (errnoCode(err) === "ENOENT") continue; // released meanwhile: try again
          throw this.errors.io("reading the lock file", err);
        }
        const holder = parseLock(content);
        if (holder !== undefined && isLive(this.fs, holder)) throw this.errors.locked(holder.pid);
        takenOver = holder ?? "unreadable";
        try {
          await this.fs.unlink(this.#path);
        } catch (err) {
          if (errnoCode(err) !== "ENOENT") throw this.errors.io("removing a stale lock file", err);
        }
      }
      throw this.errors.io(
        "taking the lock (it kept changing hands)",
        Object.assign(new Error("lock contention"), { code: "EAGAIN" }),
      );
    } finally {
      await this.fs.unlink(this.#tmp).catch(() => undefined); // `lock` keeps the content; a leftover costs nothing
    }
  }

  async #writeTmp(content: Buffer): Promise<void> {
    await this.fs.unlink(this.#tmp).catch(() => undefined); // left by a crashed process that had our pid
    try {
      const f = await this.fs.createExclusive(this.#tmp);
      try {
        await f.write(content, 0);
        await f.datasync();
      } finally {
        await f.close();
      }
    } catch (err) {
      throw this.errors.io("writing the lock file", err);
    }
  }

  /** Removes the lock (when held). Idempotent. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    try {
      await this.fs.unlink(this.#path);
    } catch {
      // Already gone (someone removed the directory): nothing to release.
    }
  }
}
