/**
 * Replaying an outbox's segments into a RecordIndex, and deciding what a
 * crash or the disk left behind that must be repaired, WITHOUT touching the
 * disk: reads only. recovery.ts carries the repairs out (FileOutbox.open);
 * inspect.ts only reports them (`outlast outbox inspect`, which may look at an
 * outbox another process is writing).
 *
 * The rules every log shares (a torn tail is cut, a corrupt part quarantined,
 * a complete checkpoint supersedes older segments, a newer format version
 * stops the open: OUTLAST_OUTBOX_CORRUPT) are storage/segment-walk.ts's. On top
 * of them, the outbox's own:
 * - A DATA record whose seq is not above the one before is corrupt.
 * - A segment that holds nothing but META records (or no record at all), older
 *   than the newest segment that holds a META record, is obsolete: that newer
 *   META carries the same clientId and a next seq at least as high, so
 *   removing it (in any order, or only partly before a power cut) changes
 *   nothing a replay finds. Older versions started such a segment at every open.
 * - Sequence numbers are never given out twice. Without damage, the next seq
 *   follows the highest one any record shows (a META carries the next seq at
 *   its creation, so deleted segments count too). With damage (anything to be
 *   quarantined), the seqs in the unreadable bytes are unknown and may have
 *   been sent already: the next seq is the highest one still readable
 *   anywhere (including the records found in the quarantined bytes past the
 *   damage) plus SEQ_JUMP_AFTER_DAMAGE. recovery.ts makes that durable
 *   before it repairs anything.
 */

import { OutlastError } from "../../errors/outlast-error.js";
import { LOCK_FILE } from "../../storage/dir-lock.js";
import type { Repair } from "../../storage/repairs.js";
import { QUARANTINE_DIR } from "../../storage/repairs.js";
import { FORMAT_VERSION, parseSegmentFileName, RecordType } from "../../storage/record-format.js";
import { RecordIndex } from "./record-index.js";
import { highestSeqFrom } from "../../storage/segment-reader.js";
import type { SegmentVisitor } from "../../storage/segment-walk.js";
import { walkSegments } from "../../storage/segment-walk.js";

/**
 * How far the next seq jumps past the highest readable one when an open finds
 * damage: more than the seqs that the unreadable bytes could have held (each
 * record takes at least 40 bytes, so 2^32 of them would fill 160 GiB) together
 * with the gaps failed batches leave. The 2^53 seq space allows about two
 * million such jumps (docs/outbox.md, "Sequence numbers after damage").
 */
export { QUARANTINE_DIR } from "../../storage/repairs.js";
export type { Repair } from "../../storage/repairs.js";

export const SEQ_JUMP_AFTER_DAMAGE = 2 ** 32;

export interface KeptSegment {
  readonly number: number;
  /** Its length after the repairs. */
  readonly bytes: number;
  /** It holds a META record (clientId, next seq): appends may go on in it. */
  readonly hasMeta: boolean;
}

export interface Replayed {
  readonly clientId: string | undefined;
  /** The next seq to give out: `seqFloor`, plus SEQ_JUMP_AFTER_DAMAGE when something is to be quarantined. */
  readonly nextSeq: number;
  /** Above every seq a readable record shows (including those in the bytes to be quarantined). */
  readonly seqFloor: number;
  /** Something is to be quarantined, so `nextSeq` jumps. */
  readonly damaged: boolean;
  readonly index: RecordIndex;
  /** Segments still in use, in order, with their sizes after repair. */
  readonly segments: KeptSegment[];
  /** Highest segment number seen (new segments get higher ones). */
  readonly maxSegment: number;
  /** Segment files found. */
  readonly segmentFiles: number;
  /** Bytes of the segment files as read. */
  readonly fileBytes: number;
  /** Records (of every type) read. */
  readonly records: number;
  readonly repairs: readonly Repair[];
  /** Segments to remove (obsolete), after the repairs. */
  readonly obsolete: readonly number[];
}

/** The segment numbers in `names`, in order; rejects a directory that holds other files but no segment. */
export function segmentNumbers(dir: string, names: readonly string[]): number[] {
  const numbers = names
    .map((n) => parseSegmentFileName(n))
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  const foreign = names.filter(
    (n) => parseSegmentFileName(n) === undefined && n !== LOCK_FILE && n !== QUARANTINE_DIR && !n.startsWith("."),
  );
  if (numbers.length === 0 && foreign.length > 0) {
    throw new OutlastError(
      "OUTLAST_INVALID_OPTION",
      `invalid option outbox: directory ${dir} is not empty and holds no outbox (found ${foreign.slice(0, 3).join(", ")}); pass an empty or new directory`,
      { details: { option: "outbox", dir } },
    );
  }
  return numbers;
}

