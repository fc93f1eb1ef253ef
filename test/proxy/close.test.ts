import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Recorder, connectClient, startProxy, startUpstream, within } from "./helpers.js";

test("close: both sides get FIN (end, no error) after what was already sent", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  client.write("before");
  await atServer.bytesAtLeast(6);
  server.on("end", () => server.end()); // this upstream allows half-open sockets: close our side too
  const linkClosed = within(once(proxy, "connectionClosed"), 5000, "connectionClosed");
  proxy.addFault({ kind: "close" });
  await linkClosed;
  await atClient.closedNow();
  await atServer.closedNow();
  assert.equal(atClient.ended, true);
  assert.equal(atServer.ended, true);
  assert.equal(atClient.error, undefined);
  assert.equal(atServer.error, undefined);
  assert.equal(proxy.stats().faults.close, 1);
  assert.equal(proxy.connections().length, 0);
});

test("close downstream: the client sees the end, and can still send to the server (a half-close)", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  // keep the client's side open after the proxy's FIN, to show the other flow still works
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  client.on("end", () => client.end("after your FIN"));
  proxy.addFault({ kind: "close", direction: "downstream" });
  await atClient.endedOrClosed();
  assert.equal(atClient.ended, true);
  await atServer.bytesAtLeast(14);
  assert.equal(atServer.text(), "after your FIN");
  await atServer.endedOrClosed();
  assert.equal(atServer.ended, true);
  assert.equal(atServer.error, undefined);
});
