import assert from "node:assert/strict";
import { test } from "node:test";
import { RateLimiter } from "../../../src/cli/observe/rate-limit.js";

test("a burst passes, then the rate; held-back lines are counted and reported with the next allowed one", () => {
  const limiter = new RateLimiter({ perSecond: 10, burst: 5 }, 0);
  for (let i = 0; i < 5; i++) assert.deepEqual(limiter.take(0), { allowed: true, suppressed: 0 });
  for (let i = 0; i < 7; i++) assert.equal(limiter.take(0).allowed, false);
  assert.equal(limiter.suppressed, 7);
  assert.equal(limiter.take(50).allowed, false, "half a token after 50 ms");
  assert.deepEqual(limiter.take(100), { allowed: true, suppressed: 8 });
  assert.equal(limiter.suppressed, 0);
  // A long pause refills to the burst, no more.
  for (let i = 0; i < 5; i++) assert.equal(limiter.take(60_000).allowed, true);
  assert.equal(limiter.take(60_000).allowed, false);
});
