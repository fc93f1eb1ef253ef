/**
 * A directory the log lives in is made durable before anything in it is
 * trusted: created when missing (mode 0700), then every entry on its path is
 * fsync'd into its parent, from the directory up to the root. Also when the
 * directory already existed: a run that created it may have died before the
 * sync, and a power cut would then take the directory, and every record that
 * was fdatasync'd in it, away. A parent above the first that cannot be opened
 * (no permission) ends the walk: directories we may not read are not ours to
 * create either.
 */

import { dirname, resolve } from "node:path";
import type { StorageFs } from "./fs-layer.js";

export async function ensureDurableDir(fs: StorageFs, dir: string): Promise<void> {
  await fs.mkdirp(dir);
  const leaf = resolve(dir);
  for (let d = leaf; dirname(d) !== d; d = dirname(d)) {
    try {
      await fs.fsyncDir(dirname(d));
    } catch (err) {
      if (d === leaf) throw err; // the directory's own entry must be durable
      return;
    }
  }
}
