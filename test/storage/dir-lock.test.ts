/**
 * The one directory lock (src/storage/dir-lock.ts) over CrashFs: who is taken
 * over and who never is, and that the lock survives a power cut whole or not at all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DirLock, liveLockHolder, parseLock } from "../../src/storage/dir-lock.js";
import { ensureDurableDir } from "../../src/storage/durable-dir.js";
import { CrashFs } from "./crash-fs.js";

const DIR = "/d";

class Locked extends Error {
  constructor(readonly pid: number) {
    super(`locked by ${pid}`);
  }
}

function lockOn(fs: CrashFs): DirLock {
  return new DirLock(DIR, fs, {
    locked: (pid) => new Locked(pid),
    io: (what, cause) => new Error(what, { cause }),
  });
}

function withLockFile(content: string, setUp?: (fs: CrashFs) => void): CrashFs {
  const fs = CrashFs.from(new Map([[`${DIR}/lock`, Buffer.from(content, "latin1")]]));
  setUp?.(fs);
  return fs;
}

test("acquire writes pid, boot id and start time; a second acquire in the same process is refused", async () => {
  const fs = new CrashFs();
  await ensureDurableDir(fs, DIR);
  const first = lockOn(fs);
  assert.equal(await first.acquire(), "none");
  assert.deepEqual(parseLock(fs.files().get(`${DIR}/lock`) as Buffer), { pid: 4242, bootId: "b0", startTime: "100" });
  await assert.rejects(lockOn(fs).acquire(), (err: Locked) => err.pid === 4242);
  assert.equal(await liveLockHolder(fs, DIR), 4242);
  await first.release();
  assert.equal(await liveLockHolder(fs, DIR), undefined);
  assert.deepEqual(
    [...fs.files().keys()].filter((p) => p.startsWith(`${DIR}/`)),
    [],
    "release leaves nothing behind",
  );
});

test("stale locks are taken over: another boot, a dead pid, a reused pid, an unreadable or torn file", async () => {
  const cases: [string, string, ((fs: CrashFs) => void)?][] = [
    [
      "another boot (pid alive again)",
      "outlast-lock 1\npid 7\nboot b-old\nstart 5\n",
      (fs) => fs.processes.set(7, "5"),
    ],
    ["a dead pid", "outlast-lock 1\npid 7\nboot b0\nstart 5\n"],
    ["a reused pid", "outlast-lock 1\npid 7\nboot b0\nstart 5\n", (fs) => fs.processes.set(7, "6")],
    ["a torn pid", "1"],
    ["zeros", "\0\0\0\0\0\0"],
    ["the format before, dead pid", "7\n"],
  ];
  for (const [label, content, setUp] of cases) {
    const fs = withLockFile(content, setUp);
    const taken = await lockOn(fs).acquire();
    assert.notEqual(taken, "none", label);
    assert.equal(parseLock(fs.files().get(`${DIR}/lock`) as Buffer)?.pid, 4242, label);
  }
});

test("a live holder is never taken over (this boot, same start time; unknown start time; the format before)", async () => {
  const cases: [string, string][] = [
    ["same boot and start", "outlast-lock 1\npid 7\nboot b0\nstart 5\n"],
    ["no start time recorded", "outlast-lock 1\npid 7\nboot b0\nstart \n"],
    ["no boot id recorded", "outlast-lock 1\npid 7\nboot \nstart 5\n"],
    ["the format before", "7\n"],
  ];
  for (const [label, content] of cases) {
    const fs = withLockFile(content, (f) => f.processes.set(7, "5"));
    await assert.rejects(lockOn(fs).acquire(), (err: Locked) => err.pid === 7, label);
    assert.equal(fs.files().get(`${DIR}/lock`)?.toString("latin1"), content, `${label}: left alone`);
  }
});

test("power cut at every step of creating the directory and taking the lock: the next boot takes it, never sees it torn", async () => {
  for (let crashAt = 0; ; crashAt++) {
    const fs = new CrashFs(crashAt);
    let done = false;
    try {
      await ensureDurableDir(fs, DIR);
      await lockOn(fs).acquire();
      done = true;
    } catch (err) {
      if (!fs.crashed) throw err;
    }
    for (const mode of ["none", "all", "random"] as const) {
      const img = fs.image(mode);
      const content = img.files().get(`${DIR}/lock`);
      if (content !== undefined) assert.ok(parseLock(content) !== undefined, `cut at ${crashAt}: a torn lock`);
      if (done && mode === "none") assert.ok(content !== undefined, "a taken lock is durable");
      await ensureDurableDir(img, DIR);
      await lockOn(img).acquire(); // pid 4242 lives again after the reboot: must not count as the holder
    }
    if (done) break;
  }
});

test("a directory created in this run survives a power cut once ensureDurableDir returned", async () => {
  const fs = new CrashFs();
  await ensureDurableDir(fs, "/a/b/c");
  const img = fs.image("none");
  assert.deepEqual(await img.readdir("/a/b"), ["c"]);
  // Without the parent sync it may not.
  const raw = new CrashFs();
  await raw.mkdirp("/a/b/c");
  await assert.rejects(raw.image("none").readdir("/a/b/c"), { code: "ENOENT" });
});
