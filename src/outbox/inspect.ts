/**
 * Looking into a durable outbox directory without opening it: reads only.
 * No lock is taken and nothing is written, so it works while another process
 * (an `outlast send`) holds the outbox. A torn tail or a corrupt part is
 * reported as what the next open would repair, not repaired. The figures are
 * a snapshot: a live writer may append, acknowledge or delete segments while
 * they are read (a segment deleted under the reader restarts the read).
 */

import { join } from "node:path";
import { OutlastError } from "../errors/outlast-error.js";
import type { StorageFs } from "../storage/fs-layer.js";
import { nodeFs } from "../storage/fs-layer.js";
import { errnoCode } from "../storage/errno.js";
import { outboxIoError } from "./log/io-errors.js";
import { liveLockHolder } from "../storage/dir-lock.js";
import { quarantineFileName } from "./log/recovery.js";
import type { Replayed } from "./log/replay.js";
import { QUARANTINE_DIR, replay, segmentNumbers } from "./log/replay.js";

/** The reads inspection makes (tests pass a simulated file system). */
export type OutboxReadFs = Pick<StorageFs, "readdir" | "readFile" | "bootId" | "processStartTime">;

export interface InspectOutboxOptions {
  /** Default: node:fs. */
  readonly fs?: OutboxReadFs;
}

/** A corrupt part the next open will move to quarantine/. */
export interface DamagedPart {
  readonly segment: string;
  /** Where the bad part starts in the segment (0: the whole file). */
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
  /** The file it will be moved to (relative to the outbox directory: quarantine/...). */
  readonly file: string;
}

export interface OutboxInspection {
  readonly dir: string;
  /** The clientId the stored messages belong to; undefined when nothing was ever stored. */
  readonly clientId: string | undefined;
  /**
   * The seq after the highest one the readable records show: the seq the next
   * message will get, unless `damaged` is not empty. Then the next open jumps
   * it by SEQ_JUMP_AFTER_DAMAGE (2^32), since the damaged records' seqs are unknown.
   */
  readonly nextSeq: number;
  /** Messages stored and not acknowledged (nor dropped). */
  readonly messages: number;
  /** Sum of their payload sizes. */
  readonly bytes: number;
  readonly importantMessages: number;
  /** Messages that carry an expiry time. */
  readonly expiringMessages: number;
  /** Lowest and highest unacknowledged seq (undefined when empty). */
  readonly firstSeq: number | undefined;
  readonly lastSeq: number | undefined;
  /** The earliest createdAtMs (wall clock, ms since the epoch) of an unacknowledged message; undefined when empty. */
  readonly oldestCreatedAtMs: number | undefined;
  /** Segment files, and the bytes they take on disk. */
  readonly segments: number;
  readonly diskBytes: number;
  /** Parts moved aside by earlier opens, under quarantine/ (file is relative to dir). */
  readonly quarantined: readonly { readonly file: string; readonly bytes: number }[];
  readonly quarantinedBytes: number;
  /** Bytes at the end of the newest segment that are not a whole record: a crash mid-write, or a write in progress (see lockedBy). The next open cuts them off. */
  readonly tornBytes: number;
  /** Corrupt parts the next open will quarantine. */
  readonly damaged: readonly DamagedPart[];
  /** Segment files the next open will remove (obsolete: nothing in them is needed). */
  readonly obsoleteSegments: number;
  /** The pid of a live process holding the outbox's lock (an `outlast send`, a client); undefined when none. */
  readonly lockedBy: number | undefined;
}

const ATTEMPTS = 5;

/**
 * Reports what the outbox in `dir` holds, reading only: no lock, no repair,
 * no write. Rejects with OUTLAST_OUTBOX_IO when the directory cannot be read
 * (`details.errno` ENOENT when it does not exist), OUTLAST_INVALID_OPTION when
 * it holds other files and no outbox, OUTLAST_OUTBOX_CORRUPT when a segment
 * has a newer format version.
 */
export async function inspectOutbox(dir: string, options: InspectOutboxOptions = {}): Promise<OutboxInspection> {
  const fs = options.fs ?? nodeFs;
  const lockedBy = await liveLockHolder(fs, dir);
  let r: Replayed | undefined;
  for (let attempt = 1; r === undefined; attempt++) {
    try {
      const numbers = segmentNumbers(dir, await fs.readdir(dir));
      r = await replay(dir, numbers, (name) => fs.readFile(join(dir, name)));
    } catch (err) {
      if (err instanceof OutlastError) throw err;
      // A live writer deleted a segment after the directory was listed: read again.
      if (errnoCode(err) === "ENOENT") {
        if (!(await exists(fs, dir))) {
          throw new OutlastError(
            "OUTLAST_OUTBOX_IO",
            `there is no outbox at ${dir} (no such directory); pass the directory the outbox was opened in`,
            {
              cause: err,
              details: { dir, errno: "ENOENT", fatal: false },
            },
          );
        }
        if (attempt < ATTEMPTS) continue;
      }
      throw outboxIoError(dir, "reading the outbox", err, false);
    }
  }

  let important = 0;
  let expiring = 0;
  let oldest: number | undefined;
  const live = r.index.liveRecords();
  for (const rec of live) {
    if (rec.important) important++;
    if (rec.expiresAtMs !== Infinity) expiring++;
    if (oldest === undefined || rec.createdAtMs < oldest) oldest = rec.createdAtMs;
  }
  let tornBytes = 0;
  const damaged: DamagedPart[] = [];
  for (const repair of r.repairs) {
    if (repair.kind === "cut") tornBytes += repair.bytes;
    else if (repair.kind === "quarantineTail")
      damaged.push({
        segment: repair.segment,
        offset: repair.offset,
        bytes: repair.tail.length,
        reason: repair.reason,
        file: join(QUARANTINE_DIR, quarantineFileName(repair)),
      });
    else
      damaged.push({
        segment: repair.segment,
        offset: 0,
        bytes: repair.bytes,
        reason: repair.reason,
        file: join(QUARANTINE_DIR, quarantineFileName(repair)),
      });
  }
  const quarantined = await quarantineFiles(fs, dir);
  return {
    dir,
    clientId: r.clientId,
    nextSeq: r.seqFloor,
    messages: r.index.count,
    bytes: r.index.bytes,
    importantMessages: important,
    expiringMessages: expiring,
    firstSeq: live[0]?.seq,
    lastSeq: live.at(-1)?.seq,
    oldestCreatedAtMs: oldest,
    segments: r.segmentFiles,
    diskBytes: r.fileBytes,
    quarantined,
    quarantinedBytes: quarantined.reduce((a, q) => a + q.bytes, 0),
    tornBytes,
    damaged,
    obsoleteSegments: r.obsolete.length,
    lockedBy,
  };
}

async function exists(fs: OutboxReadFs, dir: string): Promise<boolean> {
  try {
    await fs.readdir(dir);
    return true;
  } catch {
    return false;
  }
}

/** The files under quarantine/, with their sizes (the directory is missing when nothing was ever quarantined). */
export async function quarantineFiles(fs: OutboxReadFs, dir: string): Promise<{ file: string; bytes: number }[]> {
  const qdir = join(dir, QUARANTINE_DIR);
  let names: string[];
  try {
    names = (await fs.readdir(qdir)).sort();
  } catch {
    return [];
  }
  const out: { file: string; bytes: number }[] = [];
  for (const name of names) {
    try {
      out.push({ file: join(QUARANTINE_DIR, name), bytes: (await fs.readFile(join(qdir, name))).length });
    } catch {
      // not a file (or gone): not a quarantined part
    }
  }
  return out;
}
