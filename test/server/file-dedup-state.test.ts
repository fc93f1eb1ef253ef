import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { FileDedupState } from "../../src/server/file-dedup-state.js";
import type { FileDedupStateOptions } from "../../src/server/file-dedup-state.js";
import type { StorageFs } from "../../src/storage/fs-layer.js";
import { nodeFs } from "../../src/storage/fs-layer.js";
import { encodeSegmentHeader, metaRecord, segmentFileName } from "../../src/storage/record-format.js";
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

/** The real file system as it looks after a reboot: another boot id. */
const rebootedFs: StorageFs = { ...nodeFs, bootId: () => "another-boot" };

async function opened(
  t: TestContext,
  dir: string,
  options: FileDedupStateOptions = {},
): Promise<{ state: FileDedupState; commits: Map<string, number>[] }> {
  const state = new FileDedupState(dir, options);
  const commits: Map<string, number>[] = [];
  state.setListeners(
    (c) => commits.push(new Map(c)),
    (err) => assert.fail(err),
  );
  await state.open();
  t.after(() => state.close(false));
  return { state, commits };
}

const segmentsIn = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith("seg-"));
const newestSegment = (dir: string): string => join(dir, segmentsIn(dir).sort().at(-1) as string);

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
  assert.deepEqual(
    readdirSync(dir).sort(),
    ["lock", segmentsIn(dir)[0], "slots"].sort(),
    "one segment: the open's checkpoint",
  );
});

test("group commit: records made while an fdatasync runs share the next one", async (t) => {
  const dir = tempDir(t);
  const { state, commits } = await opened(t, dir);
  for (let i = 1; i <= 1000; i++) {
    state.record(`c${i % 10}`, i);
    state.commit(); // the first starts a commit; the rest wait and are batched
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
  const { state: again } = await opened(t, dir, { fs: rebootedFs });
  assert.equal(again.load("x").lastSeq, 4);
  assert.deepEqual(again.load("x").inDoubt, { fromSeq: 5, toSeq: 9 });
});

test("a torn tail (a crash mid-append) is cut off at open; appends after it are readable", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("a", 10);
  await state.flush();
  const whole = readFileSync(newestSegment(dir));
  await state.close(true);
  appendFileSync(newestSegment(dir), whole.subarray(24, whole.length - 3)); // records, the last one cut short
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("a").lastSeq, 10);
  assert.equal(existsSync(join(dir, "quarantine")), false, "a torn tail is not corruption");
  again.record("a", 11);
  await again.flush();
  await again.close(true);
  const { state: third } = await opened(t, dir);
  assert.equal(third.load("a").lastSeq, 11);
});

test("a record with a bad CRC is moved to quarantine/; the records before it count", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("a", 1);
  await state.flush();
  state.record("a", 2);
  await state.flush();
  await state.close(false);
  const path = newestSegment(dir);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // the last record's clientId
  writeFileSync(path, bytes);
  const published: unknown[] = [];
  const onQuarantine = (m: unknown): void => void published.push(m);
  subscribe("outlast:server:stateQuarantine", onQuarantine);
  t.after(() => unsubscribe("outlast:server:stateQuarantine", onQuarantine));
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("a").lastSeq, 1);
  assert.equal(readdirSync(join(dir, "quarantine")).length, 1);
  assert.equal(published.length, 1, "one outlast:server:stateQuarantine message");
  assert.match(JSON.stringify(published[0]), /record CRC mismatch/);
});

test("compaction writes a checkpoint segment, removes the older ones, and keeps every value", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir, { compactAfterBytes: 600 });
  for (let i = 1; i <= 50; i++) {
    state.record(`client-${i % 7}`, i);
    await state.flush();
  }
  state.markStarted("client-1", 99);
  state.record("client-1", 50); // the mark goes into the log with a commit
  await state.flush();
  assert.ok(segmentsIn(dir).length <= 2, `segments left: ${segmentsIn(dir).join(" ")}`);
  await state.close(true);
  const { state: again } = await opened(t, dir);
  for (let k = 0; k < 7; k++) {
    const last = Math.max(...Array.from({ length: 50 }, (_, i) => i + 1).filter((i) => i % 7 === k));
    assert.equal(again.load(`client-${k}`).lastSeq, last, `client-${k}`);
  }
  await again.close(true);
  const { state: third } = await opened(t, dir, { fs: rebootedFs });
  assert.deepEqual(third.load("client-1").inDoubt, { fromSeq: 51, toSeq: 99 }, "the started mark survived");
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
  if (nodeFs.bootId() === "") return t.skip("no boot id on this system: every restart counts as a possible power loss");
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("p").lastSeq, 5);
  assert.deepEqual(again.load("p").inDoubt, { fromSeq: 6, toSeq: 6 });
  assert.equal(again.load("q").lastSeq, 0);
  assert.ok(again.load("q").inDoubt.toSeq < again.load("q").inDoubt.fromSeq, "nothing in doubt for q");
  await again.close(false);
  // The raised lastSeq went into the open's checkpoint (WELCOME reports only fdatasync'd seqs): a reboot keeps it.
  const { state: third } = await opened(t, dir, { fs: rebootedFs });
  assert.equal(third.load("p").lastSeq, 5);
  assert.deepEqual(third.load("p").inDoubt, { fromSeq: 6, toSeq: 6 }, "still in doubt after a second restart");
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
  const { state: again } = await opened(t, dir, { fs: rebootedFs });
  assert.equal(again.load("x").lastSeq, 6, "a slot that survived still counts");
  assert.deepEqual(again.load("x").inDoubt, { fromSeq: 7, toSeq: 9 });
});

