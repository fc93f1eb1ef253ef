import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import type { OutboxEntry } from "../../src/outbox/outbox.js";
import { outboxConformance } from "./conformance.js";

const root = await mkdtemp(join(tmpdir(), "outlast-file-outbox-"));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `o${++n}`);

outboxConformance("FileOutbox", () => new FileOutbox(freshDir()));

function entry(text: string, extra: Partial<OutboxEntry> = {}): OutboxEntry {
  return { data: Buffer.from(text), important: true, createdAtMs: 7, expiresAtMs: Infinity, ...extra };
}
const texts = (o: FileOutbox): string[] =>
  o.read(0, 1e9, Infinity).map((r) => `${r.seq}:${Buffer.from(r.data).toString()}`);

test("FileOutbox: records, clientId and next seq survive a reopen; acknowledged and dropped ones stay gone", async () => {
  const dir = freshDir();
  const a = new FileOutbox(dir);
  assert.equal(await a.open("client-1"), "client-1");
  await a.append([entry("a"), entry("b", { important: false, expiresAtMs: 12345 }), entry("c"), entry("d")]);
  a.acknowledge(1);
  a.drop(3, "expired");
  await a.sync();
  await a.close();

  const b = new FileOutbox(dir);
  assert.equal(await b.open("another-proposal"), "client-1", "the persisted clientId wins");
  assert.deepEqual(texts(b), ["2:b", "4:d"]);
  assert.equal(b.get(2)?.important, false);
  assert.equal(b.get(2)?.expiresAtMs, 12345);
  assert.equal(b.get(2)?.createdAtMs, 7);
  assert.equal(b.get(4)?.expiresAtMs, Infinity);
  assert.equal(b.nextSeq, 5);
  assert.equal(await b.append([entry("e")]), 5);
  b.acknowledge(5);
  await b.close();

  const c = new FileOutbox(dir);
  await c.open("x");
  assert.equal(c.count, 0);
  assert.equal(c.nextSeq, 6, "seqs are never reused, even when everything was acknowledged");
  await c.close();
});

test("FileOutbox: appends of one turn share one fdatasync (group commit)", async () => {
  const dir = freshDir();
  const o = new FileOutbox(dir);
  await o.open("c");
  const { subscribe, unsubscribe } = await import("node:diagnostics_channel");
  const commits: { records: number }[] = [];
  const onCommit = (m: unknown): void => void commits.push(m as { records: number });
  subscribe("outlast:outbox:commit", onCommit);
  try {
    const firsts = await Promise.all(Array.from({ length: 100 }, (_, i) => o.append([entry(`m${i}`)])));
    assert.deepEqual(
      firsts,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(commits.length, 1, `expected one commit, saw ${commits.length}`);
    assert.equal(commits[0]?.records, 100);
  } finally {
    unsubscribe("outlast:outbox:commit", onCommit);
    await o.close();
  }
});

test("FileOutbox: renumber is durable (checkpoint) and later acknowledgements replay right", async () => {
  const dir = freshDir();
  const a = new FileOutbox(dir, { segmentBytes: 200 });
  await a.open("c");
  for (let i = 0; i < 10; i++) await a.append([entry(`r${i}`)]);
  a.acknowledge(3);
  a.drop(5, "full");
  await a.renumber(0, 1000);
  assert.deepEqual(texts(a), ["1000:r3", "1001:r5", "1002:r6", "1003:r7", "1004:r8", "1005:r9"]);
  a.acknowledge(1001);
  await a.sync();
  assert.equal(await a.append([entry("new")]), 1006);
  await a.close();
  const b = new FileOutbox(dir);
  await b.open("c");
  assert.deepEqual(texts(b), ["1002:r6", "1003:r7", "1004:r8", "1005:r9", "1006:new"]);
  assert.equal(b.nextSeq, 1007);
  await b.close();
});

test("FileOutbox: fully acknowledged segments are deleted; the active one stays", async () => {
  const dir = freshDir();
  const o = new FileOutbox(dir, { segmentBytes: 1024 });
  await o.open("c");
  for (let i = 0; i < 50; i++) await o.append([entry("x".repeat(100))]);
  const before = (await readdir(dir)).filter((f) => f.startsWith("seg-")).length;
  assert.ok(before > 3, `expected several segments, saw ${before}`);
  o.acknowledge(50);
  await o.sync();
  await o.append([entry("y")]); // the next commit deletes what the durable ACK emptied
  const afterFiles = (await readdir(dir)).filter((f) => f.startsWith("seg-"));
  assert.ok(afterFiles.length <= 2, `expected at most 2 segments left, saw ${afterFiles.join(", ")}`);
  await o.close();
  const again = new FileOutbox(dir);
  await again.open("c");
  assert.deepEqual(texts(again), ["51:y"]);
  await again.close();
});

test("FileOutbox: files are created with mode 0600, the directory 0700; an existing empty directory is fine", async () => {
  const dir = freshDir();
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir);
  const o = new FileOutbox(dir);
  await o.open("c");
  await o.append([entry("a")]);
  for (const f of await readdir(dir)) {
    const st = await stat(join(dir, f));
    assert.equal(st.mode & 0o777, 0o600, `${f} has mode ${(st.mode & 0o777).toString(8)}`);
  }
  await o.close();
  const d2 = join(freshDir(), "nested", "q");
  const p = new FileOutbox(d2);
  await p.open("c");
  assert.equal((await stat(d2)).mode & 0o777, 0o700);
  await p.close();
});

