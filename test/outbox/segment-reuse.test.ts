/**
 * The number of segment files follows the live data, not the number of opens:
 * open goes on appending in the newest segment (when it holds a META record),
 * and segments holding nothing but a META record that a newer segment repeats
 * (what every open left behind before) are removed at open, also when the
 * power fails in the middle of that.
 */

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { metaRecord } from "../../src/outbox/log/group-commit.js";
import {
  encodedSize,
  encodeRecord,
  encodeOne,
  encodeSegmentHeader,
  RecordType,
  segmentFileName,
} from "../../src/storage/record-format.js";
import type { OutboxEntry } from "../../src/outbox/outbox.js";
import { CrashFs } from "../storage/crash-fs.js";
import { rng } from "../helpers/seed.js";

const T0 = Date.UTC(2025, 0, 1);

function entry(i: number): OutboxEntry {
  return {
    data: Buffer.from(`record ${i} ${"p".repeat(i % 50)}`),
    important: i % 2 === 0,
    createdAtMs: T0 + i,
    expiresAtMs: Infinity,
  };
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith("seg-")).sort();
}

/** Every stored record as "seq:payload:important:createdAtMs". */
function contents(o: FileOutbox): string[] {
  return o
    .read(0, Infinity, Infinity)
    .map((r) => `${r.seq}:${Buffer.from(r.data).toString()}:${r.important}:${r.createdAtMs}`);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "outlast-reuse-"));
  try {
    await fn(join(root, "q"));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test("200 opens and closes with a backlog of 100 unacknowledged records: the segment files do not pile up, every record is intact", async () => {
  await withTempDir(async (dir) => {
    const first = new FileOutbox(dir);
    await first.open("restarts-often");
    await first.append(Array.from({ length: 100 }, (_, i) => entry(i + 1)));
    const expected = contents(first);
    await first.close();
    assert.equal(expected.length, 100);
    const files = await segmentFiles(dir);

    for (let cycle = 0; cycle < 200; cycle++) {
      const o = new FileOutbox(dir);
      assert.equal(await o.open("another"), "restarts-often");
      try {
        assert.deepEqual(contents(o), expected, `cycle ${cycle}: records`);
        assert.equal(o.nextSeq, 101, `cycle ${cycle}: nextSeq`);
        assert.equal(o.recoveryReport?.quarantined.length, 0);
        assert.equal(o.recoveryReport?.tornBytes, 0);
      } finally {
        await o.close();
      }
      const now = await segmentFiles(dir);
      assert.ok(now.length <= 3, `cycle ${cycle}: ${now.length} segment files (${now.join(", ")})`);
      assert.deepEqual(now, files, `cycle ${cycle}: no segment created or removed by a bare open`);
    }
  });
});

test("a restarting sender that keeps a backlog of 100 moving (small segments): files stay bounded by the live data, and old ones are deleted", async () => {
  await withTempDir(async (dir) => {
    const segmentBytes = 4096; // the backlog spans about 4 segments
    const first = new FileOutbox(dir, { segmentBytes });
    await first.open("mover");
    await first.append(Array.from({ length: 100 }, (_, i) => entry(i + 1)));
    await first.close();
    let next = 101;
    let most = 0;
    const seen = new Set<string>();
    for (let cycle = 0; cycle < 200; cycle++) {
      const o = new FileOutbox(dir, { segmentBytes });
      await o.open("mover");
      try {
        assert.equal(o.count, 100, `cycle ${cycle}: backlog`);
        assert.equal(o.oldest?.seq, next - 100, `cycle ${cycle}: oldest`);
        assert.equal(Buffer.from(o.get(next - 1)?.data ?? []).toString(), entry(next - 1).data.toString());
        for (let i = 0; i < 3; i++) assert.equal(await o.append([entry(next)]), next++);
        o.acknowledge(next - 101);
        await o.sync();
      } finally {
        await o.close();
      }
      const files = await segmentFiles(dir);
      for (const f of files) seen.add(f);
      most = Math.max(most, files.length);
      assert.ok(files.length <= 6, `cycle ${cycle}: ${files.length} segment files for ~14 KiB of live data`);
    }
    assert.ok(
      seen.size >= 10,
      `segments rolled over and were deleted (saw ${seen.size} names, at most ${most} at once)`,
    );
  });
});

/** seg-1: META + DATA 1..3; seg-2..4: META only (what three bare opens used to leave); seg-5: META + DATA 4. */
function legacyLayout(dir: string): Map<string, Buffer> {
  const data = (seq: number): Buffer => {
    const b = Buffer.allocUnsafe(encodedSize(`legacy ${seq}`.length));
    encodeRecord(b, 0, RecordType.DATA, seq, Buffer.from(`legacy ${seq}`), true, T0 + seq);
    return b;
  };
  const seg = (n: number, ...records: Buffer[]): [string, Buffer] => [
    join(dir, segmentFileName(n)),
    Buffer.concat([encodeSegmentHeader(n, false), ...records]),
  ];
  return new Map([
    seg(1, metaRecord("legacy", 1), data(1), data(2), data(3)),
    seg(2, metaRecord("legacy", 4)),
    seg(3, metaRecord("legacy", 4)),
    seg(4, metaRecord("legacy", 4)),
    seg(5, metaRecord("legacy", 4), data(4)),
  ]);
}

const LEGACY_RECORDS = [1, 2, 3, 4].map((s) => `${s}:legacy ${s}:true:${T0 + s}`);

test("segments holding only a META record that a newer one repeats are removed at open; the records stay", async () => {
  const fs = CrashFs.from(legacyLayout("/l"));
  const o = new FileOutbox("/l", { fs });
  assert.equal(await o.open("x"), "legacy");
  assert.deepEqual(contents(o), LEGACY_RECORDS);
  assert.equal(o.nextSeq, 5);
  assert.equal(o.recoveryReport?.removedSegments, 3);
  assert.equal(await o.append([entry(9)]), 5, "appends go on in the newest segment");
  await o.close();
  const names = [...fs.files().keys()].filter((p) => p.includes("seg-")).sort();
  assert.deepEqual(names, [join("/l", segmentFileName(1)), join("/l", segmentFileName(5))]);
});

test("power loss at every step of an open that removes META-only segments: nothing is lost and the next open finishes the job", async () => {
  let points = 0;
  for (let crashAt = 0; ; crashAt++) {
    const fs = CrashFs.from(legacyLayout("/l"), crashAt);
    const o = new FileOutbox("/l", { fs });
    try {
      await o.open("x");
      await o.close();
    } catch (err) {
      if (!fs.crashed) throw err;
    }
    if (!fs.crashed) break;
    points++;
    for (const [mode, seed] of [
      ["none", 0],
      ["all", 0],
      ["random", 1],
      ["random", 2],
    ] as const) {
      const again = new FileOutbox("/l", { fs: fs.image(mode, rng(crashAt * 10 + seed)) });
      assert.equal(await again.open("x"), "legacy", `cut at ${crashAt} (${mode})`);
      assert.deepEqual(contents(again), LEGACY_RECORDS, `cut at ${crashAt} (${mode})`);
      assert.equal(again.nextSeq, 5, `cut at ${crashAt} (${mode})`);
      assert.equal(again.recoveryReport?.quarantined.length, 0);
      await again.close();
    }
  }
  assert.ok(points >= 5, `an open with removals crosses several boundaries (saw ${points})`);
});

test("a newest segment without a META record (its creation was cut short) is not appended to: a new one keeps the clientId and next seq", async () => {
  const files = new Map<string, Buffer>([
    [
      join("/h", segmentFileName(1)),
      Buffer.concat([
        encodeSegmentHeader(1, false),
        metaRecord("keep-me", 1),
        encodeOne(RecordType.DATA, 1, Buffer.from("a")),
        encodeOne(RecordType.DATA, 2, Buffer.from("b")),
      ]),
    ],
    [join("/h", segmentFileName(2)), encodeSegmentHeader(2, false)], // header synced, META torn off
  ]);
  const fs = CrashFs.from(files);
  const o = new FileOutbox("/h", { fs });
  assert.equal(await o.open("x"), "keep-me");
  o.acknowledge(2); // segment 1 (and the empty segment 2) can go once this is durable
  await o.sync();
  await o.append([entry(3)]);
  await o.close();
  const names = [...fs.files().keys()].filter((p) => p.includes("seg-"));
  assert.deepEqual(
    names,
    [join("/h", segmentFileName(3))],
    "only the new segment, which starts with a META record, is left",
  );
  const again = new FileOutbox("/h", { fs });
  assert.equal(await again.open("someone-else"), "keep-me", "the clientId survived the deletion of the older segments");
  assert.deepEqual(contents(again), [`3:${entry(3).data.toString()}:false:${T0 + 3}`]);
  assert.equal(again.nextSeq, 4);
  await again.close();
});
