/**
 * Opening an outbox directory: replay every segment in order into a
 * RecordIndex, repairing what a crash or the disk left behind.
 *
 * - A torn tail of the newest segment (a crash mid-append: nothing in it was
 *   ever reported stored) is cut off at the last whole record.
 * - A corrupt record (CRC or length check fails), and everything after it in
 *   its segment, is copied to `quarantine/` and cut off; the good records
 *   before it are kept, and the quarantine is reported. A segment whose
 *   header is unreadable is moved to `quarantine/` whole. Never a crash.
 * - A complete checkpoint segment (one with its END record) replaces every
 *   older segment (left behind by a crash before their deletion: removed
 *   now); an incomplete one (a crash while it was written) is removed.
 * - A segment written by a newer format version stops the open
 *   (OUTLAST_OUTBOX_CORRUPT) rather than risk misreading it.
 */

import { join } from "node:path";
import { OutlastError } from "../../errors/outlast-error.js";
import type { OutboxFs } from "./fs-layer.js";
import { errnoCode } from "./io-errors.js";
import { LOCK_FILE } from "./lock.js";
import { FORMAT_VERSION, parseSegmentFileName, RecordType, segmentFileName } from "./record-format.js";
import { RecordIndex } from "./record-index.js";
import { scanSegment } from "./segment-reader.js";

export const QUARANTINE_DIR = "quarantine";

export interface QuarantinedPart {
  /** The file under `quarantine/` holding the bytes. */
  readonly file: string;
  readonly segment: string;
  /** Where the bad part started in the segment. */
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
}

export interface RecoveryReport {
  /** Segment files read. */
  readonly segments: number;
  /** Records (of every type) read. */
  readonly records: number;
  /** Bytes of torn tails cut off (a crash mid-append; never stored records). */
  readonly tornBytes: number;
  /** Corrupt parts moved aside by this open. */
  readonly quarantined: readonly QuarantinedPart[];
  /** Obsolete segments removed (older than a complete checkpoint, or an incomplete checkpoint). */
  readonly removedSegments: number;
}

export interface KeptSegment {
  readonly number: number;
  readonly bytes: number;
}

export interface Recovered {
  readonly clientId: string | undefined;
  readonly nextSeq: number;
  readonly index: RecordIndex;
  /** Segments still in use, in order, with their sizes after repair. */
  readonly segments: KeptSegment[];
  /** Highest segment number seen (new segments get higher ones). */
  readonly maxSegment: number;
  readonly report: RecoveryReport;
}

