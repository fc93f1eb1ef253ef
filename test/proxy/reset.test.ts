import assert from "node:assert/strict";
import { test } from "node:test";
import { Recorder, connectClient, startProxy, startUpstream } from "./helpers.js";

function describe(err: (Error & { code?: string; errno?: number; syscall?: string }) | undefined): string {
  return err === undefined
    ? "none"
    : JSON.stringify({ name: err.name, code: err.code, errno: err.errno, syscall: err.syscall, message: err.message });
}

test("reset: both sides get ECONNRESET", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  client.write("hello");
  await atServer.bytesAtLeast(5);
  proxy.addFault({ kind: "reset" });
  await atClient.closedNow();
  await atServer.closedNow();
  assert.equal(atClient.error?.code, "ECONNRESET", `client error: ${describe(atClient.error)}`);
  assert.equal(atServer.error?.code, "ECONNRESET", `server error: ${describe(atServer.error)}`);
  assert.equal(proxy.stats().faults.reset, 1);
  if (process.env["OUTLAST_PRINT_ERRORS"] !== undefined)
    console.log(`client ${describe(atClient.error)}\nserver ${describe(atServer.error)}`);
});

test("reset downstream only: the client gets ECONNRESET, the server gets FIN", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  proxy.addFault({ kind: "reset", direction: "downstream" });
  await atClient.closedNow();
  await atServer.endedOrClosed();
  assert.equal(atClient.error?.code, "ECONNRESET", `client error: ${describe(atClient.error)}`);
  assert.equal(atServer.ended, true);
  assert.equal(atServer.error, undefined, `server error: ${describe(atServer.error)}`);
});

test("reset with afterMs: new connections are reset that long after they open", async (t) => {
  const up = await startUpstream(t, "sink");
  const { port } = await startProxy(t, {
    upstream: { host: "127.0.0.1", port: up.port },
    faults: [{ kind: "reset", afterMs: 150 }],
  });
  const started = performance.now();
  const client = await connectClient(t, port);
  const atClient = new Recorder(client);
  const atServer = new Recorder(await up.accepted());
  client.write("in time");
  await atServer.bytesAtLeast(7);
  await atClient.closedNow();
  assert.equal(atClient.error?.code, "ECONNRESET");
  assert.ok(performance.now() - started >= 150, "reset before afterMs");
});
