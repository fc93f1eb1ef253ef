/** The pool's routing hash: FNV-1a 32-bit of the clientId's UTF-8 bytes, modulo the worker count. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fnv1a32, workerFor } from "../../src/server/pool/affinity.js";

test("fnv1a32 matches the published FNV-1a 32-bit test vectors", () => {
  // From the FNV reference (isthe.com/chongo/tech/comp/fnv): offset basis for "", then "a", "foobar".
  assert.equal(fnv1a32(Buffer.from("")), 0x811c9dc5);
  assert.equal(fnv1a32(Buffer.from("a")), 0xe40c292c);
  assert.equal(fnv1a32(Buffer.from("foobar")), 0xbf9cf968);
});

test("workerFor hashes the UTF-8 bytes and stays within [0, count)", () => {
  assert.equal(workerFor("robot.1 ü", 7), fnv1a32(Buffer.from("robot.1 ü", "utf8")) % 7);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[workerFor(`robot-${i}`, 4)] = (counts[workerFor(`robot-${i}`, 4)] ?? 0) + 1;
  for (const n of counts) assert.ok(n > 800 && n < 1200, `spread over 4 workers: ${counts.join(", ")}`);
  assert.equal(workerFor("anything", 1), 0);
});
