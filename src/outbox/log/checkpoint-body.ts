/**
 * The body of an outbox checkpoint segment (written by renumber): a META
 * record, every live record with its current seq, then END, so a replay that
 * finds the END may forget every older segment (docs/outbox.md, "Format").
 */

import type { OutboxRecord } from "../outbox.js";
import { encodedSize, encodeRecord, metaRecord, RecordType } from "../../storage/record-format.js";

const EMPTY = new Uint8Array(0);

export function checkpointBody(clientId: string, nextSeq: number, live: readonly OutboxRecord[]): Buffer {
  const meta = metaRecord(clientId, nextSeq);
  let size = meta.length + encodedSize(0);
  for (const r of live) size += encodedSize(r.data.length);
  const body = Buffer.allocUnsafe(size);
  body.set(meta, 0);
  let at = meta.length;
  for (const r of live)
    at = encodeRecord(body, at, RecordType.DATA, r.seq, r.data, r.important, r.createdAtMs, r.expiresAtMs);
  encodeRecord(body, at, RecordType.END, nextSeq, EMPTY);
  return body;
}
