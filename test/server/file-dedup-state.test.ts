import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { FileDedupState } from "../../src/server/file-dedup-state.js";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-state-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function opened(t: TestContext, dir: string, compactAfterBytes?: number): Promise<{ state: FileDedupState; commits: Map<string, number>[] }> {
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
  assert.deepEqual([...commits[0]!], [["a", 5], ["b", 7]]);
  await state.close(true);
  const { state: again } = await opened(t, dir);
  assert.equal(again.lastSeq("a"), 5);
  assert.equal(again.lastSeq("b"), 7);
  assert.equal(again.lastSeq("nobody"), 0);
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
  assert.equal(state.lastSeq("c0"), 1000);
});

test("started marks are kept apart from successes", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("x", 4);
  state.markStarted("x", 9);
  await state.flush();
  await state.close(true);
  const { state: again } = await opened(t, dir);
  assert.equal(again.lastSeq("x"), 4);
  assert.equal(again.startedSeq("x"), 9);
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
  assert.equal(again.lastSeq("a"), 10);
  assert.equal(statSync(log).size, good);
  again.record("a", 11);
  await again.flush();
  await again.close(true);
  const { state: third } = await opened(t, dir);
  assert.equal(third.lastSeq("a"), 11, "appends after the cut are readable");
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
  assert.equal(again.lastSeq("a"), 1);
});

test("compaction writes a snapshot, empties the log, and keeps every value", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir, 200);
  for (let i = 1; i <= 50; i++) {
    state.record(`client-${i % 7}`, i);
    await state.flush();
  }
  state.markStarted("client-1", 99);
  await state.flush();
  await state.close(true);
  assert.ok(existsSync(join(dir, "snapshot")));
  assert.ok(statSync(join(dir, "log")).size < 200);
  assert.equal(existsSync(join(dir, "snapshot.tmp")), false);
  const { state: again } = await opened(t, dir);
  for (let k = 0; k < 7; k++) {
    const last = Math.max(...Array.from({ length: 50 }, (_, i) => i + 1).filter((i) => i % 7 === k));
    assert.equal(again.lastSeq(`client-${k}`), last, `client-${k}`);
  }
  assert.equal(again.startedSeq("client-1"), 99);
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
  assert.equal(readFileSync(join(dir, "lock"), "utf8").trim(), String(process.pid));
  await third.close(true);
  assert.equal(existsSync(join(dir, "lock")), false);
});
