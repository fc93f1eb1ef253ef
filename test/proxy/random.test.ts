import assert from "node:assert/strict";
import { test } from "node:test";
import { createRandom, deriveSeed } from "../../src/proxy/random.js";

test("createRandom is deterministic per seed, in [0, 1), and roughly uniform", () => {
  const a = createRandom(42);
  const b = createRandom(42);
  const c = createRandom(43);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(
    Array.from({ length: 10_000 }, () => b()),
    xs,
  );
  assert.notEqual(c(), xs[0]);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const buckets = new Array<number>(10).fill(0);
  for (const x of xs) buckets[Math.floor(x * 10)]!++;
  for (const n of buckets) assert.ok(n > 850 && n < 1150, `bucket count ${n} is far from 1000`);
});

test("deriveSeed separates streams by every part", () => {
  const seeds = new Set([
    deriveSeed(1),
    deriveSeed(1, 0),
    deriveSeed(1, 1),
    deriveSeed(1, 0, 1),
    deriveSeed(1, 1, 0),
    deriveSeed(2, 1, 0),
  ]);
  assert.equal(seeds.size, 6);
  assert.equal(deriveSeed(7, 3, 4), deriveSeed(7, 3, 4));
});
