import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { Recorder, connectClient, startProxy, startUpstream, within } from "./helpers.js";

test("latency delays every chunk by at least latencyMs each way", async (t) => {
  const up = await startUpstream(t, "echo");
  const { port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    faults: [{ kind: "latency", latencyMs: 80 }],
  });
  const client = await connectClient(t, port);
  const rec = new Recorder(client);
  const started = performance.now();
  client.write("ping");
  await rec.bytesAtLeast(4);
  const rtt = performance.now() - started;
  assert.equal(rec.text(), "ping");
  assert.ok(rtt >= 160, `round trip ${rtt.toFixed(1)} ms, expected >= 160 (80 each way)`);
});

test("latency on one direction only delays that direction", async (t) => {
  // A ManualClock: "no delay" is bytes that arrive while the clock stands still, not a wall-clock bound.
  const clock = new ManualClock();
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    clock,
    faults: [{ kind: "latency", latencyMs: 300, direction: "downstream" }],
  });
  const client = await connectClient(t, port);
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  client.write("up");
  await atServer.bytesAtLeast(2);
  assert.equal(clock.now(), 0, "upstream bytes passed with the clock standing still");
  const applied = new Promise<void>((resolve) => proxy.once("faultApplied", () => resolve()));
  server.write("down");
  await within(applied, 5000, "the latency fault to take the downstream chunk");
  // A round trip upstream (no latency) while the downstream chunk waits for the clock.
  client.write("sync");
  await atServer.bytesAtLeast(6);
  assert.equal(atClient.bytes, 0, "downstream delivered before latencyMs passed");
  clock.advance(300);
  await atClient.bytesAtLeast(4);
  assert.equal(atClient.text(), "down");
});

test("jitter varies the delay but never reorders bytes", async (t) => {
  const up = await startUpstream(t, "sink");
  const { port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    seed: 7,
    faults: [{ kind: "latency", latencyMs: 20, jitterMs: 19, direction: "upstream" }],
  });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const sent: string[] = [];
  for (let i = 0; i < 40; i++) {
    const s = `<${i}>`;
    sent.push(s);
    client.write(s);
    await new Promise((r) => setImmediate(r)); // separate chunks, so each gets its own draw
  }
  const expected = sent.join("");
  await atServer.bytesAtLeast(expected.length);
  assert.equal(atServer.text(), expected);
});

test("latency driven by a ManualClock: nothing arrives until the clock moves past latencyMs", async (t) => {
  const clock = new ManualClock();
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    clock,
    faults: [{ kind: "latency", latencyMs: 1000, direction: "upstream" }],
  });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const applied = new Promise<void>((resolve) => proxy.once("faultApplied", () => resolve()));
  client.write("x");
  await within(applied, 5000, "the latency fault to take the chunk");
  clock.advance(999);
  await new Promise((r) => setImmediate(r));
  assert.equal(atServer.bytes, 0, "delivered before latencyMs passed");
  clock.advance(1);
  await atServer.bytesAtLeast(1);
  assert.equal(atServer.text(), "x");
  assert.equal(proxy.stats().faults.latency, 1);
});

test("removing the latency fault releases a waiting chunk at once", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const fault = proxy.addFault({ kind: "latency", latencyMs: 60_000 });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const applied = new Promise<void>((resolve) => proxy.once("faultApplied", () => resolve()));
  client.write("held");
  await within(applied, 5000, "the latency fault to take the chunk");
  assert.equal(fault.remove(), true);
  await atServer.bytesAtLeast(4, 2000);
  assert.equal(atServer.text(), "held");
  assert.equal(fault.remove(), false);
});
