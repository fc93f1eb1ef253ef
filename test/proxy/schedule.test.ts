import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { createProxy } from "../../src/proxy/index.js";
import { Recorder, connectClient, startProxy, startUpstream } from "./helpers.js";

test("periodic schedule: down for downMs every everyMs, driven by the clock", () => {
  const clock = new ManualClock();
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port: 9 }, clock });
  const changes: string[] = [];
  proxy.on("faultActivated", (f) => changes.push(`on@${clock.now()}:${f.id}`));
  proxy.on("faultDeactivated", (f) => changes.push(`off@${clock.now()}:${f.id}`));
  const s = proxy.addFault({ kind: "schedule", everyMs: 1000, downMs: 300, fault: { kind: "blackhole" } });
  assert.equal(s.info().active, false);
  clock.advance(699);
  assert.equal(s.info().active, false);
  clock.advance(1);
  assert.equal(s.info().active, true);
  clock.advance(300);
  assert.equal(s.info().active, false);
  clock.advance(2000);
  assert.deepEqual(changes, ["on@700:f1", "off@1000:f1", "on@1700:f1", "off@2000:f1", "on@2700:f1", "off@3000:f1"]);
  assert.equal(s.info().windows, 3);
  assert.equal(proxy.stats().faults.schedule, 3);
  s.remove();
  assert.equal(clock.pending, 0, "removing a schedule leaves a timer behind");
});

test("random schedule: the same seed flaps at the same times; another seed does not", () => {
  const run = (seed: number): number[] => {
    const clock = new ManualClock();
    const proxy = createProxy({ upstream: { host: "127.0.0.1", port: 9 }, clock, seed });
    const times: number[] = [];
    proxy.on("faultActivated", () => times.push(clock.now()));
    proxy.on("faultDeactivated", () => times.push(clock.now()));
    proxy.addFault({ kind: "schedule", mode: "random", meanUpMs: 500, meanDownMs: 100, fault: { kind: "reset" } });
    clock.advance(10_000);
    return times;
  };
  const a = run(99);
  assert.deepEqual(run(99), a);
  assert.notDeepEqual(run(100), a);
  assert.ok(a.length >= 20, `only ${a.length} switches in 10 s with a 600 ms mean cycle`);
  for (let i = 1; i < a.length; i++) {
    const gap = a[i]! - a[i - 1]!;
    const [lo, hi] = i % 2 === 1 ? [50, 150] : [250, 750]; // down windows, then up windows
    assert.ok(gap >= lo && gap <= hi, `window ${i} lasted ${gap} ms, outside [${lo}, ${hi}]`);
  }
});

test("a reset every 100 ms (downMs 0) resets a live connection on real sockets", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    faults: [{ kind: "schedule", everyMs: 100, downMs: 0, fault: { kind: "reset" } }],
  });
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  await rec.closedNow(3000);
  assert.equal(rec.error?.code, "ECONNRESET");
  assert.ok(proxy.stats().faults.reset >= 1);
  assert.ok(proxy.stats().faults.schedule >= 1);
});

test("a scheduled blackhole stops bytes in its window and lets them through after it (ManualClock, real sockets)", async (t) => {
  const clock = new ManualClock();
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    clock,
    faults: [{ kind: "schedule", everyMs: 1000, downMs: 500, fault: { kind: "blackhole", direction: "upstream" } }],
  });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  clock.advance(500); // window opens
  assert.equal(proxy.faults()[0]?.active, true);
  const applied = new Promise<void>((resolve) => proxy.once("faultApplied", () => resolve()));
  client.write("wait");
  await applied;
  assert.equal(atServer.bytes, 0);
  clock.advance(500); // window closes
  await atServer.bytesAtLeast(4);
  assert.equal(atServer.text(), "wait");
});
