/**
 * The `slots` file of a state directory: one fixed-size slot per clientId,
 * holding that clientId and its progress marks, overwritten in place (one
 * synchronous pwrite through the storage fs layer, never fsynced) right
 * before each handler call and after the last success of a run. The kernel
 * page cache outlives the process, so after a SIGKILL, crash or OOM kill the
 * slots say exactly which seq was the last one processed and which one (if
 * any) was inside the handler. After a reboot (power loss) they may be stale,
 * lost or torn: the fdatasync'd log stays the floor, and the header's boot id
 * tells the two cases apart.
 *
 * A slot names its own clientId, so claiming one for a new client is one
 * synchronous write into this file: no log record has to be written (and
 * wait for the asynchronous log) before the client's first handler call.
 *
 * Layout (little-endian, like the log):
 *   header, 64 bytes: "OUTLPRG2" | u32 bootIdLength | bootId (ASCII, <= 48) | zero padding | u32 CRC-32C(bytes 0..60)
 *   slot i at 64 + 288 * i:
 *     0 u32 CRC-32C(bytes 4..24)   4 u32 CRC-32C(bytes 24..26+n): the owner
 *     8 u64 doneSeq   16 u64 startedSeq   24 u16 n   26 clientId, n <= 256 bytes of UTF-8
 * Per message only bytes 0..24 are rewritten; slots are 32-byte aligned, so
 * those never cross a 512-byte sector. A slot that does not check (torn, or
 * never written) is free.
 */

import { MAX_CLIENT_ID_BYTES } from "../protocol/limits.js";
import { crc32c } from "../storage/crc32c.js";
import type { InPlaceFile, StorageFs } from "../storage/fs-layer.js";

export const PROGRESS_FILE = "slots";
const MAGIC = Buffer.from("OUTLPRG2", "latin1");
const HEADER_BYTES = 64;
const SLOT_BYTES = 288;
const MARKS_BYTES = 24;
const OWNER_AT = 24;
const MAX_BOOT_ID_BYTES = 48;
const TWO_32 = 2 ** 32;

/** The marks a slot held when the file was opened. */
export interface SlotMarks {
  readonly slot: number;
  readonly doneSeq: number;
  readonly startedSeq: number;
}

export class ProgressFile {
  readonly #file: InPlaceFile;
  readonly #bootId: string;
  /** True when the file was last stamped during this boot: its slots are exactly what the last process wrote. */
  readonly sameBoot: boolean;
  /** clientId -> its slot's marks, as read at open (slots that check only). */
  readonly found: ReadonlyMap<string, SlotMarks>;
  /** CRC of each claimed slot's owner bytes (-1: free). */
  readonly #owner: number[];
  #free: number[];
  /** One buffer for every marks write: no allocation per message. */
  readonly #marks = Buffer.alloc(MARKS_BYTES);

  private constructor(
    file: InPlaceFile,
    bootId: string,
    sameBoot: boolean,
    found: Map<string, SlotMarks>,
    owner: number[],
  ) {
    this.#file = file;
    this.#bootId = bootId;
    this.sameBoot = sameBoot;
    this.found = found;
    this.#owner = owner;
    this.#free = [];
    for (let i = owner.length - 1; i >= 0; i--) if (owner[i] === -1) this.#free.push(i);
  }