/**
 * Reads segments `numbers` (in order) through `read` and replays them.
 * `onSegmentEmpty` is handed to the RecordIndex.
 */
export async function replay(
  dir: string,
  numbers: readonly number[],
  read: (name: string) => Promise<Buffer>,
  onSegmentEmpty: (segment: number) => void = () => {},
): Promise<Replayed> {
  let index = new RecordIndex(onSegmentEmpty);
  let clientId: string | undefined;
  let nextSeq = 1;
  const visitor: SegmentVisitor = {
    reset: () => void (index = new RecordIndex(onSegmentEmpty)),
    record(r, segment) {
      if (r.type === RecordType.DATA) {
        if (r.seq <= index.lastSeq || r.seq < 1) return `record seq ${r.seq} out of order`;
        const data = Buffer.from(r.payload); // a copy: the segment buffer can go
        index.push(
          { seq: r.seq, data, important: r.important, createdAtMs: r.createdAtMs, expiresAtMs: r.expiresAtMs },
          segment,
        );
        nextSeq = Math.max(nextSeq, r.seq + 1);
      } else if (r.type === RecordType.ACK) {
        index.acknowledge(r.seq);
        nextSeq = Math.max(nextSeq, r.seq + 1);
      } else if (r.type === RecordType.DROP) {
        index.drop(r.seq);
        nextSeq = Math.max(nextSeq, r.seq + 1);
      } else if (r.type === RecordType.META) {
        clientId ??= Buffer.from(r.payload).toString("utf8");
        nextSeq = Math.max(nextSeq, r.seq);
      } else if (r.type === RecordType.DONE || r.type === RecordType.STARTED) {
        throw new OutlastError(
          "OUTLAST_INVALID_OPTION",
          `invalid option outbox: directory ${dir} holds a server's state directory, not an outbox; pass another directory`,
          { details: { option: "outbox", dir } },
        );
      } else {
        nextSeq = Math.max(nextSeq, r.seq);
      }
      return undefined;
    },
  };
  const walked = await walkSegments(numbers, read, visitor, (segment, version) => {
    return new OutlastError(
      "OUTLAST_OUTBOX_CORRUPT",
      `outbox ${dir}: segment ${segment} has format version ${version}, newer than this outlast reads (${FORMAT_VERSION}); upgrade outlast`,
      { details: { dir, segment, version } },
    );
  });
  const { repairs, obsolete } = walked;
  let kept = walked.kept;

  // Segments that say nothing a newer META does not say again.
  let newestMeta = -1;
  for (let i = kept.length - 1; i >= 0 && newestMeta < 0; i--) if ((kept[i] as KeptSegment).hasMeta) newestMeta = i;
  const redundant = new Set<number>();
  for (let i = 0; i < newestMeta; i++) {
    const k = kept[i] as (typeof kept)[number];
    if (k.metaOnly) redundant.add(k.number);
  }
  if (redundant.size > 0) {
    obsolete.push(...redundant);
    kept = kept.filter((k) => !redundant.has(k.number));
  }

  // Records stored after the damage, in the bytes that go to quarantine, still had their seqs.
  let damaged = false;
  for (const repair of repairs) {
    if (repair.kind === "cut") continue;
    damaged = true;
    if (repair.kind === "quarantineTail") nextSeq = Math.max(nextSeq, highestSeqFrom(repair.tail, 0) + 1);
  }
  const seqFloor = Math.max(nextSeq, walked.wholeSeqFloor);
  if (damaged) nextSeq = jumpedSeq(dir, seqFloor);

  return {
    clientId,
    nextSeq,
    seqFloor,
    damaged,
    index,
    segments: kept.map((k) => ({ number: k.number, bytes: k.bytes, hasMeta: k.hasMeta })),
    maxSegment: numbers.at(-1) ?? 0,
    segmentFiles: numbers.length,
    fileBytes: walked.fileBytes,
    records: walked.records,
    repairs,
    obsolete,
  };
}

/** The next seq after damage; OUTLAST_OUTBOX_CORRUPT when the seq space is used up. */
function jumpedSeq(dir: string, floor: number): number {
  const next = floor + SEQ_JUMP_AFTER_DAMAGE;
  if (next + SEQ_JUMP_AFTER_DAMAGE > Number.MAX_SAFE_INTEGER) {
    throw new OutlastError(
      "OUTLAST_OUTBOX_CORRUPT",
      `outbox ${dir}: damage was found and its sequence numbers are used up (next would be ${next}); purge the outbox (outlast outbox purge) so the client starts with a new clientId`,
      { details: { dir, nextSeq: next } },
    );
  }
  return next;
}