test("FileOutbox: a directory holding other files is refused", async () => {
  const dir = freshDir();
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir);
  await writeFile(join(dir, "notes.txt"), "hello");
  const o = new FileOutbox(dir);
  await assert.rejects(
    o.open("c"),
    (err: unknown) => isOutlastError(err, "OUTLAST_INVALID_OPTION") && /not empty/.test((err as Error).message),
  );
  await o.close();
});

test("FileOutbox: a second outbox on a locked directory gets OUTLAST_OUTBOX_LOCKED naming the pid; a stale lock is taken over", async () => {
  const dir = freshDir();
  const a = new FileOutbox(dir);
  await a.open("c");
  const b = new FileOutbox(dir);
  await assert.rejects(b.open("c"), (err: unknown) => {
    assert.ok(isOutlastError(err, "OUTLAST_OUTBOX_LOCKED"));
    assert.equal(
      err.message,
      `outbox directory ${dir} is locked by pid ${process.pid}; stop that process or pass another outbox`,
    );
    assert.equal(err.details.pid, process.pid);
    return true;
  });
  await a.close();

  // A pid that no longer exists: a child that has exited.
  const { spawnSync } = await import("node:child_process");
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
  await writeFile(join(dir, "lock"), `${dead}\n`);
  const c = new FileOutbox(dir);
  await c.open("c");
  await c.close();
  // Empty after a power cut.
  await writeFile(join(dir, "lock"), "");
  const d = new FileOutbox(dir);
  await d.open("c");
  await d.close();
  // Garbage after a power cut.
  await writeFile(join(dir, "lock"), Buffer.from([0, 0, 0xff, 7]));
  const e = new FileOutbox(dir);
  await e.open("c");
  await e.close();
});

test("FileOutbox: maxBytes rejects an append with OUTLAST_OUTBOX_FULL and keeps working after acknowledgements", async () => {
  const dir = freshDir();
  const o = new FileOutbox(dir, { maxBytes: 4096, segmentBytes: 1024 });
  await o.open("c");
  let stored = 0;
  let full: unknown;
  for (let i = 0; i < 100 && full === undefined; i++) {
    try {
      await o.append([entry("z".repeat(200))]);
      stored++;
    } catch (err) {
      full = err;
    }
  }
  assert.ok(isOutlastError(full, "OUTLAST_OUTBOX_FULL"), String(full));
  assert.match((full as Error).message, /is full: \d+ of maxBytes 4096 bytes on disk/);
  assert.ok(stored >= 10 && stored < 20, `stored ${stored}`);
  assert.ok(o.diskBytes <= 4096);
  o.acknowledge(stored);
  await o.sync();
  await o.append([entry("small")]); // deletes the emptied segments
  const seq = await o.append([entry("z".repeat(200))]);
  assert.equal(seq, stored + 2, "a rejected append takes no seq");
  await o.close();
});

test("FileOutbox: append after a failed open and before open is refused", async () => {
  const o = new FileOutbox(freshDir());
  await assert.rejects(o.append([entry("a")]), { code: "OUTLAST_CLOSED", message: /not open yet/ });
  await o.close();
});

test("FileOutbox: a bad maxBytes or segmentBytes is OUTLAST_INVALID_OPTION naming the option; misuse is coded too", async () => {
  for (const option of ["maxBytes", "segmentBytes"] as const) {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, "8" as unknown as number]) {
      assert.throws(
        () => new FileOutbox("/nowhere", { [option]: bad }),
        (err: Error & { code?: string; details?: { option?: string } }) =>
          err.code === "OUTLAST_INVALID_OPTION" && err.details?.option === option && err.message.includes(option),
        `${option} = ${String(bad)}`,
      );
    }
  }
  const o = new FileOutbox("/nowhere");
  assert.throws(() => o.clientId, { code: "OUTLAST_CLOSED" });
  await assert.rejects(o.append([]), { code: "OUTLAST_CLOSED" });
});
