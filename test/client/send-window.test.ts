/** The send window and the latency sample grow on demand (a new or idle client holds little) and behave as before. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SendWindow } from "../../src/client/send-window.js";
import { StatsCounters } from "../../src/client/stats.js";

test("send window: starts small, grows past its size keeping order across the ring's wrap, shrinks when it empties", () => {
  const w = new SendWindow(1000, Infinity);
  assert.equal(w.capacity, 0, "no ring before the first message");
  w.add(1, 1, 0);
  assert.equal(w.capacity, 16);
  w.ackUpTo(1, undefined);
  assert.equal(w.capacity, 16, "a light sender keeps its small ring");
  w.clear();
  // Wrap the small ring first: 10 in, 8 acknowledged, then grow with the head in the middle.
  for (let s = 1; s <= 10; s++) w.add(s, s, s * 10);
  assert.equal(w.ackUpTo(8, undefined), 8);
  for (let s = 11; s <= 600; s++) w.add(s, 1, s * 10);
  assert.equal(w.count, 592);
  assert.equal(w.capacity, 1024);
  assert.equal(w.bytes, 9 + 10 + 590);
  assert.equal(w.lastSeq, 600);
  assert.ok(w.has(9) && w.has(600) && !w.has(8) && !w.has(601));
  const seen: [number, number][] = [];
  assert.equal(
    w.ackUpTo(300, (seq, sentAt) => seen.push([seq, sentAt])),
    292,
  );
  assert.deepEqual(
    seen.slice(0, 3),
    [
      [9, 90],
      [10, 100],
      [11, 110],
    ],
    "in order, with their send times",
  );
  assert.deepEqual(seen.at(-1), [300, 3000]);
  assert.equal(w.capacity, 1024, "not empty: keeps its size");
  w.ackUpTo(600, undefined);
  assert.equal(w.count, 0);
  assert.equal(w.bytes, 0);
  assert.equal(w.capacity, 0, "empty: the large ring is given back");
  for (let s = 601; s <= 617; s++) w.add(s, 1, 0);
  assert.equal(w.capacity, 1024, "filling again: straight back to its former size");
  assert.deepEqual([w.count, w.lastSeq, w.has(601)], [17, 617, true]);
  for (let s = 618; s <= 1600; s++) w.add(s, 1, 0);
  assert.equal(w.freeMessages, 0);
  assert.throws(() => w.add(1601, 1, 0), /send window overflow/);
  w.clear();
  assert.equal(w.capacity, 0);
  assert.equal(w.lastSeq, 0);
});

test("latency sample: percentiles over the last 1024, grown on demand", () => {
  const s = new StatsCounters();
  assert.deepEqual(s.percentiles(), [0, 0]);
  for (let i = 1; i <= 100; i++) s.recordLatency(i);
  assert.deepEqual(s.percentiles(), [50, 99]);
  // 2000 more: only the last 1024 (values 1001..2024 of this run) count.
  for (let i = 1; i <= 2000; i++) s.recordLatency(1000 + i);
  const [p50, p99] = s.percentiles();
  assert.equal(p50, 1000 + 976 + 512);
  assert.equal(p99, 1000 + 976 + 1014);
});
