/**
 * Opening an outbox directory: replay every segment in order into a
 * RecordIndex (log/replay.ts decides what is kept and what must be repaired),
 * then carry the repairs out, each one durable before the next:
 * - a torn tail of the newest segment is cut off (the cut is synced);
 * - a corrupt part is copied to `quarantine/` (synced), and only then cut off;
 *   a segment with an unreadable header is moved there whole;
 * - obsolete segments (older than a complete checkpoint, an incomplete
 *   checkpoint, segments holding only a META record that a newer one repeats)
 *   are removed, then the directory is fsync'd.
 * Never a crash on damage: it is reported. A newer format version stops the
 * open (OUTLAST_OUTBOX_CORRUPT).
 * Before any of that, when something is to be quarantined, a new segment
 * holding only a META record with the jumped next seq (replay.ts) is created
 * durably. So the jump survives a crash at any point of the open: once the
 * damage is gone from the segments, only that META still says how far the
 * seqs went. The newest segment is fdatasync'd first, since appends will go
 * to the new one.
 */

import { join } from "node:path";
import type { StorageFs } from "../../storage/fs-layer.js";
import { metaRecord, segmentFileName } from "../../storage/record-format.js";
import type { RecordIndex } from "./record-index.js";
import type { KeptSegment } from "./replay.js";
import { replay, segmentNumbers } from "./replay.js";
import type { QuarantinedPart } from "../../storage/repairs.js";
import { applyRepairs, syncSegment } from "../../storage/repairs.js";
import { SegmentWriteError, SegmentWriter } from "../../storage/segment-writer.js";

export { QUARANTINE_DIR, quarantineFileName } from "../../storage/repairs.js";
export type { QuarantinedPart } from "../../storage/repairs.js";
export type { KeptSegment } from "./replay.js";

export interface RecoveryReport {
  /** Segment files read. */
  readonly segments: number;
  /** Records (of every type) read. */
  readonly records: number;
  /** Bytes of torn tails cut off (a crash mid-append; never stored records). */
  readonly tornBytes: number;
  /** Corrupt parts moved aside by this open. */
  readonly quarantined: readonly QuarantinedPart[];
  /** Obsolete segments removed (older than a complete checkpoint, an incomplete checkpoint, or holding only a META record a newer segment repeats). */
  readonly removedSegments: number;
  /**
   * How far the next seq jumped past the highest one still readable, because
   * of the damage quarantined (0 when nothing was; SEQ_JUMP_AFTER_DAMAGE, 2^32,
   * otherwise): the lost records' seqs are unknown and may have been sent.
   */
  readonly seqJump: number;
}

export interface Recovered {
  /** The clientId a META record holds, or the one proposed when none survived. */
  readonly clientId: string;
  readonly nextSeq: number;
  readonly index: RecordIndex;
  /** Segments still in use, in order, with their sizes after repair. */
  readonly segments: KeptSegment[];
  /** Highest segment number seen (new segments get higher ones). */
  readonly maxSegment: number;
  readonly report: RecoveryReport;
}

/**
 * Replays and repairs the outbox in `dir`. `proposedClientId` is used (and
 * written) when no META record survived.
 */
export async function recover(
  fs: StorageFs,
  dir: string,
  proposedClientId: string,
  onSegmentEmpty: (segment: number) => void,
): Promise<Recovered> {
  const numbers = segmentNumbers(dir, await fs.readdir(dir));
  const r = await replay(dir, numbers, (name) => fs.readFile(join(dir, name)), onSegmentEmpty);
  const clientId = r.clientId ?? proposedClientId;
  let segments = r.segments;
  let maxSegment = r.maxSegment;
  if (r.damaged) {
    const newest = segments.at(-1);
    if (newest !== undefined) await syncSegment(fs, join(dir, segmentFileName(newest.number)));
    const n = maxSegment + 1;
    const w = await SegmentWriter.create(fs, dir, n, false, metaRecord(clientId, r.nextSeq)).catch((err: unknown) => {
      throw err instanceof SegmentWriteError ? err.cause : err;
    });
    await w.close();
    segments = [...segments, { number: n, bytes: w.size, hasMeta: true }];
    maxSegment = n;
  }

  const { quarantined, tornBytes } = await applyRepairs(
    fs,
    dir,
    r.repairs,
    r.obsolete.map((n) => segmentFileName(n)),
  );

  return {
    clientId,
    nextSeq: r.nextSeq,
    index: r.index,
    segments,
    maxSegment,
    report: {
      segments: r.segmentFiles,
      records: r.records,
      tornBytes,
      quarantined,
      removedSegments: r.obsolete.length,
      seqJump: r.nextSeq - r.seqFloor,
    },
  };
}
