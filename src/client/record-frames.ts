/**
 * A batch of outbox records onto the socket as MESSAGE frames, with as few copies and writes as
 * their sizes allow: a small batch is one buffer and one write; otherwise small records are
 * copied into write buffers and large ones are written without a copy after their own header,
 * all corked into one writev. The Connection decides when to write; this file only how.
 */

import type { Socket } from "node:net";
import { writeMessageHeader } from "../protocol/frame-encoder.js";
import { MESSAGE_HEADER_BYTES } from "../protocol/limits.js";
import type { OutboxRecord } from "../outbox/outbox.js";

/** Records smaller than this are copied into a write buffer; larger ones are written without a copy. */
const COPY_BELOW_BYTES = 1024;
/** Frames copied into one write buffer add up to at most this. */
const WRITE_BUFFER_BYTES = 1024 * 1024;
/** A batch whose frames add up to at most this is copied into one buffer, whatever its records' sizes (one write beats a writev). */
const SMALL_WRITE_BYTES = 64 * 1024;

/**
 * Writes MESSAGE frames for `records`; false when the socket's buffer is full (wait for 'drain').
 * A small batch is one write. Otherwise records under COPY_BELOW_BYTES are copied into write
 * buffers of at most WRITE_BUFFER_BYTES, and larger ones are written without a copy after their
 * own header, all corked into one writev.
 */
export function writeRecordFrames(socket: Socket, records: readonly OutboxRecord[]): boolean {
  const n = records.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += MESSAGE_HEADER_BYTES + (records[i] as OutboxRecord).data.length;
  if (total <= SMALL_WRITE_BYTES) return socket.write(copyFrames(records, 0, n, total));
  socket.cork();
  let ok = true;
  for (let i = 0; i < n;) {
    const r = records[i] as OutboxRecord;
    if (r.data.length >= COPY_BELOW_BYTES) {
      const header = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES);
      writeMessageHeader(header, 0, r.seq, r.data.length);
      socket.write(header);
      ok = socket.write(r.data);
      i++;
      continue;
    }
    let end = i;
    let bytes = 0;
    for (; end < n; end++) {
      const size = MESSAGE_HEADER_BYTES + (records[end] as OutboxRecord).data.length;
      if (size - MESSAGE_HEADER_BYTES >= COPY_BELOW_BYTES || bytes + size > WRITE_BUFFER_BYTES) break;
      bytes += size;
    }
    ok = socket.write(copyFrames(records, i, end, bytes));
    i = end;
  }
  socket.uncork();
  return ok;
}

/** MESSAGE frames for records[from, to), which add up to `bytes`, in one new buffer. */
function copyFrames(records: readonly OutboxRecord[], from: number, to: number, bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = from; i < to; i++) {
    const r = records[i] as OutboxRecord;
    at = writeMessageHeader(buf, at, r.seq, r.data.length);
    buf.set(r.data, at);
    at += r.data.length;
  }
  return buf;
}
