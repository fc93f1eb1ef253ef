import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { makeDirs } from "../../src/storage/make-dirs.js";

test("makeDirs creates every missing level and returns the first one it created", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "outlast-makedirs-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const first = await makeDirs(join(root, "a", "b", "c"));
  assert.equal(first, join(root, "a"));
  assert.ok(statSync(join(root, "a", "b", "c")).isDirectory());
  assert.equal(statSync(join(root, "a", "b", "c")).mode & 0o777, 0o700);
  assert.equal(await makeDirs(join(root, "a", "b", "c")), undefined, "an existing directory is no error");
  writeFileSync(join(root, "file"), "x");
  await assert.rejects(makeDirs(join(root, "file")), { code: "EEXIST" });
  await assert.rejects(makeDirs(join(root, "file", "below")), { code: "ENOTDIR" });
});

test("makeDirs ends with ENOENT where a child cannot be made under an existing parent (/proc)", async (t) => {
  if (!existsSync("/proc/self")) {
    t.skip("no /proc on this platform");
    return;
  }
  // Node's mkdir(..., { recursive: true }) spins forever on this path.
  await assert.rejects(makeDirs("/proc/outlast-nope/x"), { code: "ENOENT" });
});
