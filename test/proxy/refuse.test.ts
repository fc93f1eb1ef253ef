import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import type { FaultProxy } from "../../src/proxy/index.js";
import { Recorder, connectClient, startProxy, startUpstream, within } from "./helpers.js";

/** Connects and reports whether the proxy refused it (or opened it upstream). */
async function refused(proxy: FaultProxy, port: number): Promise<boolean> {
  const verdict = within(
    new Promise<boolean>((resolve) => {
      proxy.once("connectionRefused", () => resolve(true));
      proxy.once("connectionOpened", () => resolve(false));
    }),
    5000,
    "refused or opened",
  );
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  try {
    return await verdict;
  } finally {
    proxy.removeAllListeners("connectionRefused");
    proxy.removeAllListeners("connectionOpened");
    socket.destroy();
  }
}

test("refuse: new connections are accepted then reset at once, never connected upstream", async (t) => {
  const up = await startUpstream(t, "sink");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const fault = proxy.addFault({ kind: "refuse" });
  const socket = connect({ host: "127.0.0.1", port });
  t.after(() => socket.destroy());
  const rec = new Recorder(socket);
  await rec.closedNow();
  assert.equal(rec.error?.code, "ECONNRESET", `error: ${rec.error?.message ?? "none"}`);
  assert.equal(up.sockets.length, 0, "the refused connection reached upstream");
  assert.deepEqual(proxy.stats().connections.refused, 1);
  assert.equal(proxy.stats().faults.refuse, 1);
  fault.remove();
  const client = await connectClient(t, port);
  client.write("ok");
  const atServer = new Recorder(await up.accepted());
  await atServer.bytesAtLeast(2);
});

test("refuse leaves open connections alone", async (t) => {
  const up = await startUpstream(t, "echo");
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port } });
  const client = await connectClient(t, port);
  await up.accepted();
  proxy.addFault({ kind: "refuse" });
  const rec = new Recorder(client);
  client.write("still here");
  await rec.bytesAtLeast(10);
  assert.equal(rec.text(), "still here");
});

test("refuse with a probability: the seed decides which connections, the same way every run", async (t) => {
  const up = await startUpstream(t, "sink");
  const pattern = async (seed: number): Promise<string> => {
    const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, seed });
    proxy.addFault({ kind: "refuse", probability: 0.5 });
    let out = "";
    for (let i = 0; i < 16; i++) out += (await refused(proxy, port)) ? "R" : ".";
    await proxy.destroy();
    return out;
  };
  const a = await pattern(1234);
  const b = await pattern(1234);
  assert.equal(a, b, "the same seed gave another pattern");
  assert.match(a, /R/, "probability 0.5 refused none of 16");
  assert.match(a, /\./, "probability 0.5 refused all of 16");
});
