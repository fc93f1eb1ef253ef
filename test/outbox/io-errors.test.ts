/**
 * I/O failures: a real ENOSPC (a 256 KiB tmpfs mounted by the test; needs
 * root) rejects the batch with OUTLAST_OUTBOX_IO and leaves the log
 * consistent, and the outbox goes on once there is room; a failed fdatasync
 * (EIO, injected through the fs layer: a real one needs a failing disk) stops
 * the outbox for good, and is never reported as stored.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import type { InPlaceFile, StorageFile, StorageFs } from "../../src/storage/fs-layer.js";
import type { OutboxEntry } from "../../src/outbox/outbox.js";
import { CrashFs } from "../storage/crash-fs.js";

const entry = (text: string): OutboxEntry => ({
  data: Buffer.from(text),
  important: true,
  createdAtMs: 0,
  expiresAtMs: Infinity,
});

test("a real ENOSPC: the batch is rejected with OUTLAST_OUTBOX_IO (errno ENOSPC), the log stays consistent, the outbox goes on", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("mounting a small tmpfs needs root");
    return;
  }
  const mnt = await mkdtemp(join(tmpdir(), "outlast-enospc-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]);
  try {
    const dir = join(mnt, "q");
    const o = new FileOutbox(dir, { segmentBytes: 1 << 20 });
    await o.open("c");
    const filler = join(mnt, "filler");
    const stored: number[] = [];
    let failure: unknown;
    // Fill the disk: first a filler file, then appends until one fails.
    await writeFile(filler, Buffer.alloc(200 * 1024)).catch(() => undefined);
    for (let i = 0; i < 1000 && failure === undefined; i++) {
      try {
        stored.push(await o.append([entry(`m${i}-${"z".repeat(1000)}`)]));
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(isOutlastError(failure, "OUTLAST_OUTBOX_IO"), String(failure));
    assert.equal(failure.details.errno, "ENOSPC");
    assert.equal(failure.details.fatal, false);
    assert.equal((failure.cause as NodeJS.ErrnoException).code, "ENOSPC");
    assert.equal((failure.cause as NodeJS.ErrnoException).syscall, "write");
    assert.match(failure.message, /free disk space/);
    assert.equal(o.failure, undefined, "out of space is not fatal");
    assert.ok(stored.length > 0);
    await rm(filler);
    const next = await o.append([entry("after")]);
    assert.ok(next > (stored.at(-1) ?? 0));
    await o.close();
    const again = new FileOutbox(dir);
    await again.open("c");
    assert.equal(again.recoveryReport?.quarantined.length, 0, "no garbage was left in the log");
    assert.equal(again.recoveryReport?.tornBytes, 0);
    assert.deepEqual(
      again.read(0, Infinity, Infinity).map((r) => r.seq),
      [...stored, next],
    );
    await again.close();
  } finally {
    execFileSync("umount", [mnt]);
    await rm(mnt, { recursive: true, force: true });
  }
});

/** Wraps an StorageFs; the `failSyncAfter`-th datasync (counting from when it is armed) fails with EIO. */
class FailingSyncFs implements StorageFs {
  armed = false;
  syncs = 0;
  constructor(readonly inner: CrashFs) {}
  get pid(): number {
    return this.inner.pid;
  }
  bootId = (): string => this.inner.bootId();
  processStartTime = (pid: number): string | undefined => this.inner.processStartTime(pid);
  mkdirp = (d: string): Promise<string | undefined> => this.inner.mkdirp(d);
  link = (a: string, b: string): Promise<void> => this.inner.link(a, b);
  openInPlace = (p: string): Promise<InPlaceFile> => this.inner.openInPlace(p);
  readdir = (d: string): Promise<string[]> => this.inner.readdir(d);
  readFile = (p: string): Promise<Buffer> => this.inner.readFile(p);
  unlink = (p: string): Promise<void> => this.inner.unlink(p);
  rename = (a: string, b: string): Promise<void> => this.inner.rename(a, b);
  fsyncDir = (d: string): Promise<void> => this.inner.fsyncDir(d);
  createExclusive = async (p: string): Promise<StorageFile> => this.#wrap(await this.inner.createExclusive(p));
  openForWrite = async (p: string): Promise<StorageFile> => this.#wrap(await this.inner.openForWrite(p));
  #wrap(f: StorageFile): StorageFile {
    return {
      write: (d, pos) => f.write(d, pos),
      writeNow: (d, pos) => f.writeNow(d, pos),
      truncate: (n) => f.truncate(n),
      close: () => f.close(),
      datasync: () => {
        if (this.armed) {
          // A real failed fdatasync needs a failing disk; this is the error object Node gives for one.
          const err = Object.assign(new Error("EIO: i/o error, fdatasync"), {
            errno: -5,
            code: "EIO",
            syscall: "fdatasync",
          });
          return Promise.reject(err);
        }
        return f.datasync();
      },
    };
  }
}

