/**
 * Reads one segment file (already in memory) into its records, and says how it
 * ends: cleanly, with a torn tail (a crash mid-write: an incomplete record, or
 * zeros), or with a corrupt record (bad CRC, impossible length), after which
 * nothing in the segment is trusted.
 */

import type { LogRecord, SegmentHeader } from "./record-format.js";
import { decodeRecord, decodeSegmentHeader, SEGMENT_HEADER_BYTES } from "./record-format.js";

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
    if (r.kind === "torn" || allZero(b, offset)) return { kind: "ok", header: h.header, records, offsets, tail: { kind: "torn", offset, bytes } };
    return { kind: "ok", header: h.header, records, offsets, tail: { kind: "corrupt", offset, bytes, reason: r.reason } };
  }
  return { kind: "ok", header: h.header, records, offsets, tail: { kind: "clean" } };
}
