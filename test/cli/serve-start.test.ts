/**
 * `outlast serve` failing to start blames the right thing: a state directory
 * that cannot be created or written is named with the fix (never "cannot
 * listen ...; pass another --listen"). And the count on its last line reads
 * like a sentence ("1 message", "1,000 messages").
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { countOf } from "../../src/cli/live/widgets.js";
import { run, start, startServe, tempDir } from "./cli-process.js";

test("serve --state naming a file: says the state directory is a file, not that the address is bad", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "state");
  writeFileSync(file, "not a directory");
  for (const state of [file, join(file, "sub")]) {
    const r = await run(t, ["serve", "--listen", "127.0.0.1:0", "--state", state]);
    assert.equal(r.exit.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `outlast serve: cannot use the state directory ${state}: ${file} is a file, not a directory; pass another --state\n`,
    );
  }
});

test("serve --state this user cannot create: names the state directory and the fix, not --listen", async (t) => {
  const dir = tempDir(t);
  const parent = join(dir, "locked");
  mkdirSync(parent);
  const state = join(parent, "state");
  // As root, a permission error needs another user; otherwise a directory without write permission.
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) chmodSync(parent, 0o555); // empty: the temporary directory is still removable
  if (asRoot) chmodSync(dir, 0o755);
  const serve = start(t, ["serve", "--listen", "127.0.0.1:0", "--state", state], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  const exit = await serve.waitExit();
  assert.equal(exit.code, 1, serve.stderr);
  assert.equal(
    serve.stderr,
    `outlast serve: cannot use the state directory ${state}: this user may not create or write it; give this user write access to it, or pass another --state\n`,
  );
  assert.doesNotMatch(serve.stderr, /listen/);
});

test("serve's last line counts with thousands separators and a singular for one", async (t) => {
  const dir = tempDir(t);
  const { serve, port } = await startServe(t, ["--state", join(dir, "state"), "--output", join(dir, "out.jsonl")]);
  const lines = Array.from({ length: 1000 }, (_, i) => `m${i}`).join("\n");
  const send = await run(t, ["send", `tcp://127.0.0.1:${port}`, "--outbox", join(dir, "ob")], `${lines}\n`);
  assert.equal(send.exit.code, 0, send.stderr);
  serve.child.kill("SIGTERM");
  await serve.waitExit();
  assert.match(serve.stderr, /^outlast serve: stopped; 1,000 messages written, 0 duplicates skipped$/m);
  assert.equal(countOf(1, "message"), "1 message");
  assert.equal(countOf(1204, "message"), "1,204 messages");
});
