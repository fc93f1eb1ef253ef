/**
 * Reads one segment file (already in memory) into its records, and says how it
 * ends: cleanly, with a torn tail (a crash mid-write: an incomplete record, or
 * zeros), or with a corrupt record (bad CRC, impossible length), after which
 * nothing in the segment is trusted.
 */

import type { LogRecord, SegmentHeader } from "./record-format.js";
import { decodeRecord, decodeSegmentHeader, RECORD_OVERHEAD_BYTES, SEGMENT_HEADER_BYTES } from "./record-format.js";

export type SegmentTail =
  | { readonly kind: "clean" }
  | { readonly kind: "torn"; readonly offset: number; readonly bytes: number }
  | { readonly kind: "corrupt"; readonly offset: number; readonly bytes: number; readonly reason: string };

export type SegmentScan =
  | {
      readonly kind: "ok";
      readonly header: SegmentHeader;
      readonly records: LogRecord[];
      /** Byte offset of each record (same index as `records`). */
      readonly offsets: number[];
      readonly tail: SegmentTail;
    }
  /** Shorter than a header (or only zeros): a segment whose creation was cut short. */
  | { readonly kind: "noHeader"; readonly bytes: number }
  | { readonly kind: "badHeader"; readonly reason: string; readonly bytes: number }
  | { readonly kind: "newerVersion"; readonly version: number };

function allZero(b: Uint8Array, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export function scanSegment(b: Buffer): SegmentScan {
  const h = decodeSegmentHeader(b);
  if (h.kind === "short" || (h.kind === "corrupt" && allZero(b, 0))) return { kind: "noHeader", bytes: b.length };
  if (h.kind === "corrupt") return { kind: "badHeader", reason: h.reason, bytes: b.length };
  if (h.kind === "newerVersion") return { kind: "newerVersion", version: h.version };
  const records: LogRecord[] = [];
  const offsets: number[] = [];
  let offset = SEGMENT_HEADER_BYTES;
  while (offset < b.length) {
    const r = decodeRecord(b, offset);
    if (r.kind === "record") {
      records.push(r.record);
      offsets.push(offset);
      offset = r.end;
      continue;
    }
    const bytes = b.length - offset;
    if (r.kind === "torn" || allZero(b, offset))
      return { kind: "ok", header: h.header, records, offsets, tail: { kind: "torn", offset, bytes } };
    return {
      kind: "ok",
      header: h.header,
      records,
      offsets,
      tail: { kind: "corrupt", offset, bytes, reason: r.reason },
    };
  }
  return { kind: "ok", header: h.header, records, offsets, tail: { kind: "clean" } };
}

/**
 * The highest seq of the records in `b` from offset `from` on that pass every
 * check, found by trying every byte offset: a corrupt record hides where the
 * next one starts, so the records after it can only be found this way. 0 when
 * there is none. A chance match needs both 32-bit CRCs (frame and body) to
 * agree by accident. Used on the bytes that are moved to quarantine, so the
 * seqs stored after the damage still count (replay.ts); it costs one 8-byte
 * CRC per byte, only at an open that finds damage.
 */
export function highestSeqFrom(b: Buffer, from: number): number {
  let max = 0;
  for (let at = from; at + RECORD_OVERHEAD_BYTES <= b.length; at++) {
    const r = decodeRecord(b, at);
    if (r.kind !== "record") continue;
    max = Math.max(max, r.record.seq);
    at = r.end - 1; // a record inside a payload is not a record
  }
  return max;
}
