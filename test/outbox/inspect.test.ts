/**
 * inspectOutbox reads an outbox without its lock and without writing: it
 * agrees with what FileOutbox.open finds, reports a torn tail and corrupt
 * parts as what the next open will repair (and then that open does exactly
 * that), names a live lock holder, and works while another process appends,
 * acknowledges and deletes segments.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { inspectOutbox } from "../../src/outbox/index.js";
import { crc32c } from "../../src/storage/crc32c.js";
import type { StorageFs } from "../../src/storage/fs-layer.js";
import { nodeFs } from "../../src/storage/fs-layer.js";
import { encodeOne, RecordType } from "../../src/storage/record-format.js";
import { SEQ_JUMP_AFTER_DAMAGE } from "../../src/outbox/log/replay.js";
import { scanSegment } from "../../src/storage/segment-reader.js";
import type { OutboxEntry } from "../../src/outbox/outbox.js";
import { CrashFs } from "../storage/crash-fs.js";

const HOLDER = fileURLToPath(new URL("./holder-child.js", import.meta.url));
const T0 = Date.UTC(2025, 5, 1, 12);

function entry(i: number): OutboxEntry {
  return {
    data: Buffer.from(`message ${i} ${"q".repeat((i * 7) % 90)}`),
    important: i % 3 !== 0,
    createdAtMs: T0 + 1000 * i,
    expiresAtMs: i % 4 === 0 ? T0 + 3_600_000 : Infinity,
  };
}

async function tempDir(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "outlast-inspect-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  return join(root, "q");
}

/** Writes 40 records over several segments, acknowledges 1..10 and drops 12. */
async function build(fs: StorageFs, dir: string): Promise<void> {
  const o = new FileOutbox(dir, { fs, segmentBytes: 1024 });
  await o.open("inspected");
  for (let i = 1; i <= 40; i += 4) await o.append([entry(i), entry(i + 1), entry(i + 2), entry(i + 3)]);
  o.acknowledge(10);
  o.drop(12, "expired");
  await o.sync();
  await o.close();
}

