import assert from "node:assert/strict";
import { test } from "node:test";
import { Recorder, connectClient, startProxy, startUpstream } from "./helpers.js";

test("bandwidth: N bytes take at least N / bytesPerSecond", async (t) => {
  const up = await startUpstream(t, "sink");
  const rate = 100_000;
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    faults: [{ kind: "bandwidth", bytesPerSecond: rate, direction: "upstream" }],
  });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const payload = Buffer.alloc(30_000);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const started = performance.now();
  client.write(payload);
  await atServer.bytesAtLeast(payload.length);
  const ms = performance.now() - started;
  assert.ok(ms >= (payload.length / rate) * 1000 - 2, `took ${ms.toFixed(1)} ms, expected >= 300`);
  assert.ok(ms < 3000, `took ${ms.toFixed(1)} ms: far slower than the limit`);
  assert.deepEqual(Buffer.concat(atServer.chunks), payload);
  assert.equal(proxy.stats().bytes.upstream, payload.length);
});

test("bandwidth can be raised at run time", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const fault = proxy.addFault({ kind: "bandwidth", bytesPerSecond: 1000, direction: "upstream" });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  client.write(Buffer.alloc(5000)); // 5 s at 1000 B/s
  await atServer.bytesAtLeast(50);
  const info = fault.update({ bytesPerSecond: 10_000_000 });
  assert.equal(info.fault.kind === "bandwidth" ? info.fault.bytesPerSecond : 0, 10_000_000);
  const started = performance.now();
  await atServer.bytesAtLeast(5000, 4000);
  assert.ok(performance.now() - started < 2000, "the new rate did not take effect");
});
