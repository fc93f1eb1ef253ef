import assert from "node:assert/strict";
import { test } from "node:test";
import { Heartbeat } from "../../src/client/heartbeat.js";
import { ManualClock } from "../../src/errors/clock.js";
import type { OutlastError } from "../../src/errors/outlast-error.js";
import { isOutlastError } from "../../src/errors/outlast-error.js";

function setup(intervalMs = 2000, timeoutMs = 6000, random = () => 0.5) {
  const clock = new ManualClock(1000);
  const pings: number[] = [];
  const timeouts: OutlastError[] = [];
  const hb = new Heartbeat({
    clock,
    intervalMs,
    timeoutMs,
    ping: (nonce) => pings.push(nonce),
    onTimeout: (err) => timeouts.push(err),
    random,
  });
  return { clock, pings, timeouts, hb };
}

test("heartbeat: pings after intervalMs of silence, then every intervalMs, dead at timeoutMs", () => {
  const { clock, pings, timeouts } = setup();
  clock.advance(1999);
  assert.deepEqual(pings, []);
  clock.advance(1);
  assert.deepEqual(pings, [1], "first ping at 2000 ms of silence");
  clock.advance(2000);
  assert.deepEqual(pings, [1, 2]);
  clock.advance(1999);
  assert.equal(timeouts.length, 0, "not dead before 6000 ms");
  clock.advance(1);
  assert.equal(timeouts.length, 1);
  const err = timeouts[0];
  assert.ok(isOutlastError(err, "OUTLAST_HEARTBEAT_TIMEOUT"));
  assert.deepEqual(err.details, { heartbeatTimeoutMs: 6000, silentMs: 6000 });
  assert.equal(err.cause, undefined);
  assert.equal(clock.pending, 0, "no timer left after the timeout");
  clock.advance(60_000);
  assert.equal(timeouts.length, 1, "reported once");
});

test("heartbeat: anything heard postpones both the ping and the deadline", () => {
  const { clock, pings, timeouts, hb } = setup();
  for (let i = 0; i < 10; i++) {
    clock.advance(1500);
    hb.heard();
  }
  assert.deepEqual(pings, [], "a busy link is never pinged");
  assert.equal(timeouts.length, 0);
  clock.advance(2000);
  assert.deepEqual(pings, [1]);
  clock.advance(1000);
  hb.heard(); // the PONG
  clock.advance(5999);
  assert.equal(timeouts.length, 0);
  clock.advance(1);
  assert.equal(timeouts.length, 1, "dead exactly timeoutMs after the last byte");
});

test("heartbeat: stop() clears its timer; nothing fires afterwards", () => {
  const { clock, pings, timeouts, hb } = setup(100, 300);
  assert.equal(clock.pending, 1, "one timer per connection");
  hb.stop();
  assert.equal(clock.pending, 0);
  clock.advance(10_000);
  assert.deepEqual(pings, []);
  assert.equal(timeouts.length, 0);
});

test("heartbeat: only one timer is pending at any time", () => {
  const { clock, hb } = setup(100, 350);
  for (let t = 0; t < 340; t += 10) {
    clock.advance(10);
    assert.ok(clock.pending <= 1, `at ${t} ms: ${clock.pending} timers`);
  }
  assert.equal(hb.pings, 3);
});

test("heartbeat: each wait before a ping is jittered within 10% of intervalMs, so a fleet does not ping in lockstep", () => {
  const draws = [0, 0.999, 0.25];
  const { clock, pings } = setup(1000, 10_000, () => draws.shift() ?? 0.5);
  clock.advance(899);
  assert.deepEqual(pings, [], "the earliest first ping is at 0.9 x intervalMs");
  clock.advance(1);
  assert.deepEqual(pings, [1], "first ping at 900 ms (random 0)");
  clock.advance(1099);
  assert.deepEqual(pings, [1]);
  clock.advance(1);
  assert.deepEqual(pings, [1, 2], "second ping 1100 ms later (random 0.999)");
  clock.advance(950);
  assert.deepEqual(pings, [1, 2, 3], "third 950 ms later (random 0.25)");
});
