import assert from "node:assert/strict";
import { test } from "node:test";
import { Recorder, connectClient, startProxy, startUpstream } from "./helpers.js";

test("limit-data: exactly N bytes pass, then both sides see the end", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    faults: [{ kind: "limit-data", bytes: 1000, direction: "upstream" }],
  });
  const client = await connectClient(t, port);
  const atClient = new Recorder(client);
  const atServer = new Recorder(await up.accepted());
  client.write(Buffer.alloc(600, 1));
  client.write(Buffer.alloc(600, 2));
  client.write(Buffer.alloc(600, 3));
  await atServer.endedOrClosed();
  await atClient.endedOrClosed();
  assert.equal(atServer.bytes, 1000);
  assert.deepEqual(Buffer.concat(atServer.chunks), Buffer.concat([Buffer.alloc(600, 1), Buffer.alloc(400, 2)]));
  assert.equal(atServer.ended, true);
  assert.equal(atClient.ended, true);
  assert.equal(atServer.error, undefined);
  assert.equal(proxy.stats().faults["limit-data"], 1);
});

test("limit-data downstream counts only server -> client bytes", async (t) => {
  const up = await startUpstream(t, "echo");
  const { port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    faults: [{ kind: "limit-data", bytes: 5, direction: "downstream" }],
  });
  const client = await connectClient(t, port);
  const atClient = new Recorder(client);
  client.write("abcdefgh");
  await atClient.endedOrClosed();
  assert.equal(atClient.text(), "abcde");
});
