/**
 * Sequence numbers are never given out twice for a clientId, whatever
 * happened on disk. A server skips a seq <= its lastSeq as a duplicate, so a
 * reused seq is a message lost without an error. After damage is quarantined,
 * the seqs in the lost bytes are unknown (they may have been sent), so the
 * next seq jumps past the highest readable one by SEQ_JUMP_AFTER_DAMAGE, and
 * the jump is durable before the open repairs anything: a power cut at any
 * step of the open, or right after it, cannot bring the old numbers back.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { parseSegmentFileName, RecordType, SEGMENT_HEADER_BYTES } from "../../src/storage/record-format.js";
import { SEQ_JUMP_AFTER_DAMAGE } from "../../src/outbox/log/replay.js";
import { scanSegment } from "../../src/storage/segment-reader.js";
import type { OutboxEntry } from "../../src/outbox/outbox.js";
import { CrashFs } from "../storage/crash-fs.js";
import { rng } from "../helpers/seed.js";

const DIR = "/s";

function entry(text: string): OutboxEntry {
  return { data: Buffer.from(text), important: true, createdAtMs: 1, expiresAtMs: Infinity };
}

/** An outbox holding seqs 1..count (one append each), closed; its files. */
async function written(
  count: number,
  segmentBytes = 8 * 1024 * 1024,
): Promise<{ files: Map<string, Buffer>; seqs: number[] }> {
  const fs = new CrashFs();
  const o = new FileOutbox(DIR, { fs, segmentBytes });
  await o.open("seq-client");
  const seqs: number[] = [];
  for (let i = 1; i <= count; i++) seqs.push(await o.append([entry(`message ${i} ${"p".repeat(i * 3)}`)]));
  await o.close();
  assert.deepEqual(
    seqs,
    Array.from({ length: count }, (_, i) => i + 1),
  );
  return { files: fs.files(), seqs };
}

function segmentPaths(files: Map<string, Buffer>): string[] {
  return [...files.keys()]
    .filter((p) => p.startsWith(`${DIR}/`) && parseSegmentFileName(p.slice(DIR.length + 1)) !== undefined)
    .sort();
}

/** Where the DATA record with `seq` starts and ends, and in which segment. */
function locate(files: Map<string, Buffer>, seq: number): { path: string; start: number; end: number } {
  for (const path of segmentPaths(files)) {
    const b = files.get(path) as Buffer;
    const scan = scanSegment(b);
    if (scan.kind !== "ok") continue;
    const i = scan.records.findIndex((r) => r.type === RecordType.DATA && r.seq === seq);
    if (i >= 0) return { path, start: scan.offsets[i] as number, end: scan.offsets[i + 1] ?? b.length };
  }
  throw new Error(`no record with seq ${seq}`);
}

function flipped(files: Map<string, Buffer>, path: string, at: number): Map<string, Buffer> {
  const out = new Map(files);
  const b = Buffer.from(files.get(path) as Buffer);
  b[at] = (b[at] as number) ^ 0x04;
  out.set(path, b);
  return out;
}

function payloads(o: FileOutbox): string[] {
  return o.read(0, Infinity, Infinity).map((r) => Buffer.from(r.data).toString());
}

test("seqs 1-10, a bit flipped in record 6: the next append gets a seq > 10, also after a crash right after the open", async () => {
  const { files } = await written(10);
  const six = locate(files, 6);
  const damaged = flipped(files, six.path, six.start + 30); // inside the body: a CRC mismatch

  // Crash right after the open: nothing appended, nothing closed; only what is durable survives.
  const fs = CrashFs.from(damaged);
  const first = new FileOutbox(DIR, { fs });
  await first.open("seq-client");
  assert.equal(first.recoveryReport?.quarantined.length, 1, "record 6 and what follows it are quarantined");
  assert.equal(first.recoveryReport?.seqJump, SEQ_JUMP_AFTER_DAMAGE);
  assert.deepEqual(payloads(first).length, 5, "records 1-5 are kept");
  assert.ok(first.nextSeq > 10, `nextSeq ${first.nextSeq} would reuse a seq <= 10`);
  const afterCrash = fs.image("none");

  const second = new FileOutbox(DIR, { fs: afterCrash });
  await second.open("seq-client");
  assert.equal(second.recoveryReport?.quarantined.length, 0, "the damage is gone: nothing more to quarantine");
  assert.equal(second.clientId, "seq-client");
  const seq = await second.append([entry("after the crash")]);
  assert.ok(seq > 10, `seq ${seq} after a crash right after the open reuses a seq <= 10`);
  assert.ok(seq >= first.nextSeq, `seq ${seq} is below the jump the first open made (${first.nextSeq})`);
  await second.close();

  // The first outbox itself hands out the jumped seqs: records 7-10 were still readable in the quarantined bytes.
  assert.equal(await first.append([entry("in the first open")]), 11 + SEQ_JUMP_AFTER_DAMAGE);
  await first.close();
});

test("a power cut at every step of an open that quarantines: the next seq stays above every seq handed out before", async () => {
  const { files } = await written(10);
  const six = locate(files, 6);
  const damaged = flipped(files, six.path, six.start + 2); // in the length: caught by the frame CRC
  let steps: number;
  for (let crashAt = 0; ; crashAt++) {
    const fs = CrashFs.from(damaged, crashAt);
    const o = new FileOutbox(DIR, { fs });
    let finished = true;
    try {
      await o.open("seq-client");
    } catch (err) {
      if (!fs.crashed) throw err;
      finished = false;
    }
    await o.close().catch(() => undefined);
    for (const [mode, seed] of [
      ["none", 0],
      ["all", 0],
      ["random", 1],
      ["random", 2],
    ] as const) {
      const label = `power cut at op ${crashAt} of the open, ${mode} ${seed}`;
      const again = new FileOutbox(DIR, { fs: fs.image(mode, rng(crashAt * 10 + seed)) });
      await again.open("seq-client");
      assert.equal(again.clientId, "seq-client", label);
      assert.equal(payloads(again).length, 5, `${label}: records 1-5 kept`);
      const seq = await again.append([entry("next")]);
      assert.ok(seq > 10, `${label}: seq ${seq} reuses a seq <= 10`);
      await again.close();
    }
    if (finished) {
      steps = crashAt;
      break;
    }
  }
  assert.ok(steps > 5, `the open should take several durable steps (saw ${steps})`);
});

