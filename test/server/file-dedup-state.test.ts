import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { crc32 } from "node:zlib";
import { replayLog } from "../../src/server/dedup-file-format.js";
import type { SeqPair } from "../../src/server/dedup-file-format.js";
import { FileDedupState } from "../../src/server/file-dedup-state.js";
import { currentBootId } from "../../src/server/progress-file.js";
import { dedupStateConformance } from "./dedup-state-conformance.js";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-state-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

dedupStateConformance("FileDedupState", () => {
  const dir = mkdtempSync(join(tmpdir(), "outlast-state-"));
  return {
    persistent: true,
    state: () => new FileDedupState(dir),
    dispose: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  };
});

async function opened(
  t: TestContext,
  dir: string,
  compactAfterBytes?: number,
): Promise<{ state: FileDedupState; commits: Map<string, number>[] }> {
  const state = new FileDedupState(dir, compactAfterBytes === undefined ? {} : { compactAfterBytes });
  const commits: Map<string, number>[] = [];
  state.setListeners(
    (c) => commits.push(new Map(c)),
    (err) => assert.fail(err),
  );
  await state.open();
  t.after(() => state.close(false));
  return { state, commits };
}

test("records survive close and reopen; the commit listener reports what became durable", async (t) => {
  const dir = tempDir(t);
  const { state, commits } = await opened(t, dir);
  state.record("a", 3);
  state.record("b", 7);
  state.record("a", 5);
  await state.flush();
  assert.deepEqual(
    [...commits[0]!],
    [
      ["a", 5],
      ["b", 7],
    ],
  );
  await state.close(true);
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("a").lastSeq, 5);
  assert.equal(again.load("b").lastSeq, 7);
  assert.equal(again.load("nobody").lastSeq, 0);
});

test("group commit: records made while an fdatasync runs share the next one", async (t) => {
  const dir = tempDir(t);
  const { state, commits } = await opened(t, dir);
  for (let i = 1; i <= 1000; i++) {
    state.record(`c${i % 10}`, i);
    state.commit(); // the first starts an fdatasync; the rest wait and are batched
  }
  await state.flush();
  assert.ok(commits.length >= 2 && commits.length < 20, `expected a few group commits, got ${commits.length}`);
  assert.equal(state.load("c0").lastSeq, 1000);
});

test("started marks are kept apart from successes", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("x", 4);
  state.markStarted("x", 9);
  await state.flush();
  await state.close(true);
  pretendReboot(dir);
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("x").lastSeq, 4);
  assert.deepEqual(again.load("x").inDoubt, { fromSeq: 5, toSeq: 9 });
});

test("a torn tail (a crash mid-append) is ignored and cut off at open", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("a", 10);
  await state.flush();
  await state.close(true);
  const log = join(dir, "log");
  const good = statSync(log).size;
  const whole = readFileSync(log);
  appendFileSync(log, whole.subarray(0, whole.length - 3)); // half a record
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("a").lastSeq, 10);
  assert.equal(statSync(log).size, good);
  again.record("a", 11);
  await again.flush();
  await again.close(true);
  const { state: third } = await opened(t, dir);
  assert.equal(third.load("a").lastSeq, 11, "appends after the cut are readable");
});

test("a record with a bad CRC ends the log", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("a", 1);
  await state.flush();
  state.record("a", 2);
  await state.flush();
  await state.close(true);
  const log = join(dir, "log");
  const bytes = readFileSync(log);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // corrupt the last record's clientId
  writeFileSync(log, bytes);
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("a").lastSeq, 1);
});

test("compaction writes a snapshot, empties the log, and keeps every value", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir, 200);
  for (let i = 1; i <= 50; i++) {
    state.record(`client-${i % 7}`, i);
    await state.flush();
  }
  state.markStarted("client-1", 99);
  state.record("client-1", 50); // the mark goes into the log with a commit
  await state.flush();
  await state.close(true);
  assert.ok(existsSync(join(dir, "snapshot")));
  assert.ok(statSync(join(dir, "log")).size < 200);
  assert.equal(existsSync(join(dir, "snapshot.tmp")), false);
  const { state: again } = await opened(t, dir);
  for (let k = 0; k < 7; k++) {
    const last = Math.max(...Array.from({ length: 50 }, (_, i) => i + 1).filter((i) => i % 7 === k));
    assert.equal(again.load(`client-${k}`).lastSeq, last, `client-${k}`);
  }
  await again.close(true);
  pretendReboot(dir);
  const { state: third } = await opened(t, dir);
  assert.deepEqual(third.load("client-1").inDoubt, { fromSeq: 51, toSeq: 99 }, "the started mark survived");
});

test("a corrupt snapshot refuses to open (it would forget what was processed)", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "snapshot"), "OUTLSNP1 not really");
  const state = new FileDedupState(dir);
  await assert.rejects(state.open(), (err: Error & { code?: string }) => {
    assert.equal(err.code, "OUTLAST_STATE_CORRUPT");
    assert.match(err.message, /corrupt/);
    return true;
  });
  assert.equal(existsSync(join(dir, "lock")), false, "the lock is released after a failed open");
});

