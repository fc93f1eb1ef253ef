import assert from "node:assert/strict";
import { test } from "node:test";
import { Recorder, connectClient, startProxy, startUpstream } from "./helpers.js";

test("slicer: one write arrives as many small chunks, bytes intact", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    seed: 3,
    faults: [{ kind: "slicer", averageSizeBytes: 8, sizeVariationBytes: 4, delayMs: 1, direction: "upstream" }],
  });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const payload = Buffer.from("x".repeat(1000).replace(/x/g, (_, i: number) => String.fromCharCode(97 + (i % 26))));
  client.write(payload);
  await atServer.bytesAtLeast(payload.length);
  assert.deepEqual(Buffer.concat(atServer.chunks), payload);
  assert.ok(atServer.chunks.length >= 40, `only ${atServer.chunks.length} chunks for 1000 bytes cut in ~8-byte pieces`);
  assert.ok(Math.max(...atServer.chunks.map((c) => c.length)) < 200, "a chunk was not sliced");
  assert.equal(proxy.stats().faults.slicer, 1);
});