  /** Opens (creates) `path` and reads its slots; `stamp()` later claims the file for this boot. */
  static async open(fs: StorageFs, path: string): Promise<ProgressFile> {
    const file = await fs.openInPlace(path);
    try {
      const contents = file.contents;
      const bootId = fs.bootId();
      const sameBoot = bootId !== "" && readBootId(contents) === bootId;
      const found = new Map<string, SlotMarks>();
      const owner: number[] = [];
      const valid = readBootId(contents) !== undefined;
      for (let slot = 0; valid && HEADER_BYTES + slot * SLOT_BYTES < contents.length; slot++) {
        const read = readSlot(contents, HEADER_BYTES + slot * SLOT_BYTES);
        const previous = read === undefined ? undefined : found.get(read.clientId);
        if (read === undefined || (previous !== undefined && previous.doneSeq >= read.doneSeq)) {
          owner.push(-1);
          continue;
        }
        if (previous !== undefined) owner[previous.slot] = -1; // a clientId twice (a torn re-claim): the higher wins
        found.set(read.clientId, { slot, doneSeq: read.doneSeq, startedSeq: read.startedSeq });
        owner.push(read.ownerCrc);
      }
      return new ProgressFile(file, bootId, sameBoot, found, owner);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /**
   * Writes this boot's id into the header (fdatasync'd): from now on a restart
   * in this boot trusts the slots as exact. Called once the open has made
   * durable what it read, and has written the slots of the clients in doubt.
   */
  async stamp(): Promise<void> {
    this.#file.writeAt(encodeHeader(this.#bootId), 0);
    await this.#file.datasync();
  }

  /** The slot of `clientId`: the one it held at open, or a free one now claimed (one synchronous write). Throws on I/O errors. */
  claim(clientId: string, doneSeq: number, startedSeq: number): number {
    const had = this.found.get(clientId);
    if (had !== undefined && this.#owner[had.slot] !== -1) return had.slot;
    const id = Buffer.from(clientId, "utf8");
    if (id.length > MAX_CLIENT_ID_BYTES) throw new Error(`clientId of ${id.length} bytes`);
    const slot = this.#free.pop() ?? this.#owner.length;
    const buf = Buffer.alloc(OWNER_AT + 2 + id.length);
    buf.writeUInt16LE(id.length, OWNER_AT);
    id.copy(buf, OWNER_AT + 2);
    const ownerCrc = crc32c(buf, OWNER_AT, buf.length);
    this.#owner[slot] = ownerCrc;
    encodeMarks(buf, ownerCrc, doneSeq, startedSeq);
    this.#file.writeAt(buf, HEADER_BYTES + slot * SLOT_BYTES);
    return slot;
  }

  /** Overwrites one slot's marks (one pwrite into the page cache, no sync). Throws on I/O errors. Hot path. */
  write(slot: number, doneSeq: number, startedSeq: number): void {
    encodeMarks(this.#marks, this.#owner[slot] as number, doneSeq, startedSeq);
    this.#file.writeAt(this.#marks, HEADER_BYTES + slot * SLOT_BYTES);
  }

  close(): void {
    this.#file.close();
  }
}

function encodeMarks(buf: Buffer, ownerCrc: number, doneSeq: number, startedSeq: number): void {
  buf.writeUInt32LE(ownerCrc >>> 0, 4);
  buf.writeUInt32LE(doneSeq % TWO_32, 8);
  buf.writeUInt32LE(Math.floor(doneSeq / TWO_32), 12);
  buf.writeUInt32LE(startedSeq % TWO_32, 16);
  buf.writeUInt32LE(Math.floor(startedSeq / TWO_32), 20);
  buf.writeUInt32LE(crc32c(buf, 4, MARKS_BYTES), 0);
}

function readSlot(
  b: Buffer,
  at: number,
): { clientId: string; ownerCrc: number; doneSeq: number; startedSeq: number } | undefined {
  if (at + OWNER_AT + 2 > b.length || b.readUInt32LE(at) !== crc32c(b, at + 4, at + MARKS_BYTES)) return undefined;
  const n = b.readUInt16LE(at + OWNER_AT);
  if (n === 0 || n > MAX_CLIENT_ID_BYTES || at + OWNER_AT + 2 + n > b.length) return undefined;
  const ownerCrc = b.readUInt32LE(at + 4);
  if (crc32c(b, at + OWNER_AT, at + OWNER_AT + 2 + n) !== ownerCrc) return undefined;
  const doneSeq = b.readUInt32LE(at + 12) * TWO_32 + b.readUInt32LE(at + 8);
  const startedSeq = b.readUInt32LE(at + 20) * TWO_32 + b.readUInt32LE(at + 16);
  if (doneSeq > Number.MAX_SAFE_INTEGER || startedSeq > Number.MAX_SAFE_INTEGER) return undefined;
  const clientId = b.toString("utf8", at + OWNER_AT + 2, at + OWNER_AT + 2 + n);
  return { clientId, ownerCrc, doneSeq, startedSeq };
}

function encodeHeader(bootId: string): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  const len = header.write(bootId, 12, MAX_BOOT_ID_BYTES, "latin1");
  header.writeUInt32LE(len, 8);
  header.writeUInt32LE(crc32c(header, 0, HEADER_BYTES - 4), HEADER_BYTES - 4);
  return header;
}

/** The boot id in a header, or undefined when there is no valid header. */
function readBootId(contents: Buffer): string | undefined {
  if (contents.length < HEADER_BYTES) return undefined;
  if (!contents.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (crc32c(contents, 0, HEADER_BYTES - 4) !== contents.readUInt32LE(HEADER_BYTES - 4)) return undefined;
  const len = contents.readUInt32LE(8);
  if (len > MAX_BOOT_ID_BYTES) return undefined;
  return contents.toString("latin1", 12, 12 + len);
}