test("a lock keeps a second state out of the directory; a dead owner's lock is taken over", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  const second = new FileDedupState(dir);
  await assert.rejects(second.open(), (err: Error & { code?: string; details?: { pid?: number } }) => {
    assert.equal(err.code, "OUTLAST_STATE_LOCKED");
    assert.equal(err.details?.pid, process.pid);
    assert.match(err.message, /locked by pid/);
    return true;
  });
  await state.close(true);
  // A lock left by a process that no longer exists.
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  writeFileSync(join(dir, "lock"), `${dead.stdout}\n`);
  const { state: third } = await opened(t, dir);
  assert.match(readFileSync(join(dir, "lock"), "utf8"), new RegExp(`^outlast-lock 1\npid ${process.pid}\n`));
  await third.close(true);
  assert.equal(existsSync(join(dir, "lock")), false);
});

/** Rewrites the progress file's header as if it had been written during another boot. */
function pretendReboot(dir: string): void {
  const path = join(dir, "progress");
  const bytes = readFileSync(path);
  const header = Buffer.alloc(64);
  header.write("OUTLPRG1", 0, "latin1");
  const len = header.write("another-boot", 12, "latin1");
  header.writeUInt32BE(len, 8);
  header.writeUInt32BE(crc32(header.subarray(0, 60)), 60);
  header.copy(bytes, 0);
  writeFileSync(path, bytes);
}

test("progress survives a process that stopped without flushing: exact lastSeq and the one seq in the handler", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("p", 3);
  await state.flush(); // the log (fdatasync'd) says 3
  const p = state.progress("p");
  state.progress("q"); // a client that never ran a handler
  for (const seq of [4, 5]) {
    p.starting(seq);
    p.finished(seq);
  }
  p.starting(6); // handler for 6 is running...
  await state.close(false); // ...when the process dies: nothing else is written
  if (currentBootId() === "") return t.skip("no boot id on this system: every restart counts as a possible power loss");
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("p").lastSeq, 5);
  assert.deepEqual(again.load("p").inDoubt, { fromSeq: 6, toSeq: 6 });
  assert.equal(again.load("q").lastSeq, 0);
  assert.ok(again.load("q").inDoubt.toSeq < again.load("q").inDoubt.fromSeq, "nothing in doubt for q");
  await again.close(true);
  // The raised lastSeq was made durable in the log at open (WELCOME reports only fdatasync'd seqs).
  const log = readFileSync(join(dir, "log"));
  const map = new Map<string, SeqPair>();
  replayLog(log, map);
  assert.equal(map.get("p")?.lastSeq, 5);
});

test("after a reboot (other boot id) the log is the floor and every seq up to the last started mark is in doubt", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("x", 4);
  await state.flush();
  state.markStarted("x", 9); // 5..9 were handed over...
  state.record("x", 4); // ...and the mark went to the log with a commit
  await state.flush();
  const x = state.progress("x");
  for (const seq of [5, 6]) {
    x.starting(seq);
    x.finished(seq);
  }
  x.starting(7);
  await state.close(false);
  pretendReboot(dir);
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("x").lastSeq, 6, "a slot that survived still counts");
  assert.deepEqual(again.load("x").inDoubt, { fromSeq: 7, toSeq: 9 });
});

test("a torn progress slot is ignored: the log decides", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("x", 4);
  await state.flush();
  const slot = state.slotOf("x");
  state.writeSlot(slot, 8, 9);
  await state.close(false);
  const path = join(dir, "progress");
  const bytes = readFileSync(path);
  bytes[64 + slot * 32 + 12] = bytes[64 + slot * 32 + 12]! ^ 0xff; // inside doneSeq
  writeFileSync(path, bytes);
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("x").lastSeq, 4);
});

test("slots survive compaction (snapshot v2) and stay with their clientId", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir, 200);
  const slots = new Map<string, number>();
  for (let i = 1; i <= 40; i++) {
    const id = `client-${i % 5}`;
    if (!slots.has(id)) slots.set(id, state.slotOf(id));
    state.record(id, i);
    await state.flush();
  }
  for (const slot of slots.values()) state.writeSlot(slot, 100 + slot, 100 + slot);
  await state.close(false);
  assert.ok(existsSync(join(dir, "snapshot")));
  assert.equal(readFileSync(join(dir, "snapshot")).toString("latin1", 0, 8), "OUTLSNP2");
  if (currentBootId() === "") return t.skip("no boot id on this system: progress is only trusted up to the log");
  const { state: again } = await opened(t, dir);
  for (const [id, slot] of slots) {
    assert.equal(again.slotOf(id), slot, id);
    assert.equal(again.load(id).lastSeq, 100 + slot, id);
  }
  assert.equal(again.slotOf("new-client"), slots.size, "a new clientId gets the next free slot");
});

test("a version 1 snapshot (no slots) is still read", async (t) => {
  const dir = tempDir(t);
  const id = Buffer.from("old", "utf8");
  const body = Buffer.alloc(8 + 4 + 2 + id.length + 16);
  body.write("OUTLSNP1", 0, "latin1");
  body.writeUInt32BE(1, 8);
  body.writeUInt16BE(id.length, 12);
  id.copy(body, 14);
  body.writeUInt32BE(42, 14 + id.length + 4); // lastSeq 42 (low half)
  body.writeUInt32BE(45, 14 + id.length + 12); // startedSeq 45
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  writeFileSync(join(dir, "snapshot"), Buffer.concat([body, crc]));
  const { state } = await opened(t, dir);
  assert.equal(state.load("old").lastSeq, 42);
  assert.deepEqual(state.load("old").inDoubt, { fromSeq: 43, toSeq: 45 }, "no progress slot: the started mark decides");
  assert.equal(state.slotOf("old"), 0);
});
