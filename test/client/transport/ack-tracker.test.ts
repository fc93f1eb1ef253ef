import assert from "node:assert/strict";
import { test } from "node:test";
import { AckTracker } from "../../../src/client/transport/ack-tracker.js";
import { rng, testSeed } from "../../helpers/seed.js";

test("ack tracker: in order, each ack releases its record", () => {
  const t = new AckTracker();
  for (const s of [3, 4, 7]) t.written(s); // gaps: dropped records are never written
  assert.equal(t.ack(3), 3);
  assert.equal(t.ack(4), 4);
  assert.equal(t.ack(7), 7);
  assert.equal(t.pending, 0);
  assert.equal(t.ack(8), undefined, "an ack for nothing written releases nothing");
});

test("ack tracker: an early ack waits for every record written before it (random orders, seeded)", (t) => {
  const random = rng(testSeed(t));
  for (let round = 0; round < 200; round++) {
    const tracker = new AckTracker();
    const n = 1 + Math.floor(random() * 3000);
    for (let s = 1; s <= n; s++) tracker.written(s);
    const order = Array.from({ length: n }, (_, i) => i + 1);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const acked = new Set<number>();
    let released = 0;
    for (const s of order) {
      acked.add(s);
      const upTo = tracker.ack(s);
      let prefix = released;
      while (acked.has(prefix + 1)) prefix++;
      assert.equal(upTo, prefix > released ? prefix : undefined);
      released = prefix;
    }
    assert.equal(released, n);
    assert.equal(tracker.pending, 0);
  }
});
