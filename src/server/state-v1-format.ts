/**
 * Reading a state directory written by outlast 0.1 (before the one log), so
 * an open migrates it (state-open.ts): read only, never written again.
 *
 * log (append-only): u32 BE payloadLength | u32 BE crc32(payload) | payload, with
 *   payload = u8 kind (1 done, 2 started, 3 slot) | u64 BE seq | u16 BE idLength | clientId
 *   (for kind 3 the "seq" is the clientId's slot in `progress`); the first record
 *   that does not check ends the log (a torn tail).
 * snapshot: "OUTLSNP2" | u32 BE count | count x (u16 BE idLength | clientId |
 *   u64 lastSeq | u64 startedSeq | u32 slot+1) | u32 BE crc32(all before)
 *   ("OUTLSNP1": without the slot field).
 * progress: header, 64 bytes: "OUTLPRG1" | u32 BE bootIdLength | bootId | padding | u32 BE crc32(bytes 0..60);
 *   slot i at 64 + 32 * i: u32 crc32(bytes 4..24) | u32 crc32(clientId) | u64 doneSeq | u64 startedSeq.
 */

import { join } from "node:path";
import { crc32 } from "node:zlib";
import { OutlastError } from "../errors/outlast-error.js";
import { errnoCode } from "../storage/errno.js";
import type { StorageFs } from "../storage/fs-layer.js";
import type { ClientMarks } from "./state-records.js";
import { mergeMark } from "./state-records.js";

/** The files of the format before; an open that finds one migrates, then removes them all. */
export const V1_FILES = ["log", "snapshot", "snapshot.tmp", "progress"] as const;

const KIND_DONE = 1;
const KIND_STARTED = 2;
const KIND_SLOT = 3;
const TWO_32 = 2 ** 32;

export interface V1State {
  readonly marks: Map<string, ClientMarks>;
  /** clientId -> the marks its progress slot held (slots that check and match their owner only). */
  readonly slots: Map<string, { doneSeq: number; startedSeq: number }>;
  /** The progress file was last written during this boot. */
  readonly sameBoot: boolean;
}

async function readIfThere(fs: StorageFs, path: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw err;
  }
}

const u64 = (b: Buffer, at: number): number => b.readUInt32BE(at) * TWO_32 + b.readUInt32BE(at + 4);

/** Reads the 0.1 state in `dir`; undefined when there is none. OUTLAST_STATE_CORRUPT for a snapshot that does not check. */
export async function readV1State(fs: StorageFs, dir: string): Promise<V1State | undefined> {
  const snapshot = await readIfThere(fs, join(dir, "snapshot"));
  const log = await readIfThere(fs, join(dir, "log"));
  if (snapshot === undefined && log === undefined) return undefined;
  const marks = new Map<string, ClientMarks>();
  const slotOf = new Map<string, number>();
  if (snapshot !== undefined && !decodeSnapshot(snapshot, marks, slotOf)) {
    const path = join(dir, "snapshot");
    throw new OutlastError(
      "OUTLAST_STATE_CORRUPT",
      `state snapshot ${path} (of the format before outlast 0.2) is corrupt (bad CRC); restore it from a backup or move it away (then resends of already processed messages run the handler again)`,
      { details: { path } },
    );
  }
  if (log !== undefined) replayLog(log, marks, slotOf);
  const progress = (await readIfThere(fs, join(dir, "progress"))) ?? Buffer.alloc(0);
  const bootId = readBootId(progress);
  const slots = new Map<string, { doneSeq: number; startedSeq: number }>();
  for (const [id, slot] of slotOf) {
    const at = 64 + slot * 32;
    if (bootId === undefined || at + 24 > progress.length) continue;
    if (crc32(progress.subarray(at + 4, at + 24)) !== progress.readUInt32BE(at)) continue;
    if (progress.readUInt32BE(at + 4) !== crc32(id)) continue;
    const doneSeq = u64(progress, at + 8);
    const startedSeq = u64(progress, at + 16);
    if (doneSeq <= Number.MAX_SAFE_INTEGER && startedSeq <= Number.MAX_SAFE_INTEGER)
      slots.set(id, { doneSeq, startedSeq });
  }
  return { marks, slots, sameBoot: bootId !== undefined && bootId !== "" && bootId === fs.bootId() };
}

function replayLog(buf: Buffer, marks: Map<string, ClientMarks>, slotOf: Map<string, number>): void {
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (len < 11 || len > 11 + 1024 || off + 8 + len > buf.length) return;
    const payload = buf.subarray(off + 8, off + 8 + len);
    if (crc32(payload) !== buf.readUInt32BE(off + 4)) return;
    const kind = payload.readUInt8(0);
    if ((kind !== KIND_DONE && kind !== KIND_STARTED && kind !== KIND_SLOT) || 11 + payload.readUInt16BE(9) !== len)
      return;
    const seq = u64(payload, 1);
    if (seq > Number.MAX_SAFE_INTEGER) return;
    const id = payload.toString("utf8", 11);
    if (kind === KIND_SLOT) slotOf.set(id, seq);
    else mergeMark(marks, id, kind === KIND_DONE, seq);
    off += 8 + len;
  }
}

function decodeSnapshot(buf: Buffer, marks: Map<string, ClientMarks>, slotOf: Map<string, number>): boolean {
  if (buf.length < 16) return false;
  const magic = buf.toString("latin1", 0, 8);
  if (magic !== "OUTLSNP2" && magic !== "OUTLSNP1") return false;
  const fixed = magic === "OUTLSNP2" ? 20 : 16;
  const bodyEnd = buf.length - 4;
  if (crc32(buf.subarray(0, bodyEnd)) !== buf.readUInt32BE(bodyEnd)) return false;
  const count = buf.readUInt32BE(8);
  let off = 12;
  for (let i = 0; i < count; i++) {
    if (off + 2 > bodyEnd) return false;
    const idLen = buf.readUInt16BE(off);
    if (off + 2 + idLen + fixed > bodyEnd) return false;
    const id = buf.toString("utf8", off + 2, off + 2 + idLen);
    off += 2 + idLen;
    marks.set(id, { lastSeq: u64(buf, off), startedSeq: Math.max(u64(buf, off), u64(buf, off + 8)) });
    const slot = fixed === 20 ? buf.readUInt32BE(off + 16) - 1 : -1;
    if (slot >= 0) slotOf.set(id, slot);
    off += fixed;
  }
  return off === bodyEnd;
}

function readBootId(b: Buffer): string | undefined {
  if (b.length < 64 || b.toString("latin1", 0, 8) !== "OUTLPRG1") return undefined;
  if (crc32(b.subarray(0, 60)) !== b.readUInt32BE(60)) return undefined;
  const len = b.readUInt32BE(8);
  return len > 48 ? undefined : b.toString("latin1", 12, 12 + len);
}
