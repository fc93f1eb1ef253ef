/**
 * A lock file (`<dir>/lock`, holding the owner's pid) so two servers cannot share
 * one state directory. Created with O_EXCL; a lock whose pid is no longer alive
 * (a crashed server) is taken over.
 */

import { readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OutlastError } from "../errors/outlast-error.js";

const LOCK_FILE = "lock";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function locked(dir: string, pid: number): OutlastError {
  return new OutlastError(
    "OUTLAST_STATE_LOCKED",
    `state directory ${dir} is locked by pid ${pid}; stop that server or pass another state directory`,
    { details: { dir, pid } },
  );
}

export class StateDirLock {
  readonly #path: string;
  #held = false;

  constructor(readonly dir: string) {
    this.#path = join(dir, LOCK_FILE);
  }

  async acquire(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.#path, `${process.pid}\n`, { flag: "wx" });
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      let pid: number;
      try {
        pid = Number.parseInt(await readFile(this.#path, "utf8"), 10);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
        throw err;
      }
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw locked(this.dir, pid);
      // Stale (its owner died, or a torn write left no pid): take it over.
      await unlink(this.#path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    }
    throw locked(this.dir, NaN);
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await unlink(this.#path).catch(() => undefined);
  }
}