test("a failed fdatasync is fatal: the batch is not stored, every later call is refused, nothing is retried as if it worked", async () => {
  const fs = new FailingSyncFs(new CrashFs());
  const o = new FileOutbox("/f", { fs });
  await o.open("c");
  assert.equal(await o.append([entry("a"), entry("b")]), 1);
  fs.armed = true;
  const results = await Promise.allSettled([o.append([entry("c")]), o.append([entry("d")])]);
  for (const r of results) {
    assert.equal(r.status, "rejected");
    const err: unknown = r.status === "rejected" ? r.reason : undefined;
    assert.ok(isOutlastError(err, "OUTLAST_OUTBOX_IO"));
    assert.equal(err.details.fatal, true);
    assert.equal((err.cause as { code: string }).code, "EIO");
    assert.match(err.message, /fdatasync failed \(EIO\)/);
  }
  assert.ok(isOutlastError(o.failure, "OUTLAST_OUTBOX_IO"));
  fs.armed = false; // even when the disk "recovers", the outbox stays stopped
  await assert.rejects(o.append([entry("e")]), (err: unknown) => err === o.failure);
  o.acknowledge(1);
  await assert.rejects(o.sync(), (err: unknown) => err === o.failure);
  assert.equal(o.count, 1, "the failed batch never became visible");
  await o.close();
  // Reopen: the stored records are there (the failed batch may or may not be: it was never reported stored).
  const again = new FileOutbox("/f", { fs: fs.inner });
  await again.open("c");
  const seqs = again.read(0, Infinity, Infinity).map((r) => r.seq);
  assert.ok(seqs.includes(2));
  assert.ok(again.nextSeq > 2);
  await again.close();
});

test("onFailure: a failed fdatasync of a commit holding only an acknowledgement (no caller awaits it) is reported once to every listener", async () => {
  const fs = new FailingSyncFs(new CrashFs());
  const o = new FileOutbox("/g", { fs });
  const heard: unknown[] = [];
  const removed: unknown[] = [];
  o.onFailure((err) => heard.push(err));
  const unsubscribe = o.onFailure((err) => removed.push(err));
  unsubscribe();
  let failed!: (err: unknown) => void;
  const second = new Promise<unknown>((resolve) => (failed = resolve));
  o.onFailure((err) => failed(err));
  await o.open("c");
  assert.equal(await o.append([entry("a"), entry("b")]), 1);
  fs.armed = true;
  o.acknowledge(1); // the only thing the next commit writes: an ACK record
  const err = await second;
  assert.ok(isOutlastError(err, "OUTLAST_OUTBOX_IO"));
  assert.equal(err.details.fatal, true);
  assert.equal(err, o.failure);
  assert.deepEqual(heard, [err], "told once");
  assert.deepEqual(removed, [], "a removed listener is not called");
  // A listener added after the failure hears of it at once (on a microtask).
  const late = await new Promise<unknown>((resolve) => o.onFailure(resolve));
  assert.equal(late, err);
  await assert.rejects(o.append([entry("c")]), (e: unknown) => e === err);
  await o.close();
  assert.deepEqual(heard, [err], "still once after close");
});
