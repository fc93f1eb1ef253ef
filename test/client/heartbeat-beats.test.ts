/**
 * The client's side of protocol v2 beats on real sockets (docs/protocol.md §5), with
 * heartbeatIntervalMs 1000 / heartbeatTimeoutMs 3000 (the smallest interval a server
 * beats for is 1 s): against a v2 server the client sends no pings and stays open on the
 * server's beats alone; a blackholed link is still found at heartbeatTimeoutMs; against a
 * server that speaks only v1 it pings as before.
 */
import assert from "node:assert/strict";
import { createServer as createNetServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect, isOutlastError } from "../../src/index.js";
import { FaultProxy } from "../../src/proxy/index.js";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { createServer } from "../../src/server/index.js";
import type { Server } from "../../src/server/index.js";
import { waitFor, within } from "./helpers.js";

const FAST = { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 3000 } as const;

/** Resolves once `cond()` holds, checking every 20 ms; rejects after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function v2Server(): Promise<{ server: Server; port: number }> {
  const server = createServer({ onMessage: () => {} });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port };
}

test("v2 server: the client sends no pings and stays open on the server's beats (4 beats: > its 3 s timeout)", async () => {
  const { server, port } = await v2Server();
  const client = connect(`tcp://127.0.0.1:${port}`, FAST);
  const left: StateChangeEvent[] = [];
  client.on("stateChange", (e) => {
    if (e.from === "open") left.push(e);
  });
  try {
    await within(client.send("x"), 5000, "first send");
    await until(() => server.stats().beats >= 4, 15_000, "4 beats");
    assert.deepEqual(left, [], "the link never left open");
    assert.equal(server.stats().pings, 0, "the client never pinged");
    assert.equal(server.stats().connectionsAccepted, 1);
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("v2 server behind a blackhole: the link is found dead at heartbeatTimeoutMs", async () => {
  const { server, port } = await v2Server();
  const proxy = new FaultProxy({ upstream: { host: "127.0.0.1", port } });
  const relay = await proxy.listen();
  const client = connect(`tcp://127.0.0.1:${relay.port}`, FAST);
  try {
    await within(client.send("before"), 5000, "first send");
    await until(() => server.stats().beats >= 1, 10_000, "a first beat");
    proxy.addFault({ kind: "blackhole" });
    const started = performance.now();
    const lost = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.from === "open", 10_000);
    const elapsed = performance.now() - started;
    assert.ok(isOutlastError(lost.error, "OUTLAST_HEARTBEAT_TIMEOUT"), String(lost.error));
    // A lower bound only (waitFor's deadline bounds it above): the last byte heard came at most a beat
    // interval plus a sweep period (1000 + 166 ms, and the beat the blackhole swallowed) before the fault.
    assert.ok(elapsed >= 1000, `detected after ${Math.round(elapsed)} ms`);
    assert.equal(server.stats().pings, 0, "found by the beats' silence, without a ping");
  } finally {
    await client.destroy();
    await proxy.destroy();
    await server.close();
  }
});

test("v2 server, link dead toward the server only (beats still arrive): a client with a MESSAGE in flight finds it at heartbeatTimeoutMs", async () => {
  const { server, port } = await v2Server();
  const proxy = new FaultProxy({ upstream: { host: "127.0.0.1", port } });
  const relay = await proxy.listen();
  const client = connect(`tcp://127.0.0.1:${relay.port}`, FAST);
  try {
    await within(client.send("before"), 5000, "first send");
    proxy.addFault({ kind: "blackhole", direction: "upstream" });
    const started = performance.now();
    const pending = client.send("lost on the way");
    pending.catch(() => undefined);
    const lost = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.from === "open", 10_000);
    const elapsed = performance.now() - started;
    assert.ok(isOutlastError(lost.error, "OUTLAST_HEARTBEAT_TIMEOUT"), String(lost.error));
    assert.match(String(lost.error), /no answer from the server/);
    assert.ok(elapsed >= 2900, `detected after ${Math.round(elapsed)} ms (no answer for 3000 ms)`);
    assert.ok(server.stats().beats >= 1, "beats arrived meanwhile");
  } finally {
    await client.destroy();
    await proxy.destroy();
    await server.close();
  }
});

/** A server that speaks only protocol v1 (as before this version): WELCOME v1, PONG for PING, ACK for MESSAGE. */
async function v1OnlyServer(): Promise<{ port: number; pings: () => number; close: () => Promise<void> }> {
  let pings = 0;
  const sockets = new Set<Socket>();
  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    socket.on("data", (chunk) => {
      for (const f of decoder.push(chunk)) {
        if (f.type === "hello") {
          assert.deepEqual([f.minVersion, f.maxVersion], [1, 2], "the client offers versions 1 and 2");
          socket.write(
            encodeFrame({ type: "welcome", version: 1, clientId: f.clientId, lastSeq: 0, maxFrameBytes: 1 << 20 }),
          );
        } else if (f.type === "ping") {
          pings++;
          socket.write(encodeFrame({ type: "pong", nonce: f.nonce }));
        } else if (f.type === "message") {
          socket.write(encodeFrame({ type: "ack", seq: f.seq, duplicates: 0 }));
        }
      }
    });
  });
  await new Promise<void>((resolve) => net.listen(0, "127.0.0.1", resolve));
  return {
    port: (net.address() as AddressInfo).port,
    pings: () => pings,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        net.close(() => resolve());
      }),
  };
}

test("a server that speaks only v1: the client pings as before and stays open on the PONGs", async () => {
  const old = await v1OnlyServer();
  const client = connect(`tcp://127.0.0.1:${old.port}`, FAST);
  const left: StateChangeEvent[] = [];
  client.on("stateChange", (e) => {
    if (e.from === "open") left.push(e);
  });
  try {
    await within(client.send("x"), 5000, "first send");
    await until(() => old.pings() >= 4, 15_000, "4 pings");
    assert.deepEqual(left, [], "the link never left open");
  } finally {
    await client.destroy();
    await old.close();
  }
});
