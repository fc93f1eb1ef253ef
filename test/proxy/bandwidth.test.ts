import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { Recorder, connectClient, startProxy, startUpstream, within } from "./helpers.js";

// Time is a ManualClock: what passes is counted against clock time, never measured on the wall clock.

test("bandwidth: N bytes take at least N / bytesPerSecond", async (t) => {
  const clock = new ManualClock();
  const up = await startUpstream(t, "sink");
  const rate = 100_000;
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    clock,
    faults: [{ kind: "bandwidth", bytesPerSecond: rate, direction: "upstream" }],
  });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const payload = Buffer.alloc(30_000);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const applied = new Promise<void>((resolve) => proxy.once("faultApplied", () => resolve()));
  client.write(payload);
  await within(applied, 5000, "the bandwidth fault to take the bytes (at clock time 0)");
  // Pieces of 1/20 s of traffic (5,000 bytes), each held its transmission time (50 ms): by clock
  // time T exactly T * rate bytes have passed, and the rest waits for the clock. (One write of
  // 30,000 bytes is one loopback segment, so the proxy reads it as one chunk at clock time 0.)
  for (let ms = 50; ms <= 300; ms += 50) {
    clock.advance(50);
    const due = (ms / 1000) * rate;
    await atServer.bytesAtLeast(due);
    assert.equal(atServer.bytes, due, `after ${ms} ms of clock time`);
  }
  assert.deepEqual(Buffer.concat(atServer.chunks), payload);
  assert.equal(proxy.stats().bytes.upstream, payload.length);
});

test("bandwidth can be raised at run time", async (t) => {
  const clock = new ManualClock();
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, clock });
  const fault = proxy.addFault({ kind: "bandwidth", bytesPerSecond: 1000, direction: "upstream" });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const applied = new Promise<void>((resolve) => proxy.once("faultApplied", () => resolve()));
  client.write(Buffer.alloc(5000)); // 5 s at 1000 B/s: pieces of 50 bytes, 50 ms each
  await within(applied, 5000, "the bandwidth fault to take the bytes (at clock time 0)");
  clock.advance(50);
  await atServer.bytesAtLeast(50);
  const info = fault.update({ bytesPerSecond: 10_000_000 });
  assert.equal(info.fault.kind === "bandwidth" ? info.fault.bytesPerSecond : 0, 10_000_000);
  // The piece under way finishes at the old rate (50 ms); the other 4,900 bytes need 0.49 ms at the
  // new one, where the old rate would carry 1 byte.
  clock.advance(50);
  await atServer.bytesAtLeast(100);
  clock.advance(1);
  await atServer.bytesAtLeast(5000);
  assert.equal(atServer.bytes, 5000);
});
