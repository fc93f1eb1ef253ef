import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { Recorder, assertNothingScheduled, connectClient, startProxy, startUpstream, within } from "./helpers.js";

test("hold: the client connects but nothing reaches upstream; removing the fault lets the connection go on", async (t) => {
  const up = await startUpstream(t, "echo");
  const clock = new ManualClock();
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, clock });
  const hold = proxy.addFault({ kind: "hold" });
  const held = within(once(proxy, "connectionHeld"), 5000, "connectionHeld");
  const client = await connectClient(t, port); // the TCP connect itself succeeds
  await held;
  const atClient = new Recorder(client);
  client.write("anyone there?");
  // A barrier instead of a wait: upstream accepts in arrival order, so if the proxy had connected
  // the held client upstream, that connection would be accepted before this probe.
  const probe = await connectClient(t, up.port);
  const first = await up.accepted();
  assert.equal(first.remotePort, probe.localPort, "a held connection reached upstream");
  probe.destroy();
  assertNothingScheduled(clock); // and no timer of the proxy's could connect it later
  assert.equal(proxy.stats().bytes.upstream, 0);
  assert.equal(atClient.bytes, 0);
  assert.equal(atClient.closed, false);
  assert.equal(proxy.stats().connections.held, 1);
  assert.equal(proxy.stats().faults.hold, 1);
  hold.remove();
  await atClient.bytesAtLeast(13);
  assert.equal(atClient.text(), "anyone there?");
  assert.equal(up.sockets.length, 2, "the probe and the released connection");
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
