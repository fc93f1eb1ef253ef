/**
 * The limit a durable log is measured against: `batch` pre-encoded records
 * written with one write and made durable with one fdatasync, over and over,
 * for `durationMs`. Shared by bench/outbox.ts and bench/outbox-e2e.ts.
 */

import { open, rm } from "node:fs/promises";
import { encodedSize, encodeRecord, RecordType } from "../src/storage/record-format.js";

/** Records/s made durable by raw group commit of `batch` records of `payloadBytes` each, into a file at `path` (removed after). */
export async function rawGroupCommitRate(
  path: string,
  batch: number,
  payloadBytes: number,
  durationMs: number,
): Promise<number> {
  const h = await open(path, "w", 0o600);
  const one = encodedSize(payloadBytes);
  const buf = Buffer.alloc(one * batch);
  const data = Buffer.alloc(payloadBytes, 0x61);
  for (let i = 0; i < batch; i++) encodeRecord(buf, i * one, RecordType.DATA, i + 1, data, true, 0, Infinity);
  let pos = 0;
  let records = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < durationMs) {
      await h.write(buf, 0, buf.length, pos);
      await h.datasync();
      pos += buf.length;
      records += batch;
    }
    return records / ((performance.now() - start) / 1000);
  } finally {
    await h.close();
    await rm(path, { force: true });
  }
}
