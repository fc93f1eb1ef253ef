/**
 * Malformed or hostile input: each gets an ERROR frame and closes that connection
 * only; a well-behaved client on the same server keeps being served; nothing throws.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { createServer } from "../../src/server/index.js";
import type { Server, ServerOptions } from "../../src/server/index.js";
import { RawClient, helloFrame, openClient } from "../helpers/raw-client.js";

async function start(
  t: TestContext,
  options: Partial<ServerOptions> = {},
): Promise<{ server: Server; port: number; errors: Error[] }> {
  const server = createServer({ onMessage: () => {}, ...options });
  const errors: Error[] = [];
  server.on("clientError", (err) => errors.push(err));
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port, errors };
}

/** A healthy client that must keep working while others misbehave. */
async function bystander(t: TestContext, port: number, clientId = "good"): Promise<(seq: number) => Promise<void>> {
  const { client } = await openClient(port, clientId);
  t.after(() => client.destroy());
  return async (seq) => {
    client.sendMessages(seq, 1);
    await client.waitAck(seq);
  };
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

const cases: [string, (c: RawClient) => void][] = [
  ["garbage bytes", (c) => c.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05]))],
  ["an HTTP request", (c) => c.sendRaw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")],
  ["a 4 GB length prefix", (c) => c.sendRaw(Buffer.concat([u32(0xffff_ffff), Buffer.from([0x03])]))],
  ["a zero length", (c) => c.sendRaw(u32(0))],
  ["an unknown frame type", (c) => c.sendRaw(Buffer.concat([u32(1), Buffer.from([0x7f])]))],
  ["MESSAGE before HELLO", (c) => c.send({ type: "message", seq: 1, data: Buffer.from("x") })],
  ["ACK from a client", (c) => c.send({ type: "ack", seq: 1, duplicates: 0 })],
  [
    "a HELLO with a bad magic",
    (c) => {
      const hello = encodeFrame(helloFrame({ clientId: "x" }));
      hello.write("HTTP", 5, "latin1");
      c.sendRaw(hello);
    },
  ],
];

for (const [name, send] of cases) {
  test(`${name}: ERROR OUTLAST_PROTOCOL_ERROR, that connection closes, others keep being served`, async (t) => {
    const { server, port, errors } = await start(t);
    const ok = await bystander(t, port);
    await ok(1);
    const bad = await RawClient.connect({ port });
    t.after(() => bad.destroy());
    send(bad);
    const err = await bad.waitError();
    assert.equal(err.code, "OUTLAST_PROTOCOL_ERROR");
    await bad.waitClosed();
    await ok(2);
    assert.equal(server.stats().protocolErrors, 1);
    assert.equal((errors[0] as { code?: string }).code, "OUTLAST_PROTOCOL_ERROR");
  });
}

test("a second HELLO on an open connection is a protocol error", async (t) => {
  const { port } = await start(t);
  const { client } = await openClient(port, "twice");
  t.after(() => client.destroy());
  client.send(helloFrame({ clientId: "someone-else" }));
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_PROTOCOL_ERROR");
  assert.match(err.message, /HELLO/);
  await client.waitClosed();
});

test("a MESSAGE seq that goes backwards on one connection is a protocol error", async (t) => {
  const { port } = await start(t);
  const { client } = await openClient(port, "backwards");
  t.after(() => client.destroy());
  client.sendMessages(5, 1);
  client.sendMessages(4, 1);
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_PROTOCOL_ERROR");
  await client.waitClosed();
});

test("a frame larger than maxFrameBytes after the handshake is refused", async (t) => {
  const { port } = await start(t, { maxFrameBytes: 4096 });
  const { client } = await openClient(port, "big");
  t.after(() => client.destroy());
  client.sendMessages(1, 1, Buffer.alloc(5000));
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_PROTOCOL_ERROR");
  assert.match(err.message, /maxFrameBytes/);
});

test("slowloris: a handshake dribbled byte by byte is cut off at handshakeTimeoutMs", async (t) => {
  const clock = new ManualClock();
  const { port, errors } = await start(t, { clock, handshakeTimeoutMs: 1000 });
  const ok = await bystander(t, port);
  const slow = await RawClient.connect({ port });
  t.after(() => slow.destroy());
  const hello = encodeFrame(helloFrame({ clientId: "slow" }));
  slow.sendRaw(hello.subarray(0, 3));
  await ok(1); // the server has read what we sent by now
  clock.advance(999);
  slow.sendRaw(hello.subarray(3, 6));
  await ok(2);
  assert.equal(slow.isClosed, false);
  clock.advance(1);
  const err = await slow.waitError();
  assert.equal(err.code, "OUTLAST_TIMEOUT");
  await slow.waitClosed();
  await ok(3);
  assert.equal((errors[0] as { code?: string }).code, "OUTLAST_TIMEOUT");
});