/** Every file under `dir` with its bytes (a proof that nothing was written). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const p = join(dir, name);
    const s = await stat(p);
    if (s.isFile()) out.set(name, `${s.mtimeMs} ${(await readFile(p)).toString("base64")}`);
  }
  return out;
}

test("inspectOutbox agrees with what FileOutbox.open finds, and writes nothing", async (t) => {
  const dir = await tempDir(t);
  await build(nodeFs, dir);
  const before = await snapshot(dir);
  const i = await inspectOutbox(dir);
  assert.deepEqual(await snapshot(dir), before, "no file was written, created or removed (not even a lock)");

  const live = Array.from({ length: 40 }, (_, k) => k + 1).filter((s) => s > 10 && s !== 12);
  const files = [...before.keys()].filter((f) => f.startsWith("seg-"));
  let diskBytes = 0;
  for (const f of files) diskBytes += (await stat(join(dir, f))).size;
  assert.deepEqual(i, {
    dir,
    clientId: "inspected",
    nextSeq: 41,
    messages: live.length,
    bytes: live.reduce((a, s) => a + entry(s).data.length, 0),
    importantMessages: live.filter((s) => entry(s).important).length,
    expiringMessages: live.filter((s) => entry(s).expiresAtMs !== Infinity).length,
    firstSeq: 11,
    lastSeq: 40,
    oldestCreatedAtMs: T0 + 11_000,
    segments: files.length,
    diskBytes,
    quarantined: [],
    quarantinedBytes: 0,
    tornBytes: 0,
    damaged: [],
    obsoleteSegments: 0,
    lockedBy: undefined,
  });
  assert.ok(files.length >= 3, `the records span several segments (${files.length})`);

  const o = new FileOutbox(dir);
  await o.open("x");
  assert.equal(o.count, i.messages);
  assert.equal(o.bytes, i.bytes);
  assert.equal(o.nextSeq, i.nextSeq);
  assert.equal(o.oldest?.seq, i.firstSeq);
  const held = await inspectOutbox(dir);
  assert.equal(held.lockedBy, process.pid, "a lock held by a live process is named");
  assert.equal(held.messages, i.messages);
  await o.close();
  assert.equal((await inspectOutbox(dir)).lockedBy, undefined, "released");

  // A stale lock (a pid that no longer exists) is not reported as a holder.
  const { spawnSync } = await import("node:child_process");
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
  await writeFile(join(dir, "lock"), `${dead}\n`);
  assert.equal((await inspectOutbox(dir)).lockedBy, undefined);
});

test("a torn tail and corrupt parts are reported, not repaired; the next open repairs exactly that", async () => {
  const fs = new CrashFs();
  await build(fs, "/d");
  const files = fs.files();
  const segs = [...files.keys()].filter((p) => p.includes("/seg-")).sort();
  const sealed = segs[1] as string;
  const newest = segs.at(-1) as string;
  // A bit flipped inside the second record of a sealed segment, and half a record torn onto the newest.
  const bad = Buffer.from(files.get(sealed) as Buffer);
  const scan = scanSegment(bad);
  assert.equal(scan.kind, "ok");
  const second = scan.kind === "ok" ? (scan.offsets[1] as number) : 0;
  bad[second + 20] = (bad[second + 20] as number) ^ 0x04;
  files.set(sealed, bad);
  const whole = files.get(newest) as Buffer;
  const torn = encodeOne(RecordType.DATA, 41, Buffer.from("never finished")).subarray(0, 30);
  files.set(newest, Buffer.concat([whole, torn]));
  files.set("/d/quarantine/seg-0000000000000001.log.99.bad", Buffer.alloc(33, 1)); // left by an earlier open

  const damaged = CrashFs.from(files);
  const i = await inspectOutbox("/d", { fs: damaged });
  assert.equal(damaged.ops, 0, "no write, sync, create, rename or unlink was issued");
  assert.deepEqual(damaged.files(), files, "every file is as it was");
  assert.equal(i.tornBytes, 30);
  assert.equal(i.damaged.length, 1);
  const part = i.damaged[0]!;
  assert.equal(part.segment, sealed.slice("/d/".length));
  assert.equal(part.offset, second);
  assert.equal(part.bytes, bad.length - second);
  assert.equal(part.reason, "record CRC mismatch");
  assert.deepEqual(i.quarantined, [{ file: join("quarantine", "seg-0000000000000001.log.99.bad"), bytes: 33 }]);
  assert.equal(i.quarantinedBytes, 33);

  const o = new FileOutbox("/d", { fs: damaged });
  await o.open("x");
  const report = o.recoveryReport;
  assert.equal(report?.tornBytes, i.tornBytes, "the open cut what inspect called torn");
  assert.deepEqual(
    report?.quarantined.map((q) => ({
      segment: q.segment,
      offset: q.offset,
      bytes: q.bytes,
      reason: q.reason,
      file: join("quarantine", q.file),
    })),
    i.damaged.map((d) => ({ ...d })),
    "the open quarantined what inspect called damaged",
  );
  assert.equal(o.count, i.messages);
  assert.equal(o.bytes, i.bytes);
  assert.equal(report?.seqJump, SEQ_JUMP_AFTER_DAMAGE);
  assert.equal(
    o.nextSeq,
    i.nextSeq + SEQ_JUMP_AFTER_DAMAGE,
    "the open jumps the seq inspect reported, because of the damage",
  );
  assert.equal(o.oldest?.seq, i.firstSeq);
  await o.close();
  const after = await inspectOutbox("/d", { fs: damaged });
  assert.equal(after.tornBytes, 0);
  assert.deepEqual(after.damaged, []);
  assert.equal(after.nextSeq, o.nextSeq, "the jump is on disk");
  assert.equal(after.quarantined.length, 2);
});

test("inspectOutbox: a missing directory, a directory that is not an outbox, and a newer format version are coded errors", async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(inspectOutbox(dir), (err: unknown) => {
    assert.ok(isOutlastError(err, "OUTLAST_OUTBOX_IO"), String(err));
    assert.equal(err.details.errno, "ENOENT");
    assert.match(err.message, /there is no outbox at .* \(no such directory\)/);
    return true;
  });
  await mkdir(dir);
  const empty = await inspectOutbox(dir);
  assert.equal(empty.messages, 0);
  assert.equal(empty.clientId, undefined);
  assert.equal(empty.nextSeq, 1);
  assert.equal(empty.oldestCreatedAtMs, undefined);
  await writeFile(join(dir, "notes.txt"), "hi");
  await assert.rejects(inspectOutbox(dir), (err: unknown) => isOutlastError(err, "OUTLAST_INVALID_OPTION"));

  const fs = new CrashFs();
  await build(fs, "/v");
  const files = fs.files();
  const first = [...files.keys()].filter((p) => p.includes("/seg-")).sort()[0] as string;
  const b = Buffer.from(files.get(first) as Buffer);
  b.writeUInt16LE(7, 8);
  b.writeUInt32LE(crc32c(b, 0, 20), 20);
  files.set(first, b);
  await assert.rejects(inspectOutbox("/v", { fs: CrashFs.from(files) }), (err: unknown) =>
    isOutlastError(err, "OUTLAST_OUTBOX_CORRUPT"),
  );
});

test("inspectOutbox while another process holds the outbox and appends, acknowledges and deletes segments without pause", async (t) => {
  const dir = await tempDir(t);
  await build(nodeFs, dir);
  const child = spawn(process.execPath, [HOLDER, dir, "busy"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines = createInterface({ input: child.stdout });
  const nextLine = (what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${what}" line from the child in 20 s; stderr: ${stderr}`)),
        20_000,
      );
      lines.once("line", (line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  const ready = (await nextLine("ready")).split(" ");
  assert.equal(ready[0], "ready", stderr);
  const pid = Number(ready[1]);

  let lastNext = 0;
  let segmentsSeen = new Set<number>();
  for (let k = 0; k < 30; k++) {
    const i = await inspectOutbox(dir);
    assert.equal(i.lockedBy, pid, `inspection ${k}: the holder is named`);
    assert.equal(i.clientId, "inspected");
    assert.deepEqual(i.damaged, [], `inspection ${k}: a live writer is not damage`);
    assert.ok(i.nextSeq >= lastNext, `inspection ${k}: nextSeq went back`);
    assert.ok(
      i.firstSeq === undefined || (i.lastSeq !== undefined && i.firstSeq <= i.lastSeq && i.lastSeq < i.nextSeq),
      `inspection ${k}: seqs`,
    );
    lastNext = i.nextSeq;
    segmentsSeen = new Set([...segmentsSeen, i.segments]);
  }
  assert.ok(lastNext > 41, "the child kept appending meanwhile");
  child.stdin.end();
  const closed = (await nextLine("closed")).split(" ");
  assert.equal(await exited, 0, stderr);
  assert.equal(closed[3], "none", "the holder never failed");
  const final = await inspectOutbox(dir);
  assert.equal(final.lockedBy, undefined);
  assert.equal(final.messages, Number(closed[1]));
  assert.equal(final.nextSeq, Number(closed[2]));
  assert.deepEqual(final.damaged, []);
  assert.equal(final.tornBytes, 0);
});