export async function recover(fs: OutboxFs, dir: string, onSegmentEmpty: (segment: number) => void): Promise<Recovered> {
  const names = await fs.readdir(dir);
  const numbers = names
    .map((n) => parseSegmentFileName(n))
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  const foreign = names.filter((n) => parseSegmentFileName(n) === undefined && n !== LOCK_FILE && n !== QUARANTINE_DIR && !n.startsWith("."));
  if (numbers.length === 0 && foreign.length > 0) {
    throw new OutlastError(
      "OUTLAST_INVALID_OPTION",
      `invalid option outbox: directory ${dir} is not empty and holds no outbox (found ${foreign.slice(0, 3).join(", ")}); pass an empty or new directory`,
      { details: { option: "outbox", dir } },
    );
  }

  let index = new RecordIndex(onSegmentEmpty);
  let clientId: string | undefined;
  let nextSeq = 1;
  let kept: KeptSegment[] = [];
  const obsolete: number[] = [];
  const quarantined: QuarantinedPart[] = [];
  let records = 0;
  let tornBytes = 0;

  for (let i = 0; i < numbers.length; i++) {
    const n = numbers[i] as number;
    const name = segmentFileName(n);
    const path = join(dir, name);
    const isLast = i === numbers.length - 1;
    const b = await fs.readFile(path);
    const scan = scanSegment(b);
    if (scan.kind === "newerVersion") {
      throw new OutlastError(
        "OUTLAST_OUTBOX_CORRUPT",
        `outbox ${dir}: segment ${name} has format version ${scan.version}, newer than this outlast reads (${FORMAT_VERSION}); upgrade outlast`,
        { details: { dir, segment: name, version: scan.version } },
      );
    }
    if (scan.kind === "noHeader" && isLast) {
      obsolete.push(n); // created but never finished: it was never used
      continue;
    }
    if (scan.kind !== "ok" || scan.header.number !== n) {
      const reason = scan.kind === "badHeader" ? scan.reason : scan.kind === "noHeader" ? "segment header missing" : "segment number mismatch";
      quarantined.push(await quarantineWhole(fs, dir, name, b.length, reason));
      continue;
    }
    records += scan.records.length;
    const hasEnd = scan.records.some((r) => r.type === RecordType.END);
    if (scan.header.checkpoint) {
      if (hasEnd) {
        // A complete snapshot: everything older is superseded.
        for (const k of kept) obsolete.push(k.number);
        kept = [];
        index = new RecordIndex(onSegmentEmpty);
      } else if (kept.length > 0) {
        obsolete.push(n); // the crash came while it was written; the older segments still hold the state
        continue;
      }
    }

    let validEnd = b.length;
    for (let j = 0; j < scan.records.length; j++) {
      const r = scan.records[j] as (typeof scan.records)[number];
      if (r.type === RecordType.DATA) {
        if (r.seq <= index.lastSeq || r.seq < 1) {
          validEnd = scan.offsets[j] as number;
          quarantined.push(await quarantineTail(fs, dir, name, b, validEnd, `record seq ${r.seq} out of order`));
          break;
        }
        const data = Buffer.from(r.payload); // a copy: the segment buffer can go
        index.push({ seq: r.seq, data, important: r.important, createdAtMs: r.createdAtMs, expiresAtMs: r.expiresAtMs }, n);
        nextSeq = Math.max(nextSeq, r.seq + 1);
      } else if (r.type === RecordType.ACK) {
        index.acknowledge(r.seq);
        nextSeq = Math.max(nextSeq, r.seq + 1);
      } else if (r.type === RecordType.DROP) {
        index.drop(r.seq);
      } else if (r.type === RecordType.META) {
        clientId ??= Buffer.from(r.payload).toString("utf8");
        nextSeq = Math.max(nextSeq, r.seq);
      } else {
        nextSeq = Math.max(nextSeq, r.seq);
      }
    }
    if (validEnd === b.length && scan.tail.kind === "torn" && isLast) {
      validEnd = scan.tail.offset;
      tornBytes += scan.tail.bytes;
      await cutSegment(fs, path, validEnd);
    } else if (validEnd === b.length && scan.tail.kind !== "clean") {
      // Sealed segments were synced whole, so even a torn-looking end there is damage.
      validEnd = scan.tail.offset;
      const reason = scan.tail.kind === "corrupt" ? scan.tail.reason : "incomplete record in a sealed segment";
      quarantined.push(await quarantineTail(fs, dir, name, b, validEnd, reason));
    }
    kept.push({ number: n, bytes: validEnd });
  }

  for (const n of obsolete) {
    try {
      await fs.unlink(join(dir, segmentFileName(n)));
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
  }
  if (obsolete.length > 0) await fs.fsyncDir(dir);

  return {
    clientId,
    nextSeq,
    index,
    segments: kept,
    maxSegment: numbers.at(-1) ?? 0,
    report: { segments: numbers.length, records, tornBytes, quarantined, removedSegments: obsolete.length },
  };
}

async function cutSegment(fs: OutboxFs, path: string, length: number): Promise<void> {
  const f = await fs.openForWrite(path);
  try {
    await f.truncate(length);
    await f.datasync();
  } finally {
    await f.close();
  }
}

/** Writes `bytes` durably to a new file in quarantine/ (replacing one left by an interrupted earlier try). */
async function writeQuarantine(fs: OutboxFs, dir: string, file: string, bytes: Uint8Array): Promise<void> {
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

async function quarantineTail(fs: OutboxFs, dir: string, segment: string, b: Buffer, offset: number, reason: string): Promise<QuarantinedPart> {
  const file = `${segment}.${offset}.bad`;
  await writeQuarantine(fs, dir, file, b.subarray(offset));
  await cutSegment(fs, join(dir, segment), offset); // only after the copy is durable
  return { file, segment, offset, bytes: b.length - offset, reason };
}

async function quarantineWhole(fs: OutboxFs, dir: string, segment: string, bytes: number, reason: string): Promise<QuarantinedPart> {
  const file = `${segment}.whole.bad`;
  await fs.mkdirp(join(dir, QUARANTINE_DIR));
  await fs.rename(join(dir, segment), join(dir, QUARANTINE_DIR, file));
  await fs.fsyncDir(join(dir, QUARANTINE_DIR));
  await fs.fsyncDir(dir);
  return { file, segment, offset: 0, bytes, reason };
}