test("a connection that sends nothing after the handshake is closed after max(idleTimeoutMs, 3 x heartbeat)", async (t) => {
  const clock = new ManualClock();
  const { server, port } = await start(t, { clock, idleTimeoutMs: 1000 });
  const details: unknown[] = [];
  server.on("clientError", (err) => {
    if ((err as { code?: string }).code === "OUTLAST_HEARTBEAT_TIMEOUT")
      details.push((err as { details?: unknown }).details);
  });
  const { client } = await openClient(port, "idle", { heartbeatIntervalMs: 200 }); // 3 x 200 < 1000: idleTimeoutMs rules
  t.after(() => client.destroy());
  const { client: chatty } = await openClient(port, "chatty", { heartbeatIntervalMs: 2000 });
  t.after(() => chatty.destroy());
  clock.advance(900);
  client.send({ type: "ping", nonce: 1 }); // activity pushes the deadline out
  await client.next();
  clock.advance(900);
  assert.equal(client.isClosed, false);
  clock.advance(200);
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_HEARTBEAT_TIMEOUT");
  await client.waitClosed();
  // The client's heartbeat timeout has the same details: the limit passed and the silence.
  const [first] = details as { timeoutMs: number; silentMs: number }[];
  assert.equal(first?.timeoutMs, 1000);
  assert.ok((first?.silentMs ?? 0) >= 1000, `silentMs ${first?.silentMs}`);
  assert.deepEqual(Object.keys(first ?? {}).sort(), ["silentMs", "timeoutMs"]);
  // heartbeatIntervalMs 2000 -> 6000 ms idle limit for "chatty": still open at t=2000.
  assert.equal(chatty.isClosed, false);
  clock.advance(4100);
  assert.equal((await chatty.waitError()).code, "OUTLAST_HEARTBEAT_TIMEOUT");
});

test("maxConnections: extra connections get ERROR OUTLAST_SERVER_BUSY and are closed", async (t) => {
  const { server, port } = await start(t, { maxConnections: 2 });
  const ok = await bystander(t, port, "one");
  const second = await openClient(port, "two");
  t.after(() => second.client.destroy());
  const third = await RawClient.connect({ port });
  t.after(() => third.destroy());
  const err = await third.waitError();
  assert.equal(err.code, "OUTLAST_SERVER_BUSY");
  assert.ok(err.retryAfterMs > 0);
  await third.waitClosed();
  await ok(1);
  assert.equal(server.stats().busyRejected, 1);
  // A freed slot is usable again.
  await second.client.close();
  while (server.stats().connections > 1) await new Promise((r) => setImmediate(r));
  const fourth = await openClient(port, "four");
  t.after(() => fourth.client.destroy());
  assert.equal(fourth.welcome.clientId, "four");
});

test("maxPendingHandshakes: past it new connections get OUTLAST_SERVER_BUSY with a 2.5-7.5 s hint (reconnect storms)", async (t) => {
  const { server, port } = await start(t, { maxPendingHandshakes: 2 });
  const silent = await Promise.all([RawClient.connect({ port }), RawClient.connect({ port })]);
  for (const c of silent) t.after(() => c.destroy());
  while (server.stats().connectionsAccepted < 2) await new Promise((r) => setImmediate(r));
  const third = await RawClient.connect({ port });
  t.after(() => third.destroy());
  const err = await third.waitError();
  assert.equal(err.code, "OUTLAST_SERVER_BUSY");
  assert.ok(err.retryAfterMs >= 2500 && err.retryAfterMs <= 7500, `retryAfterMs ${err.retryAfterMs}`);
  assert.equal(server.stats().handshakesBusyRejected, 1);
  assert.equal(server.stats().busyRejected, 0, "not counted as a full server");
  // One handshake done: room for a new one.
  const welcome = await silent[0].hello({ clientId: "first" });
  assert.equal(welcome.clientId, "first");
  const fourth = await openClient(port, "fourth");
  t.after(() => fourth.client.destroy());
  assert.equal(fourth.welcome.clientId, "fourth");
});

test("a connection reset mid-stream affects nobody else and does not throw", async (t) => {
  const { port, errors } = await start(t);
  const ok = await bystander(t, port);
  const { client } = await openClient(port, "rst");
  client.sendMessages(1, 10);
  client.socket.resetAndDestroy();
  await client.closed;
  await ok(1);
  for (const e of errors) assert.ok(typeof (e as { code?: unknown }).code === "string");
});

test("random bytes after a valid handshake never crash the server", async (t) => {
  const { port } = await start(t);
  const ok = await bystander(t, port);
  for (let i = 0; i < 20; i++) {
    const { client } = await openClient(port, `fuzz-${i}`);
    const junk = Buffer.alloc(64 + i * 7);
    for (let j = 0; j < junk.length; j++) junk[j] = (j * 131 + i * 17) & 0xff;
    client.sendRaw(junk);
    await client.waitClosed().finally(() => client.destroy());
  }
  await ok(1);
});
