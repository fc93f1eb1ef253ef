/**
 * `mkdir -p` that always ends. Node's `mkdir(dir, { recursive: true })` spins forever at
 * 100% CPU where creating a child keeps failing with ENOENT although its parent exists
 * (any path under /proc or /sys: `outlast serve --state /proc/nope/x` hung and ignored
 * SIGTERM). Here each missing level is created once, top-down, and a second ENOENT is
 * the caller's error.
 */

import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/** Creates `dir` and its missing parents; resolves with the first directory created, or undefined if it existed. */
export async function makeDirs(dir: string, mode = 0o700): Promise<string | undefined> {
  const path = resolve(dir);
  try {
    await mkdir(path, { mode });
    return path;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      if ((await stat(path)).isDirectory()) return undefined;
      throw err;
    }
    const parent = dirname(path);
    if (code !== "ENOENT" || parent === path) throw err;
    const first = await makeDirs(parent, mode);
    try {
      await mkdir(path, { mode }); // once: the parent now exists, so ENOENT again is final
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== "EEXIST") throw again;
    }
    return first ?? path;
  }
}
