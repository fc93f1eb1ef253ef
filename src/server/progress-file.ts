/**
 * The `progress` file of a state directory: one fixed-size slot per clientId,
 * overwritten in place (pwrite, never fsynced) right after each handler call
 * returns and right before the next one starts. The kernel page cache outlives the
 * process, so after a SIGKILL, crash or OOM kill the slots say exactly which seq
 * was the last one processed and which one (if any) was inside the handler.
 * After a reboot (power loss) they may be stale or torn: the fdatasync'd `log`
 * stays the floor, and the header's boot id tells the two cases apart.
 *
 * Layout (big-endian):
 *   header, 64 bytes: "OUTLPRG1" | u32 bootIdLength | bootId (ASCII, <= 48) | zero padding | u32 crc32(bytes 0..60)
 *   slot i at 64 + 32 * i, 24 bytes used:
 *     u32 crc32(bytes 4..24) | u32 crc32(clientId UTF-8) | u64 doneSeq | u64 startedSeq
 * A slot never crosses a 512-byte sector. Which clientId owns slot i is recorded in
 * the log / snapshot (dedup-file-format.ts); the id hash guards against a stale slot.
 */

import { closeSync, constants, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { crc32 } from "node:zlib";

const MAGIC = Buffer.from("OUTLPRG1", "latin1");
export const PROGRESS_HEADER_BYTES = 64;
export const PROGRESS_SLOT_BYTES = 32;
const SLOT_USED_BYTES = 24;
const MAX_BOOT_ID_BYTES = 48;
const TWO_32 = 2 ** 32;

export interface SlotRecord {
  readonly idHash: number;
  readonly doneSeq: number;
  readonly startedSeq: number;
}

/** This boot's id (Linux); "" when unknown, which makes every restart count as a possible power loss. */
export function currentBootId(): string {
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    return id.length > 0 && id.length <= MAX_BOOT_ID_BYTES ? id : "";
  } catch {
    return "";
  }
}

export function clientIdHash(clientId: string): number {
  return crc32(clientId);
}

export class ProgressFile {
  readonly #fd: number;
  readonly #contents: Buffer;
  /** True when the file was last written during this boot: its slots are exactly what the last process wrote. */
  readonly sameBoot: boolean;
  /** One buffer for every slot write: no allocation per message. */
  readonly #slot = Buffer.alloc(SLOT_USED_BYTES);
  readonly #slotBody = this.#slot.subarray(4, SLOT_USED_BYTES);

  private constructor(fd: number, contents: Buffer, sameBoot: boolean) {
    this.#fd = fd;
    this.#contents = contents;
    this.sameBoot = sameBoot;
  }

  /** Opens (creates) `path`, reads it, then stamps the header with this boot's id. Throws on I/O errors. */
  static open(path: string): ProgressFile {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      const contents = readFileSync(fd);
      const bootId = currentBootId();
      const previous = readBootId(contents);
      const file = new ProgressFile(fd, contents, bootId !== "" && previous === bootId);
      writeAll(fd, encodeHeader(bootId), 0);
      fdatasyncSync(fd);
      return file;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** The slot as read at open, or undefined when it was never written or does not check (torn). */
  read(slot: number): SlotRecord | undefined {
    const off = PROGRESS_HEADER_BYTES + slot * PROGRESS_SLOT_BYTES;
    if (off + SLOT_USED_BYTES > this.#contents.length) return undefined;
    const rec = this.#contents.subarray(off, off + SLOT_USED_BYTES);
    if (crc32(rec.subarray(4)) !== rec.readUInt32BE(0)) return undefined;
    const doneSeq = readU64(rec, 8);
    const startedSeq = readU64(rec, 16);
    if (doneSeq > Number.MAX_SAFE_INTEGER || startedSeq > Number.MAX_SAFE_INTEGER) return undefined;
    return { idHash: rec.readUInt32BE(4), doneSeq, startedSeq };
  }

  /** Overwrites one slot (one pwrite into the page cache, no fsync). Throws on I/O errors. Hot path. */
  write(slot: number, idHash: number, doneSeq: number, startedSeq: number): void {
    const buf = this.#slot;
    buf.writeUInt32BE(idHash, 4);
    buf.writeUInt32BE(Math.floor(doneSeq / TWO_32), 8);
    buf.writeUInt32BE(doneSeq >>> 0, 12);
    buf.writeUInt32BE(Math.floor(startedSeq / TWO_32), 16);
    buf.writeUInt32BE(startedSeq >>> 0, 20);
    buf.writeUInt32BE(crc32(this.#slotBody), 0);
    writeAll(this.#fd, buf, PROGRESS_HEADER_BYTES + slot * PROGRESS_SLOT_BYTES);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

function encodeHeader(bootId: string): Buffer {
  const header = Buffer.alloc(PROGRESS_HEADER_BYTES);
  MAGIC.copy(header, 0);
  const len = header.write(bootId, 12, MAX_BOOT_ID_BYTES, "latin1");
  header.writeUInt32BE(len, 8);
  header.writeUInt32BE(crc32(header.subarray(0, PROGRESS_HEADER_BYTES - 4)), PROGRESS_HEADER_BYTES - 4);
  return header;
}

/** The boot id in a header, or undefined when there is no valid header. */
function readBootId(contents: Buffer): string | undefined {
  if (contents.length < PROGRESS_HEADER_BYTES) return undefined;
  if (!contents.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (crc32(contents.subarray(0, PROGRESS_HEADER_BYTES - 4)) !== contents.readUInt32BE(PROGRESS_HEADER_BYTES - 4))
    return undefined;
  const len = contents.readUInt32BE(8);
  if (len > MAX_BOOT_ID_BYTES) return undefined;
  return contents.toString("latin1", 12, 12 + len);
}
