/**
 * Protocol v2 beats (docs/protocol.md §5), driven by a ManualClock: the server's one sweep
 * writes a beat on a link it has been silent on for the client's interval, asks for an
 * answer (PING) once half the idle limit passed without a byte from the client, frees a
 * client that stopped answering at its idle limit, and does none of this on a v1 link.
 * Writes happen inside clock.advance(), so the server's counters are exact at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { createServer } from "../../src/server/index.js";
import type { Server } from "../../src/server/index.js";
import { openClient } from "../helpers/raw-client.js";

async function start(t: TestContext, clock: ManualClock): Promise<{ server: Server; port: number; errors: Error[] }> {
  const server = createServer({ onMessage: () => {}, clock });
  const errors: Error[] = [];
  server.on("clientError", (err) => errors.push(err));
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port, errors };
}

const V2 = { minVersion: 1, maxVersion: 2, heartbeatIntervalMs: 6000 } as const;

test("v2: beats after beatMs of write silence, asks with PING past half the idle limit, frees a client that stops answering", async (t) => {
  const clock = new ManualClock();
  const { server, port, errors } = await start(t, clock);
  const { client, welcome } = await openClient(port, "v2", V2);
  t.after(() => client.destroy());
  assert.deepEqual(
    { version: welcome.version, beatMs: welcome.beatMs, idleMs: welcome.idleMs },
    { version: 2, beatMs: 6000, idleMs: 30_000 },
  );
  // The sweep runs every second; it sees the WELCOME write at t=1000, so the first beat is due at 7000.
  clock.advance(6999);
  assert.equal(server.stats().beats, 0, "no beat before 6 s of write silence");
  clock.advance(1);
  assert.equal(server.stats().beats, 1);
  assert.deepEqual(await client.next(), { type: "pong", nonce: 0 }, "a beat is a one-way PONG");
  clock.advance(7000); // t=14000: 14 s without a byte from the client, under half of 30 s
  assert.deepEqual(await client.next(), { type: "pong", nonce: 0 });
  clock.advance(7000); // t=21000: past half the idle limit: the beat asks
  assert.deepEqual(await client.next(), { type: "ping", nonce: 0 });
  assert.equal(server.stats().beats, 3);
  // The client answers; our own PING's PONG proves the server has read the answer.
  client.send({ type: "pong", nonce: 0 });
  client.send({ type: "ping", nonce: 5 });
  assert.deepEqual(await client.next(), { type: "pong", nonce: 5 });
  assert.equal(server.stats().pings, 1);
  clock.advance(7000); // t=28000: heard at 21000 (seen by the sweep at 22000): a one-way beat again
  assert.deepEqual(await client.next(), { type: "pong", nonce: 0 });
  // From now on the client answers nothing: closed once the sweep sees 30 s without a byte from it.
  clock.advance(51_999 - 28_000);
  assert.equal(errors.length, 0, "still open 29.999 s after the last byte was seen");
  clock.advance(1);
  assert.equal((errors[0] as { code?: string } | undefined)?.code, "OUTLAST_HEARTBEAT_TIMEOUT");
  assert.equal((await client.waitError()).code, "OUTLAST_HEARTBEAT_TIMEOUT");
  await client.waitClosed();
});

test("v1 link: the server never beats (the client pings), and closes it at the idle limit", async (t) => {
  const clock = new ManualClock();
  const { server, port } = await start(t, clock);
  const { client, welcome } = await openClient(port, "v1", { heartbeatIntervalMs: 6000 });
  t.after(() => client.destroy());
  assert.equal(welcome.version, 1);
  assert.equal(welcome.beatMs, undefined);
  clock.advance(29_999);
  assert.equal(server.stats().beats, 0);
  clock.advance(1);
  assert.equal((await client.next()).type, "error", "the first frame after WELCOME is the idle limit's ERROR");
});

test("v2 with an interval under 1 s: beatMs 0, no beats (that client pings for itself)", async (t) => {
  const clock = new ManualClock();
  const { server, port } = await start(t, clock);
  const { client, welcome } = await openClient(port, "fast", { ...V2, heartbeatIntervalMs: 500 });
  t.after(() => client.destroy());
  assert.deepEqual({ beatMs: welcome.beatMs, idleMs: welcome.idleMs }, { beatMs: 0, idleMs: 30_000 });
  client.send({ type: "ping", nonce: 1 });
  assert.deepEqual(await client.next(), { type: "pong", nonce: 1 }, "its pings are answered");
  clock.advance(20_000);
  assert.equal(server.stats().beats, 0);
});

test("v2: a busy link needs no beats (ACKs are liveness)", async (t) => {
  const clock = new ManualClock();
  const { server, port } = await start(t, clock);
  const { client } = await openClient(port, "busy", V2);
  t.after(() => client.destroy());
  for (let seq = 1; seq <= 8; seq++) {
    clock.advance(5000);
    client.sendMessages(seq, 1);
    await client.waitAck(seq);
  }
  assert.equal(server.stats().beats, 0, "40 s with an ACK every 5 s: no beat");
  assert.equal(server.stats().connections, 1);
});

test("a lone PING or PONG (an idle fleet's reads) is checked like any frame: nonce echoed, a nonce over 2^53-1 is a protocol error", async (t) => {
  const clock = new ManualClock();
  const { server, port } = await start(t, clock);
  const { client } = await openClient(port, "lone", V2);
  t.after(() => client.destroy());
  client.send({ type: "ping", nonce: Number.MAX_SAFE_INTEGER });
  assert.deepEqual(await client.next(), { type: "pong", nonce: Number.MAX_SAFE_INTEGER });
  client.send({ type: "pong", nonce: 7 });
  client.send({ type: "ping", nonce: 2 ** 32 + 1 });
  assert.deepEqual(await client.next(), { type: "pong", nonce: 2 ** 32 + 1 });
  assert.equal(server.stats().pings, 2);
  // 2^53 as a nonce: 0x00200000 00000000.
  client.sendRaw(Buffer.from([0, 0, 0, 9, 0x06, 0, 0x20, 0, 0, 0, 0, 0, 0]));
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_PROTOCOL_ERROR");
  assert.match(err.message, /nonce/);
});
