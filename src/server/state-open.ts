/**
 * Opening a state directory (FileDedupState.open), each step durable before
 * the next (docs/server.md, "State directory"):
 * 1. replay the log's segments (storage/segment-walk.ts: a torn tail is cut,
 *    a corrupt part quarantined, a complete checkpoint supersedes older ones);
 *    or, when the directory still holds the format before the one log
 *    (state-v1-format.ts) and no complete checkpoint, read that instead;
 * 2. open the `slots` file (progress-file.ts) and merge its marks: same boot as
 *    its last writer, they are exact (the page cache survived a process
 *    kill); otherwise (a reboot: power loss) the log is the floor and every seq
 *    up to the highest "started" mark that survived may have run;
 * 3. carry out the repairs, then write a checkpoint segment holding all of it
 *    (so every lastSeq WELCOME reports is fdatasync'd), then remove every
 *    older segment and the files of the format before;
 * 4. write the slot of every clientId with seqs in doubt, then stamp the slots
 *    file with this boot's id (from then on a restart in this boot trusts them).
 * A crash at any point leaves either the old files (and no complete new
 * checkpoint: the next open starts again from them) or a complete checkpoint.
 */

import { join } from "node:path";
import { debuglog } from "node:util";
import { OutlastError } from "../errors/outlast-error.js";
import { errnoCode } from "../storage/errno.js";
import type { StorageFs } from "../storage/fs-layer.js";
import type { QuarantinedPart } from "../storage/repairs.js";
import { applyRepairs } from "../storage/repairs.js";
import { FORMAT_VERSION, parseSegmentFileName, segmentFileName } from "../storage/record-format.js";
import { SegmentSet } from "../storage/segment-set.js";
import { SegmentWriteError } from "../storage/segment-writer.js";
import { walkSegments } from "../storage/segment-walk.js";
import type { InDoubt } from "./dedup-state.js";
import { NO_DOUBT } from "./dedup-state.js";
import { PROGRESS_FILE, ProgressFile } from "./progress-file.js";
import type { ClientMarks } from "./state-records.js";
import { checkpointBody, stateVisitor } from "./state-records.js";
import { readV1State, V1_FILES } from "./state-v1-format.js";

const debug = debuglog("outlast");

export interface OpenedState {
  readonly marks: Map<string, ClientMarks>;
  readonly inDoubt: Map<string, InDoubt>;
  readonly progress: ProgressFile;
  /** The active segment is the checkpoint this open wrote. */
  readonly segments: SegmentSet;
  /** Corrupt parts this open moved to quarantine/ (their records are lost). */
  readonly quarantined: readonly QuarantinedPart[];
  /** The directory held the format before the one log, now migrated. */
  readonly migrated: boolean;
}

export async function openState(fs: StorageFs, dir: string): Promise<OpenedState> {
  const names = await fs.readdir(dir);
  const numbers = names
    .map((n) => parseSegmentFileName(n))
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  let marks = new Map<string, ClientMarks>();
  const visitor = stateVisitor(dir, marks);
  const walked = await walkSegments(
    numbers,
    (name) => fs.readFile(join(dir, name)),
    visitor,
    (segment, version) => {
      const path = join(dir, segment);
      return new OutlastError(
        "OUTLAST_STATE_CORRUPT",
        `state segment ${path} has format version ${version}, newer than this outlast reads (${FORMAT_VERSION}); upgrade outlast`,
        { details: { path } },
      );
    },
  );
  const v1 = visitor.checkpoints === 0 ? await readV1State(fs, dir) : undefined;
  const progress = await ProgressFile.open(fs, join(dir, PROGRESS_FILE));
  let segments: SegmentSet | undefined;
  try {
    let slots: ReadonlyMap<string, { doneSeq: number; startedSeq: number }> = progress.found;
    let sameBoot = progress.sameBoot;
    if (v1 !== undefined) {
      debug("state %s: migrating %d clients from the format before the one log", dir, v1.marks.size);
      marks = v1.marks;
      slots = v1.slots;
      sameBoot = v1.sameBoot;
    }
    const inDoubt = mergeSlots(dir, marks, slots, sameBoot);

    const { quarantined } = await applyRepairs(
      fs,
      dir,
      walked.repairs,
      walked.obsolete.map((n) => segmentFileName(n)),
    );
    for (const q of quarantined) debug("state %s: quarantined %s (%s)", dir, q.file, q.reason);
    const kept = walked.kept.map((k) => ({ number: k.number, bytes: k.bytes }));
    segments = new SegmentSet(fs, dir, kept, numbers.at(-1) ?? 0, () => 1);
    await segments.roll(checkpointBody(marks), true).catch((err: unknown) => {
      throw err instanceof SegmentWriteError ? err.cause : err;
    });
    await segments.deleteAllBeforeActive();
    if (v1 !== undefined || names.some((n) => (V1_FILES as readonly string[]).includes(n)))
      await removeV1Files(fs, dir);
    // The slots say what is in doubt (so a restart in this boot, trusting them as exact, still flags it); then this boot owns them.
    for (const [id, doubt] of inDoubt)
      progress.write(progress.claim(id, doubt.fromSeq - 1, doubt.toSeq), doubt.fromSeq - 1, doubt.toSeq);
    await progress.stamp();
    return { marks, inDoubt, progress, segments, quarantined, migrated: v1 !== undefined };
  } catch (err) {
    progress.close();
    await segments?.close().catch(() => undefined); // the open failed: its error is the one to report
    throw err;
  }
}

/**
 * Folds the slots' marks into `marks`; returns what a server that died may
 * have left inside its handler, per clientId.
 */
function mergeSlots(
  dir: string,
  marks: Map<string, ClientMarks>,
  slots: ReadonlyMap<string, { doneSeq: number; startedSeq: number }>,
  sameBoot: boolean,
): Map<string, InDoubt> {
  const inDoubt = new Map<string, InDoubt>();
  for (const id of slots.keys()) if (!marks.has(id)) marks.set(id, { lastSeq: 0, startedSeq: 0 });
  for (const [id, m] of marks) {
    const rec = slots.get(id);
    const logDone = m.lastSeq;
    if (rec !== undefined && rec.doneSeq > m.lastSeq) m.lastSeq = rec.doneSeq; // the handler did succeed for these
    let doubt: InDoubt;
    if (sameBoot && rec !== undefined && rec.doneSeq >= logDone) {
      doubt = rec.startedSeq > m.lastSeq ? { fromSeq: m.lastSeq + 1, toSeq: rec.startedSeq } : NO_DOUBT;
    } else {
      const high = Math.max(m.startedSeq, rec?.startedSeq ?? 0);
      doubt = high > m.lastSeq ? { fromSeq: m.lastSeq + 1, toSeq: high } : NO_DOUBT;
      if (doubt !== NO_DOUBT)
        debug("state %s: %s may have run seqs %d..%d before a reboot", dir, id, doubt.fromSeq, doubt.toSeq);
    }
    // The checkpoint keeps what is in doubt, so a second crash before those seqs run again still flags them.
    m.startedSeq = Math.max(m.lastSeq, doubt.toSeq);
    if (doubt !== NO_DOUBT) inDoubt.set(id, doubt);
  }
  return inDoubt;
}

async function removeV1Files(fs: StorageFs, dir: string): Promise<void> {
  for (const name of V1_FILES) {
    try {
      await fs.unlink(join(dir, name));
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
  }
  await fs.fsyncDir(dir);
}
