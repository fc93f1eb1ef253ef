/**
 * Reading a log's segments in order and deciding, WITHOUT touching the disk,
 * what a crash or the disk left that must be repaired (repairs.ts carries it
 * out). Shared by the outbox's replay (outbox/log/replay.ts) and the server
 * state's (server/state-replay.ts); each hands its records to a visitor.
 *
 * - A torn tail of the newest segment (a crash mid-append: nothing in it was
 *   ever reported durable) is to be cut off at the last whole record.
 * - A corrupt record (CRC or length check fails, or the visitor finds it out
 *   of place), and everything after it in its segment, is to be quarantined;
 *   the good records before it are kept. A segment whose header is unreadable
 *   is quarantined whole. An incomplete record in a sealed (older) segment is
 *   corruption: sealed segments were synced whole.
 * - A newest segment without a whole header was created but never used: obsolete.
 * - A complete checkpoint segment (one with its END record) makes every older
 *   segment obsolete (the visitor is told to forget them: `reset`); an
 *   incomplete one (a crash while it was written) is obsolete itself when
 *   older segments still hold the state.
 * - A segment written by a newer format version stops the walk (the caller's
 *   coded error) rather than risk misreading it.
 */

import type { LogRecord } from "./record-format.js";
import { RecordType, segmentFileName } from "./record-format.js";
import type { Repair } from "./repairs.js";
import { highestSeqFrom, scanSegment } from "./segment-reader.js";

export interface SegmentVisitor {
  /** A complete checkpoint begins: everything the visitor learnt from older segments is superseded. */
  reset(): void;
  /** One record of segment `segment`; a reason when it is corrupt in context (then it and the rest of its segment are quarantined). */
  record(r: LogRecord, segment: number): string | undefined;
}

export interface WalkedSegment {
  readonly number: number;
  /** Its length after the repairs. */
  readonly bytes: number;
  /** It holds a META record. */
  readonly hasMeta: boolean;
  /** It holds META records only (or no record). */
  readonly metaOnly: boolean;
}

export interface Walked {
  /** Segments still in use, in order. */
  readonly kept: WalkedSegment[];
  /** Segments to remove, after the repairs. */
  readonly obsolete: number[];
  readonly repairs: Repair[];
  /** Above every seq in the segments quarantined whole (their records still had their seqs). */
  readonly wholeSeqFloor: number;
  /** Records (of every type) read. */
  readonly records: number;
  /** Bytes of the segment files as read. */
  readonly fileBytes: number;
}

/** Reads segments `numbers` (in order) through `read`; `newerVersion` is the caller's error for a newer format. */
export async function walkSegments(
  numbers: readonly number[],
  read: (name: string) => Promise<Buffer>,
  visitor: SegmentVisitor,
  newerVersion: (segment: string, version: number) => Error,
): Promise<Walked> {
  let kept: WalkedSegment[] = [];
  const obsolete: number[] = [];
  const repairs: Repair[] = [];
  let records = 0;
  let fileBytes = 0;
  let wholeSeqFloor = 1;

  for (let i = 0; i < numbers.length; i++) {
    const n = numbers[i] as number;
    const name = segmentFileName(n);
    const isLast = i === numbers.length - 1;
    const b = await read(name);
    fileBytes += b.length;
    const scan = scanSegment(b);
    if (scan.kind === "newerVersion") throw newerVersion(name, scan.version);
    if (scan.kind === "noHeader" && isLast) {
      obsolete.push(n); // created but never finished: it was never used
      continue;
    }
    if (scan.kind !== "ok" || scan.header.number !== n) {
      const reason =
        scan.kind === "badHeader"
          ? scan.reason
          : scan.kind === "noHeader"
            ? "segment header missing"
            : "segment number mismatch";
      repairs.push({ kind: "quarantineWhole", segment: name, bytes: b.length, reason });
      wholeSeqFloor = Math.max(wholeSeqFloor, highestSeqFrom(b, 0) + 1); // its records still had their seqs
      continue;
    }
    records += scan.records.length;
    if (scan.header.checkpoint) {
      if (scan.records.some((r) => r.type === RecordType.END)) {
        // A complete snapshot: everything older is superseded.
        for (const k of kept) obsolete.push(k.number);
        kept = [];
        visitor.reset();
      } else if (kept.length > 0) {
        obsolete.push(n); // the crash came while it was written; the older segments still hold the state
        continue;
      }
    }

    let validEnd = b.length;
    let hasMeta = false;
    let metaOnly = true;
    for (let j = 0; j < scan.records.length; j++) {
      const r = scan.records[j] as LogRecord;
      const corrupt = visitor.record(r, n);
      if (corrupt !== undefined) {
        validEnd = scan.offsets[j] as number;
        repairs.push({
          kind: "quarantineTail",
          segment: name,
          offset: validEnd,
          tail: b.subarray(validEnd),
          reason: corrupt,
        });
        break;
      }
      if (r.type === RecordType.META) hasMeta = true;
      else metaOnly = false;
    }
    if (validEnd === b.length && scan.tail.kind === "torn" && isLast) {
      validEnd = scan.tail.offset;
      repairs.push({ kind: "cut", segment: name, length: validEnd, bytes: scan.tail.bytes });
    } else if (validEnd === b.length && scan.tail.kind !== "clean") {
      // Sealed segments were synced whole, so even a torn-looking end there is damage.
      validEnd = scan.tail.offset;
      const reason = scan.tail.kind === "corrupt" ? scan.tail.reason : "incomplete record in a sealed segment";
      repairs.push({ kind: "quarantineTail", segment: name, offset: validEnd, tail: b.subarray(validEnd), reason });
    }
    kept.push({ number: n, bytes: validEnd, hasMeta, metaOnly });
  }
  return { kept, obsolete, repairs, wholeSeqFloor, records, fileBytes };
}
