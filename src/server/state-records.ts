/**
 * What the server's state writes into the one log (storage/record-format.ts):
 * - DONE, seq N, payload clientId: the handler succeeded for every seq <= N;
 * - STARTED, seq N, payload clientId: seqs up to N may have been handed to the handler;
 * - a checkpoint segment (compaction, and every open): a DONE (and a STARTED
 *   above it) per clientId, then END; once its END is durable, every older
 *   segment is superseded.
 * Replaying is a max-merge, so a record read twice is harmless. A record of
 * the outbox's types means the directory is an outbox, not a server state.
 */

import { OutlastError } from "../errors/outlast-error.js";
import type { LogRecord } from "../storage/record-format.js";
import { encodedSize, encodeRecord, RecordType } from "../storage/record-format.js";
import type { ScratchBuffer } from "../storage/scratch-buffer.js";
import type { SegmentVisitor } from "../storage/segment-walk.js";

/** What the state knows of one clientId. */
export interface ClientMarks {
  /** Highest seq whose success is durable. */
  lastSeq: number;
  /** Highest seq that may have been handed to the handler (>= lastSeq once merged). */
  startedSeq: number;
}

const EMPTY = new Uint8Array(0);

/** One DONE record per entry of `done` and one STARTED per entry of `started`, into one buffer. */
export function encodeMarks(
  scratch: ScratchBuffer,
  done: ReadonlyMap<string, number>,
  started: ReadonlyMap<string, number>,
): Buffer {
  const ids = new Map<string, Buffer>();
  const bytesOf = (id: string): Buffer => {
    let b = ids.get(id);
    if (b === undefined) ids.set(id, (b = Buffer.from(id, "utf8")));
    return b;
  };
  let size = 0;
  for (const id of started.keys()) size += encodedSize(bytesOf(id).length);
  for (const id of done.keys()) size += encodedSize(bytesOf(id).length);
  const buf = scratch.take(size);
  let at = 0;
  for (const [id, seq] of started) at = encodeRecord(buf, at, RecordType.STARTED, seq, bytesOf(id));
  for (const [id, seq] of done) at = encodeRecord(buf, at, RecordType.DONE, seq, bytesOf(id));
  return buf;
}

/** The body of a checkpoint segment: everything `map` holds, then END. */
export function checkpointBody(map: ReadonlyMap<string, ClientMarks>): Buffer {
  const parts: Buffer[] = [];
  let size = encodedSize(0);
  for (const [id, m] of map) {
    const idBytes = Buffer.from(id, "utf8");
    const records = m.startedSeq > m.lastSeq ? 2 : 1;
    const b = Buffer.allocUnsafe(records * encodedSize(idBytes.length));
    const at = encodeRecord(b, 0, RecordType.DONE, m.lastSeq, idBytes);
    if (records === 2) encodeRecord(b, at, RecordType.STARTED, m.startedSeq, idBytes);
    parts.push(b);
    size += b.length;
  }
  const end = Buffer.allocUnsafe(encodedSize(0));
  encodeRecord(end, 0, RecordType.END, 0, EMPTY);
  parts.push(end);
  return Buffer.concat(parts, size);
}

/** Merges one record into `map` (max-merge). */
export function mergeMark(map: Map<string, ClientMarks>, id: string, done: boolean, seq: number): void {
  let m = map.get(id);
  if (m === undefined) map.set(id, (m = { lastSeq: 0, startedSeq: 0 }));
  if (done && seq > m.lastSeq) m.lastSeq = seq;
  if (seq > m.startedSeq) m.startedSeq = seq;
}

/**
 * The visitor that replays the state's segments into `map`. `checkpoints`
 * counts the complete checkpoints found (the newest one starts `map` afresh).
 */
export function stateVisitor(dir: string, map: Map<string, ClientMarks>): SegmentVisitor & { checkpoints: number } {
  return {
    checkpoints: 0,
    reset() {
      map.clear();
      this.checkpoints++;
    },
    record(r: LogRecord) {
      if (r.type === RecordType.DONE || r.type === RecordType.STARTED) {
        mergeMark(map, Buffer.from(r.payload).toString("utf8"), r.type === RecordType.DONE, r.seq);
      } else if (r.type !== RecordType.END) {
        throw new OutlastError(
          "OUTLAST_STATE_CORRUPT",
          `state directory ${dir} holds a client outbox, not a server state; pass the server's own state directory`,
          { details: { path: dir } },
        );
      }
      return undefined;
    },
  };
}