test("a torn slot is ignored: the log decides", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("x", 4);
  await state.flush();
  const slot = state.slotOf("x", 4, 4);
  state.writeSlot(slot, 8, 9);
  await state.close(false);
  const path = join(dir, "slots");
  const bytes = readFileSync(path);
  bytes[64 + slot * 288 + 10] = bytes[64 + slot * 288 + 10]! ^ 0xff; // inside doneSeq
  writeFileSync(path, bytes);
  const { state: again } = await opened(t, dir);
  assert.equal(again.load("x").lastSeq, 4);
});

test("a slot names its clientId: it is found again after compaction and reopen; a new clientId gets a free slot", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir, { compactAfterBytes: 300 });
  const slots = new Map<string, number>();
  for (let i = 1; i <= 40; i++) {
    const id = `client-${i % 5}`;
    if (!slots.has(id)) slots.set(id, state.slotOf(id, 0, i));
    state.record(id, i);
    await state.flush();
  }
  for (const slot of slots.values()) state.writeSlot(slot, 100 + slot, 100 + slot);
  await state.close(false);
  if (nodeFs.bootId() === "") return t.skip("no boot id on this system: progress is only trusted up to the log");
  const { state: again } = await opened(t, dir);
  for (const [id, slot] of slots) {
    assert.equal(again.slotOf(id, 0, 0), slot, id);
    assert.equal(again.load(id).lastSeq, 100 + slot, id);
  }
  assert.equal(again.slotOf("new-client", 0, 1), slots.size, "a new clientId gets the next free slot");
});

test("a state directory of the format before the one log (written by outlast 0.1) is migrated at open", async (t) => {
  // test/server/fixtures/state-v1 was written by the 0.1 FileDedupState: alpha and beta compacted into
  // `snapshot`, then in `log` gamma 7, beta 18 and alpha's started mark 24; delta's slot in `progress`
  // says 1..3 done and 4 inside the handler when the process stopped.
  const dir = tempDir(t);
  cpSync(join(import.meta.dirname, "../../../test/server/fixtures/state-v1"), dir, { recursive: true });
  const expect = (s: FileDedupState, label: string): void => {
    assert.equal(s.load("alpha").lastSeq, 20, label);
    assert.deepEqual(s.load("alpha").inDoubt, { fromSeq: 21, toSeq: 24 }, label);
    assert.equal(s.load("beta").lastSeq, 18, label);
    assert.equal(s.load("gamma").lastSeq, 7, label);
    assert.equal(s.load("delta").lastSeq, 3, label);
    assert.deepEqual(s.load("delta").inDoubt, { fromSeq: 4, toSeq: 4 }, label);
  };
  const { state } = await opened(t, dir);
  expect(state, "migrated");
  for (const old of ["log", "snapshot", "progress"]) assert.equal(existsSync(join(dir, old)), false, `${old} removed`);
  await state.close(true);
  const { state: again } = await opened(t, dir, { fs: rebootedFs });
  expect(again, "reopened after a reboot");
});

test("a corrupt snapshot of the format before refuses to open (it would forget what was processed)", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "snapshot"), "OUTLSNP1 not really");
  const state = new FileDedupState(dir);
  await assert.rejects(state.open(), (err: Error & { code?: string }) => {
    assert.equal(err.code, "OUTLAST_STATE_CORRUPT");
    assert.match(err.message, /corrupt .*restore it from a backup or move it away/);
    return true;
  });
  assert.equal(existsSync(join(dir, "lock")), false, "the lock is released after a failed open");
  assert.equal(existsSync(join(dir, "snapshot")), true, "nothing was removed");
});

test("a client outbox passed as the state directory is refused, and left as it was", async (t) => {
  const dir = tempDir(t);
  const seg = Buffer.concat([encodeSegmentHeader(1, false), metaRecord("robot", 7)]);
  writeFileSync(join(dir, segmentFileName(1)), seg);
  await assert.rejects(new FileDedupState(dir).open(), (err: Error & { code?: string }) => {
    assert.equal(err.code, "OUTLAST_STATE_CORRUPT");
    assert.match(err.message, /holds a client outbox, not a server state/);
    return true;
  });
  assert.deepEqual(readFileSync(join(dir, segmentFileName(1))), seg);
});

test("a server's state directory passed as an outbox is refused, and left as it was", async (t) => {
  const dir = tempDir(t);
  const { state } = await opened(t, dir);
  state.record("robot", 3);
  await state.flush();
  await state.close(true);
  const before = readFileSync(newestSegment(dir));
  const outbox = new FileOutbox(dir);
  await assert.rejects(outbox.open("robot"), (err: Error & { code?: string }) => {
    assert.equal(err.code, "OUTLAST_INVALID_OPTION");
    assert.match(err.message, /holds a server's state directory, not an outbox/);
    return true;
  });
  assert.deepEqual(readFileSync(newestSegment(dir)), before);
});
