/**
 * Damage on disk: cut the last segment at every offset, and flip a bit at
 * every offset of the last segment and of a sealed one. Open must never fail;
 * a cut is a torn tail (cut off, nothing quarantined); every flip is detected
 * (CRC-32C catches every single-bit error), the bad record and the rest of its
 * segment are quarantined byte for byte, and every good record before it (and
 * in the other segments) is kept.
 * The sweeps run over the in-memory CrashFs (thousands of opens); one case of
 * each runs on the real file system too.
 */

import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { crc32c } from "../../src/storage/crc32c.js";
import { RecordType, SEGMENT_HEADER_BYTES, parseSegmentFileName } from "../../src/storage/record-format.js";
import { SEQ_JUMP_AFTER_DAMAGE } from "../../src/outbox/log/replay.js";
import { scanSegment } from "../../src/storage/segment-reader.js";
import type { StorageFs } from "../../src/storage/fs-layer.js";
import { CrashFs } from "../storage/crash-fs.js";

const DIR = "/c";

interface Layout {
  readonly files: Map<string, Buffer>;
  /** Segment paths in order (only those holding data records). */
  readonly segments: string[];
  /** Per segment: its DATA records' payloads with their byte ranges. */
  readonly data: Map<string, { payload: string; start: number; end: number }[]>;
  /** Per segment: where every record (of any type) starts. */
  readonly starts: Map<string, number[]>;
}

async function build(fs: StorageFs, dir: string): Promise<void> {
  const o = new FileOutbox(dir, { fs, segmentBytes: 400 });
  await o.open("corrupt-me");
  for (let i = 0; i < 14; i++)
    await o.append([
      { data: Buffer.from(`rec-${i}-${"y".repeat(i * 5)}`), important: true, createdAtMs: i, expiresAtMs: Infinity },
    ]);
  await o.close();
}

async function layout(): Promise<Layout> {
  const fs = new CrashFs();
  await build(fs, DIR);
  const files = fs.files();
  const segments = [...files.keys()].filter((p) => parseSegmentFileName(p.slice(DIR.length + 1)) !== undefined).sort();
  const data = new Map<string, { payload: string; start: number; end: number }[]>();
  const starts = new Map<string, number[]>();
  for (const s of segments) {
    const scan = scanSegment(files.get(s) as Buffer);
    assert.equal(scan.kind, "ok");
    if (scan.kind !== "ok") continue;
    const list: { payload: string; start: number; end: number }[] = [];
    starts.set(s, scan.offsets);
    scan.records.forEach((r, i) => {
      const start = scan.offsets[i] as number;
      const end = scan.offsets[i + 1] ?? (files.get(s) as Buffer).length;
      if (r.type === RecordType.DATA) list.push({ payload: Buffer.from(r.payload).toString(), start, end });
    });
    data.set(s, list);
  }
  return { files, segments: segments.filter((s) => (data.get(s) ?? []).length > 0), data, starts };
}

async function reopen(files: Map<string, Buffer>): Promise<{ o: FileOutbox; fs: CrashFs; payloads: string[] }> {
  const fs = CrashFs.from(files);
  const o = new FileOutbox(DIR, { fs });
  await o.open("other"); // never throws
  const payloads = o.read(0, Infinity, Infinity).map((r) => Buffer.from(r.data).toString());
  return { o, fs, payloads };
}

test("cutting the last segment at every offset: a torn tail, cut off; every whole record before the cut is kept", async () => {
  const l = await layout();
  const last = l.segments.at(-1) as string;
  const full = l.files.get(last) as Buffer;
  const before = l.segments.slice(0, -1).flatMap((s) => (l.data.get(s) ?? []).map((d) => d.payload));
  for (let cut = 0; cut < full.length; cut++) {
    const files = new Map(l.files);
    files.set(last, full.subarray(0, cut));
    const { o, payloads } = await reopen(files);
    const kept = (l.data.get(last) ?? []).filter((d) => d.end <= cut).map((d) => d.payload);
    assert.deepEqual(payloads, [...before, ...kept], `cut at ${cut}`);
    assert.equal(o.recoveryReport?.quarantined.length, 0, `cut at ${cut}: a cut is not corruption`);
    assert.equal(
      o.recoveryReport?.seqJump,
      0,
      `cut at ${cut}: a torn tail was never stored, so its seqs were never sent`,
    );
    assert.equal(o.clientId, "corrupt-me");
    await o.close();
  }
});

