/**
 * On-disk formats of FileDedupState (docs/server.md, "State directory").
 *
 * log (append-only), one record after another:
 *   u32 BE payloadLength | u32 BE crc32(payload) | payload
 *   payload = u8 kind (1 done, 2 started, 3 slot) | u32 BE seqHigh | u32 BE seqLow | u16 BE idLength | clientId UTF-8
 *   (for kind 3 the "seq" is the clientId's slot index in the progress file)
 * A record whose length or CRC does not check (a torn tail after a crash) ends the log.
 *
 * snapshot (replaced atomically by rename):
 *   "OUTLSNP2" | u32 BE count | count x (u16 BE idLength | clientId | u64 lastSeq | u64 startedSeq | u32 slot+1) | u32 BE crc32(all before)
 *   ("OUTLSNP1", without the slot field, is still read.)
 */

import { crc32 } from "node:zlib";

export const RECORD_DONE = 1;
export const RECORD_STARTED = 2;
export const RECORD_SLOT = 3;
const RECORD_HEADER_BYTES = 8;
const PAYLOAD_FIXED_BYTES = 11;
/** clientIds are at most 256 bytes (protocol limit); anything longer is corruption. */
const MAX_ID_BYTES = 1024;
const SNAPSHOT_MAGIC = Buffer.from("OUTLSNP2", "latin1");
const SNAPSHOT_MAGIC_V1 = Buffer.from("OUTLSNP1", "latin1");
const TWO_32 = 2 ** 32;

export interface SeqPair {
  lastSeq: number;
  startedSeq: number;
  /** Slot in the progress file; -1 when none was assigned. */
  slot: number;
}

export function newSeqPair(): SeqPair {
  return { lastSeq: 0, startedSeq: 0, slot: -1 };
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

/** Encodes one record per entry of `entries` (clientId -> seq) of one kind into one buffer. */
export function encodeRecords(kind: number, entries: Iterable<readonly [string, number]>): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (const [id, seq] of entries) {
    const idBytes = Buffer.from(id, "utf8");
    const rec = Buffer.allocUnsafe(RECORD_HEADER_BYTES + PAYLOAD_FIXED_BYTES + idBytes.length);
    const p = RECORD_HEADER_BYTES;
    rec.writeUInt8(kind, p);
    writeU64(rec, seq, p + 1);
    rec.writeUInt16BE(idBytes.length, p + 9);
    idBytes.copy(rec, p + PAYLOAD_FIXED_BYTES);
    rec.writeUInt32BE(rec.length - RECORD_HEADER_BYTES, 0);
    rec.writeUInt32BE(crc32(rec.subarray(RECORD_HEADER_BYTES)), 4);
    parts.push(rec);
    total += rec.length;
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
}

function merge(map: Map<string, SeqPair>, id: string, kind: number, seq: number): void {
  let pair = map.get(id);
  if (pair === undefined) {
    pair = newSeqPair();
    map.set(id, pair);
  }
  if (kind === RECORD_SLOT) {
    pair.slot = seq;
    return;
  }
  if (kind === RECORD_DONE && seq > pair.lastSeq) pair.lastSeq = seq;
  if (seq > pair.startedSeq) pair.startedSeq = seq;
}

/**
 * Replays a log into `map` (max-merge, so replaying a record twice is harmless).
 * Returns the length of the valid prefix: the caller truncates the file there.
 */
export function replayLog(buf: Buffer, map: Map<string, SeqPair>): number {
  let off = 0;
  while (off + RECORD_HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (len < PAYLOAD_FIXED_BYTES || len > PAYLOAD_FIXED_BYTES + MAX_ID_BYTES) break;
    if (off + RECORD_HEADER_BYTES + len > buf.length) break;
    const payload = buf.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len);
    if (crc32(payload) !== buf.readUInt32BE(off + 4)) break;
    const kind = payload.readUInt8(0);
    const idLen = payload.readUInt16BE(9);
    if (
      (kind !== RECORD_DONE && kind !== RECORD_STARTED && kind !== RECORD_SLOT) ||
      PAYLOAD_FIXED_BYTES + idLen !== len
    )
      break;
    const seq = readU64(payload, 1);
    if (seq > Number.MAX_SAFE_INTEGER) break;
    merge(map, payload.toString("utf8", PAYLOAD_FIXED_BYTES), kind, seq);
    off += RECORD_HEADER_BYTES + len;
  }
  return off;
}

export function encodeSnapshot(map: ReadonlyMap<string, SeqPair>): Buffer {
  const parts: Buffer[] = [SNAPSHOT_MAGIC];
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(map.size, 0);
  parts.push(count);
  for (const [id, pair] of map) {
    const idBytes = Buffer.from(id, "utf8");
    const entry = Buffer.allocUnsafe(2 + idBytes.length + 20);
    entry.writeUInt16BE(idBytes.length, 0);
    idBytes.copy(entry, 2);
    writeU64(entry, pair.lastSeq, 2 + idBytes.length);
    writeU64(entry, pair.startedSeq, 10 + idBytes.length);
    entry.writeUInt32BE(pair.slot + 1, 18 + idBytes.length);
    parts.push(entry);
  }
  const body = Buffer.concat(parts);
  const crc = Buffer.allocUnsafe(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([body, crc]);
}

/** Decodes a snapshot into `map`; returns false when it does not check (corrupt). */
export function decodeSnapshot(buf: Buffer, map: Map<string, SeqPair>): boolean {
  if (buf.length < SNAPSHOT_MAGIC.length + 8) return false;
  const magic = buf.subarray(0, SNAPSHOT_MAGIC.length);
  const v2 = magic.equals(SNAPSHOT_MAGIC);
  if (!v2 && !magic.equals(SNAPSHOT_MAGIC_V1)) return false;
  const entryFixed = v2 ? 20 : 16;
  const bodyEnd = buf.length - 4;
  if (crc32(buf.subarray(0, bodyEnd)) !== buf.readUInt32BE(bodyEnd)) return false;
  const count = buf.readUInt32BE(SNAPSHOT_MAGIC.length);
  let off = SNAPSHOT_MAGIC.length + 4;
  for (let i = 0; i < count; i++) {
    if (off + 2 > bodyEnd) return false;
    const idLen = buf.readUInt16BE(off);
    if (off + 2 + idLen + entryFixed > bodyEnd) return false;
    const id = buf.toString("utf8", off + 2, off + 2 + idLen);
    off += 2 + idLen;
    map.set(id, {
      lastSeq: readU64(buf, off),
      startedSeq: readU64(buf, off + 8),
      slot: v2 ? buf.readUInt32BE(off + 16) - 1 : -1,
    });
    off += entryFixed;
  }
  return off === bodyEnd;
}