test("a flip in a middle segment, later segments intact: their records are kept and the next seq is above them all", async () => {
  const { files } = await written(30, 300);
  const paths = segmentPaths(files);
  assert.ok(paths.length >= 4, `want several segments (got ${paths.length})`);
  const middle = paths[Math.floor(paths.length / 2)] as string;
  const scan = scanSegment(files.get(middle) as Buffer);
  assert.equal(scan.kind, "ok");
  if (scan.kind !== "ok") return;
  const dataIdx = scan.records.findIndex((r) => r.type === RecordType.DATA);
  const victim = scan.records[dataIdx]?.seq as number;
  const damaged = flipped(files, middle, (scan.offsets[dataIdx] as number) + 20);

  const fs = CrashFs.from(damaged);
  const o = new FileOutbox(DIR, { fs, segmentBytes: 300 });
  await o.open("seq-client");
  assert.equal(o.recoveryReport?.quarantined.length, 1);
  assert.equal(o.recoveryReport?.quarantined[0]?.segment, middle.slice(DIR.length + 1));
  const kept = o.read(0, Infinity, Infinity).map((r) => r.seq);
  assert.ok(!kept.includes(victim), "the damaged record is gone");
  assert.ok(kept.includes(victim - 1) && kept.includes(30), "the records before it and in the later segments are kept");
  assert.equal(o.nextSeq, 31 + SEQ_JUMP_AFTER_DAMAGE, "the jump starts from the highest readable seq (30)");
  const crashed = fs.image("none");
  const seq = await o.append([entry("next")]);
  assert.ok(seq > 30, `seq ${seq} reuses a seq <= 30`);
  await o.close();
  const again = new FileOutbox(DIR, { fs: crashed, segmentBytes: 300 });
  await again.open("seq-client");
  assert.ok((await again.append([entry("after a crash")])) > 30);
  await again.close();
});

test("records stored after the damage in the same segment still count: the jump starts above them", async () => {
  const { files } = await written(10);
  const three = locate(files, 3);
  const o = new FileOutbox(DIR, { fs: CrashFs.from(flipped(files, three.path, three.start + 25)) });
  await o.open("seq-client");
  assert.deepEqual(
    o.read(0, Infinity, Infinity).map((r) => r.seq),
    [1, 2],
  );
  assert.equal(o.nextSeq, 11 + SEQ_JUMP_AFTER_DAMAGE, "records 4-10 were found in the quarantined bytes");
  await o.close();
});

test("damage that hits the segment holding an earlier jump (its META record) does not bring those seqs back", async () => {
  const { files } = await written(10);
  const six = locate(files, 6);
  const fs = CrashFs.from(flipped(files, six.path, six.start + 30));
  const first = new FileOutbox(DIR, { fs });
  await first.open("seq-client");
  const jumped: number[] = [];
  for (let i = 0; i < 3; i++) jumped.push(await first.append([entry(`jumped ${i}`)]));
  await first.close();
  assert.ok((jumped[0] as number) > SEQ_JUMP_AFTER_DAMAGE);

  // Flip a bit in the META record at the start of the newest segment (the one the first open created).
  const now = fs.files();
  const newest = segmentPaths(now).at(-1) as string;
  const again = new FileOutbox(DIR, { fs: CrashFs.from(flipped(now, newest, SEGMENT_HEADER_BYTES + 20)) });
  await again.open("seq-client");
  assert.equal(again.recoveryReport?.quarantined.length, 1);
  const seq = await again.append([entry("after the second damage")]);
  assert.ok(seq > Math.max(...jumped), `seq ${seq} reuses one of ${jumped.join(", ")}`);
  await again.close();
});

test("a segment whose header is unreadable is quarantined whole; its records still raise the floor", async () => {
  const { files } = await written(10);
  const path = segmentPaths(files)[0] as string;
  const o = new FileOutbox(DIR, { fs: CrashFs.from(flipped(files, path, 3)) });
  await o.open("seq-client");
  assert.equal(o.recoveryReport?.quarantined[0]?.reason, "bad magic");
  assert.equal(o.count, 0);
  const seq = await o.append([entry("next")]);
  assert.equal(seq, 11 + SEQ_JUMP_AFTER_DAMAGE);
  await o.close();
});

test("a torn tail (a write cut short, never stored) is cut without a jump", async () => {
  const { files } = await written(10);
  const ten = locate(files, 10);
  const cut = new Map(files);
  cut.set(ten.path, (files.get(ten.path) as Buffer).subarray(0, ten.end - 7));
  const o = new FileOutbox(DIR, { fs: CrashFs.from(cut) });
  await o.open("seq-client");
  assert.equal(o.recoveryReport?.quarantined.length, 0);
  assert.equal(o.recoveryReport?.seqJump, 0);
  assert.ok((o.recoveryReport?.tornBytes ?? 0) > 0);
  assert.equal(o.nextSeq, 10, "seq 10 was never stored whole, so it was never sent");
  await o.close();
});
