/**
 * One writer per outbox directory: `<dir>/lock`, created with O_EXCL and
 * holding the owner's pid. A lock is stale, and taken over, when that pid no
 * longer exists or the file holds no pid (empty or garbled after a power cut).
 * A live holder gives OUTLAST_OUTBOX_LOCKED naming its pid.
 */

import { join } from "node:path";
import { OutlastError } from "../../errors/outlast-error.js";
import type { OutboxFs } from "./fs-layer.js";
import { errnoCode, outboxIoError } from "./io-errors.js";

export const LOCK_FILE = "lock";

export function lockedError(dir: string, pid: number): OutlastError {
  return new OutlastError(
    "OUTLAST_OUTBOX_LOCKED",
    `outbox directory ${dir} is locked by pid ${pid}; stop that process or pass another outbox`,
    {
      details: { dir, pid },
    },
  );
}

/** The pid in a lock file's contents, or undefined when there is none (stale). */
export function parseLockPid(content: Buffer): number | undefined {
  const m = /^(\d{1,10})\n?$/.exec(content.toString("latin1"));
  if (m === null) return undefined;
  const pid = Number(m[1]);
  return pid > 0 ? pid : undefined;
}

export class OutboxLock {
  readonly #path: string;
  #held = false;

  constructor(
    readonly dir: string,
    readonly fs: OutboxFs,
  ) {
    this.#path = join(dir, LOCK_FILE);
  }

  /** Takes the lock; resolves with the stale holder's pid when one was taken over ("none" when free). */
  async acquire(): Promise<number | "none" | "unreadable"> {
    let takenOver: number | "none" | "unreadable" = "none";
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const f = await this.fs.createExclusive(this.#path);
        try {
          await f.write(Buffer.from(`${this.fs.pid}\n`, "latin1"), 0);
          await f.datasync();
        } finally {
          await f.close();
        }
        await this.fs.fsyncDir(this.dir);
        this.#held = true;
        return takenOver;
      } catch (err) {
        if (errnoCode(err) !== "EEXIST") throw outboxIoError(this.dir, "creating the lock file", err, false);
      }
      let content: Buffer;
      try {
        content = await this.fs.readFile(this.#path);
      } catch (err) {
        if (errnoCode(err) === "ENOENT") continue; // released meanwhile: try again
        throw outboxIoError(this.dir, "reading the lock file", err, false);
      }
      const pid = parseLockPid(content);
      if (pid !== undefined && this.fs.isProcessAlive(pid)) throw lockedError(this.dir, pid);
      takenOver = pid ?? "unreadable";
      try {
        await this.fs.unlink(this.#path);
      } catch (err) {
        if (errnoCode(err) !== "ENOENT") throw outboxIoError(this.dir, "removing a stale lock file", err, false);
      }
    }
    throw outboxIoError(
      this.dir,
      "taking the lock (it kept changing hands)",
      Object.assign(new Error("lock contention"), { code: "EAGAIN" }),
      false,
    );
  }

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
