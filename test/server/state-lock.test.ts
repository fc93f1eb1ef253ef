/**
 * The state directory's lock after a crash or power cut (issue 9): a lock whose
 * holder is gone is taken over even when its pid is alive again (reused after a
 * reboot or within this boot, or a torn pid), and a live holder is never taken over.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { createServer } from "../../src/server/index.js";
import { nodeFs } from "../../src/storage/fs-layer.js";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-state-lock-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A live process that is not a server (it stands for whoever got the pid). */
async function bystander(t: TestContext): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30); process.send('up')"], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  t.after(() => child.kill("SIGKILL"));
  await new Promise((resolve) => child.once("message", resolve));
  return child.pid as number;
}

async function startsOn(t: TestContext, dir: string): Promise<void> {
  const server = createServer({ state: dir, onMessage: () => {} });
  t.after(() => server.destroy());
  await server.listen({ port: 0, host: "127.0.0.1" });
  const lock = readFileSync(join(dir, "lock"), "latin1");
  assert.match(lock, new RegExp(`^outlast-lock 1\\npid ${process.pid}\\n`), "the lock now names this server");
  await server.close();
}

test("a torn lock (a power cut left '1', and pid 1 is alive) does not keep the server from starting", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "lock"), "1");
  await startsOn(t, dir);
});

test("a lock from before a reboot whose pid is alive again (reused) is taken over", async (t) => {
  const dir = tempDir(t);
  const pid = await bystander(t);
  const start = nodeFs.processStartTime(pid) ?? "";
  writeFileSync(
    join(dir, "lock"),
    `outlast-lock 1\npid ${pid}\nboot 00000000-0000-4000-8000-000000000000\nstart ${start}\n`,
  );
  await startsOn(t, dir);
});

test("a lock whose pid was reused within this boot (another start time) is taken over", async (t) => {
  const dir = tempDir(t);
  const pid = await bystander(t);
  const start = nodeFs.processStartTime(pid);
  if (start === undefined || start === "") return t.skip("no /proc: a process start time cannot be read here");
  writeFileSync(join(dir, "lock"), `outlast-lock 1\npid ${pid}\nboot ${nodeFs.bootId()}\nstart ${Number(start) + 1}\n`);
  await startsOn(t, dir);
});

test("a live holder is never taken over: OUTLAST_STATE_LOCKED names its pid (also a lock of the format before)", async (t) => {
  const dir = tempDir(t);
  const pid = await bystander(t);
  const start = nodeFs.processStartTime(pid) ?? "";
  for (const content of [`outlast-lock 1\npid ${pid}\nboot ${nodeFs.bootId()}\nstart ${start}\n`, `${pid}\n`]) {
    writeFileSync(join(dir, "lock"), content);
    const server = createServer({ state: dir, onMessage: () => {} });
    await assert.rejects(
      server.listen({ port: 0, host: "127.0.0.1" }),
      (err: Error & { code?: string; details?: { pid?: number } }) => {
        assert.equal(err.code, "OUTLAST_STATE_LOCKED");
        assert.equal(err.details?.pid, pid);
        return true;
      },
    );
    await server.destroy();
    assert.equal(readFileSync(join(dir, "lock"), "latin1"), content, "the holder's lock is left alone");
  }
});

test("a lock of the format before whose process is gone is taken over", async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  writeFileSync(join(dir, "lock"), `${child.pid}\n`);
  await startsOn(t, dir);
});
