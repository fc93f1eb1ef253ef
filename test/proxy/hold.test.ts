import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Recorder, connectClient, startProxy, startUpstream, windowOf, within } from "./helpers.js";

test("hold: the client connects but nothing reaches upstream; removing the fault lets the connection go on", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const hold = proxy.addFault({ kind: "hold" });
  const held = within(once(proxy, "connectionHeld"), 5000, "connectionHeld");
  const client = await connectClient(t, port); // the TCP connect itself succeeds
  await held;
  const atClient = new Recorder(client);
  client.write("anyone there?");
  await windowOf(250);
  assert.equal(up.sockets.length, 0, "a held connection reached upstream");
  assert.equal(atClient.bytes, 0);
  assert.equal(atClient.closed, false);
  assert.equal(proxy.stats().connections.held, 1);
  assert.equal(proxy.stats().faults.hold, 1);
  hold.remove();
  await atClient.bytesAtLeast(13);
  assert.equal(atClient.text(), "anyone there?");
  assert.equal(up.sockets.length, 1);
  assert.equal(proxy.stats().connections.held, 0);
});

test("hold does not touch connections already open", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  await up.accepted();
  proxy.addFault({ kind: "hold" });
  const rec = new Recorder(client);
  client.write("flowing");
  await rec.bytesAtLeast(7);
});
