/**
 * Carrying out what a replay of the log found must be repaired, each repair
 * durable before the next (the outbox's and the server state's opens both do
 * this; docs/outbox.md, "Recovery"):
 * - a torn tail of the newest segment is cut off (the cut is synced);
 * - a corrupt part is copied to `quarantine/` (synced), and only then cut off;
 *   a segment with an unreadable header is moved there whole;
 * - obsolete segments are removed, then the directory is fsync'd.
 */

import { join } from "node:path";
import { errnoCode } from "./errno.js";
import type { StorageFs } from "./fs-layer.js";

export const QUARANTINE_DIR = "quarantine";

/** A repair the next open makes, in the order it makes them. */
export type Repair =
  /** Torn tail of the newest segment: cut the file to `length` (`bytes` go). */
  | { readonly kind: "cut"; readonly segment: string; readonly length: number; readonly bytes: number }
  /** Corrupt from `offset` on: copy `tail` to quarantine/, then cut the segment at `offset`. */
  | {
      readonly kind: "quarantineTail";
      readonly segment: string;
      readonly offset: number;
      readonly tail: Buffer;
      readonly reason: string;
    }
  /** Unreadable header: move the whole file to quarantine/. */
  | { readonly kind: "quarantineWhole"; readonly segment: string; readonly bytes: number; readonly reason: string };

export interface QuarantinedPart {
  /** The file under `quarantine/` holding the bytes. */
  readonly file: string;
  readonly segment: string;
  /** Where the bad part started in the segment. */
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
}

/** The name of the quarantine file a repair writes (for reports made without repairing). */
export function quarantineFileName(repair: Exclude<Repair, { kind: "cut" }>): string {
  return repair.kind === "quarantineWhole" ? `${repair.segment}.whole.bad` : `${repair.segment}.${repair.offset}.bad`;
}

/** Carries out `repairs` in order, then removes the `obsolete` segment files. */
export async function applyRepairs(
  fs: StorageFs,
  dir: string,
  repairs: readonly Repair[],
  obsolete: readonly string[],
): Promise<{ quarantined: QuarantinedPart[]; tornBytes: number }> {
  const quarantined: QuarantinedPart[] = [];
  let tornBytes = 0;
  for (const repair of repairs) {
    if (repair.kind === "cut") {
      tornBytes += repair.bytes;
      await cutSegment(fs, join(dir, repair.segment), repair.length);
    } else if (repair.kind === "quarantineTail") {
      quarantined.push(await quarantineTail(fs, dir, repair));
    } else {
      quarantined.push(await quarantineWhole(fs, dir, repair));
    }
  }
  for (const name of obsolete) {
    try {
      await fs.unlink(join(dir, name));
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
  }
  if (obsolete.length > 0) await fs.fsyncDir(dir);
  return { quarantined, tornBytes };
}

/** fdatasyncs a kept segment whose bytes the replay may have read from the page cache only. */
export async function syncSegment(fs: StorageFs, path: string): Promise<void> {
  const f = await fs.openForWrite(path);
  try {
    await f.datasync();
  } finally {
    await f.close();
  }
}

async function cutSegment(fs: StorageFs, path: string, length: number): Promise<void> {
  const f = await fs.openForWrite(path);
  try {
    await f.truncate(length);
    await f.datasync();
  } finally {
    await f.close();
  }
}

/** Writes `bytes` durably to a new file in quarantine/ (replacing one left by an interrupted earlier try). */
async function writeQuarantine(fs: StorageFs, dir: string, file: string, bytes: Uint8Array): Promise<void> {
  const qdir = join(dir, QUARANTINE_DIR);
  await fs.mkdirp(qdir);
  const path = join(qdir, file);
  await fs.unlink(path).catch(() => undefined);
  const f = await fs.createExclusive(path);
  try {
    await f.write(bytes, 0);
    await f.datasync();
  } finally {
    await f.close();
  }
  await fs.fsyncDir(qdir);
  await fs.fsyncDir(dir);
}

async function quarantineTail(
  fs: StorageFs,
  dir: string,
  repair: Extract<Repair, { kind: "quarantineTail" }>,
): Promise<QuarantinedPart> {
  const file = quarantineFileName(repair);
  await writeQuarantine(fs, dir, file, repair.tail);
  await cutSegment(fs, join(dir, repair.segment), repair.offset); // only after the copy is durable
  return { file, segment: repair.segment, offset: repair.offset, bytes: repair.tail.length, reason: repair.reason };
}

async function quarantineWhole(
  fs: StorageFs,
  dir: string,
  repair: Extract<Repair, { kind: "quarantineWhole" }>,
): Promise<QuarantinedPart> {
  const file = quarantineFileName(repair);
  await fs.mkdirp(join(dir, QUARANTINE_DIR));
  await fs.rename(join(dir, repair.segment), join(dir, QUARANTINE_DIR, file));
  await fs.fsyncDir(join(dir, QUARANTINE_DIR));
  await fs.fsyncDir(dir);
  return { file, segment: repair.segment, offset: 0, bytes: repair.bytes, reason: repair.reason };
}
