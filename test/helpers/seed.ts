/**
 * The seed of a randomized test: OUTLAST_TEST_SEED when set (to replay a red run), otherwise a fresh
 * one. Printed as a test diagnostic either way, with the line that replays it.
 */
import type { TestContext } from "node:test";

export function testSeed(t: TestContext, fallback = Math.floor(Math.random() * 2 ** 31)): number {
  const given = process.env["OUTLAST_TEST_SEED"];
  const seed = given === undefined || given === "" ? fallback : Number(given);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`OUTLAST_TEST_SEED must be a non-negative integer, not ${given}`);
  t.diagnostic(`seed ${seed} (replay with OUTLAST_TEST_SEED=${seed})`);
  return seed;
}

/** A small seeded PRNG in [0, 1) (mulberry32), so every failure can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