for (const which of ["last", "sealed"] as const) {
  test(`flipping a bit at every offset of the ${which} segment: detected, quarantined byte for byte, good records kept`, async () => {
    const l = await layout();
    const seg = which === "last" ? (l.segments.at(-1) as string) : (l.segments[0] as string);
    const segIndex = l.segments.indexOf(seg);
    const full = l.files.get(seg) as Buffer;
    const records = l.data.get(seg) ?? [];
    const before = l.segments.slice(0, segIndex).flatMap((s) => (l.data.get(s) ?? []).map((d) => d.payload));
    const after = l.segments.slice(segIndex + 1).flatMap((s) => (l.data.get(s) ?? []).map((d) => d.payload));
    for (let at = 0; at < full.length; at++) {
      const bad = Buffer.from(full);
      bad[at] = (bad[at] as number) ^ (1 << (at % 8));
      const files = new Map(l.files);
      files.set(seg, bad);
      const { o, fs, payloads } = await reopen(files);
      const q = o.recoveryReport?.quarantined ?? [];
      assert.equal(q.length, 1, `flip at ${at}: detected once (saw ${q.length})`);
      const part = q[0]!;
      // The cut is at the record holding the flip (the whole segment when the header is hit).
      const cutAt = at < SEGMENT_HEADER_BYTES ? 0 : Math.max(...(l.starts.get(seg) ?? []).filter((s) => s <= at));
      assert.equal(part.offset, cutAt, `flip at ${at}: quarantined from the damaged record on`);
      const kept = at < SEGMENT_HEADER_BYTES ? [] : records.filter((r) => r.end <= part.offset).map((r) => r.payload);
      assert.deepEqual(payloads, [...before, ...kept, ...after], `flip at ${at}`);
      const moved = fs.files().get(`${DIR}/quarantine/${part.file}`);
      assert.ok(moved !== undefined, `flip at ${at}: quarantine file ${part.file}`);
      assert.deepEqual(
        moved,
        bad.subarray(part.offset),
        `flip at ${at}: the quarantined bytes are the bad part, intact`,
      );
      // Seqs 1..14 were handed out before: none of them again, also after a power cut right after the open.
      assert.equal(o.recoveryReport?.seqJump, SEQ_JUMP_AFTER_DAMAGE, `flip at ${at}: the next seq jumps`);
      const crashedAfterOpen = fs.image("none");
      const next = await o.append([
        { data: Buffer.from("next"), important: true, createdAtMs: 0, expiresAtMs: Infinity },
      ]);
      assert.ok(
        next > 14 + SEQ_JUMP_AFTER_DAMAGE - 1,
        `flip at ${at}: seq ${next} is not above every seq handed out before plus the jump`,
      );
      await o.close();
      const again = new FileOutbox(DIR, { fs: crashedAfterOpen });
      await again.open("other");
      assert.ok(
        again.nextSeq >= next,
        `flip at ${at}: a power cut right after the open brought back seq ${again.nextSeq} < ${next}`,
      );
      await again.close();
    }
  });
}

test("real files: a flipped bit is quarantined into quarantine/ (mode 0600) and reported on outlast:outbox:quarantine", async () => {
  const dir = await mkdtemp(join(tmpdir(), "outlast-corrupt-"));
  try {
    const { nodeFs } = await import("../../src/storage/fs-layer.js");
    await build(nodeFs, dir);
    const segs = (await readdir(dir)).filter((f) => f.startsWith("seg-")).sort();
    const target = join(dir, segs.at(-1) as string);
    const bytes = await readFile(target);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x10;
    await writeFile(target, bytes);
    const seen: unknown[] = [];
    const onQ = (m: unknown): void => void seen.push(m);
    subscribe("outlast:outbox:quarantine", onQ);
    const o = new FileOutbox(dir);
    try {
      await o.open("x");
    } finally {
      unsubscribe("outlast:outbox:quarantine", onQ);
    }
    assert.equal(seen.length, 1);
    const part = o.recoveryReport?.quarantined[0];
    assert.ok(part !== undefined);
    assert.equal(part.reason, "record CRC mismatch");
    assert.equal(o.count, 13, "the 13 records before the damaged one are kept");
    const qfile = join(dir, "quarantine", part.file);
    assert.equal((await stat(qfile)).mode & 0o777, 0o600);
    assert.deepEqual(await readFile(qfile), bytes.subarray(part.offset));
    assert.equal((await stat(target)).size, part.offset, "the segment is cut where the damage starts");
    await o.close();
    const again = new FileOutbox(dir);
    await again.open("x");
    assert.equal(again.recoveryReport?.quarantined.length, 0, "repaired: nothing new to quarantine");
    assert.equal(again.count, 13);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a segment from a newer format version stops the open with OUTLAST_OUTBOX_CORRUPT instead of being misread", async () => {
  const l = await layout();
  const seg = l.segments[0] as string;
  const b = Buffer.from(l.files.get(seg) as Buffer);
  b.writeUInt16LE(9, 8);
  b.writeUInt32LE(crc32c(b, 0, 20), 20);
  const files = new Map(l.files);
  files.set(seg, b);
  const o = new FileOutbox(DIR, { fs: CrashFs.from(files) });
  await assert.rejects(
    o.open("x"),
    (err: unknown) =>
      (err as { code?: string }).code === "OUTLAST_OUTBOX_CORRUPT" && /format version 9/.test((err as Error).message),
  );
  await o.close();
});

test("crc32c: the standard check value and incremental use", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  const data = Buffer.from("The quick brown fox jumps over the lazy dog, twice over and again");
  assert.equal(crc32c(data, 10, data.length, crc32c(data, 0, 10)), crc32c(data));
});
