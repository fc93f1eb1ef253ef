/**
 * Hostile input through a pool's primary: whatever a socket sends first (garbage, an HTTP request,
 * a TLS ClientHello, an oversized HELLO length, half a HELLO then FIN, nothing at all), it gets
 * exactly the answer a plain server gives it (the primary hands it to a worker with the bytes it
 * read); a client that vanishes mid-HELLO costs nothing; the pool keeps serving others.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import type { Frame } from "../../src/protocol/frames.js";
import { MAX_HELLO_FRAME_BYTES } from "../../src/protocol/limits.js";
import { createServer } from "../../src/server/index.js";
import { RawClient, helloFrame, openClient } from "../helpers/raw-client.js";
import { startPool } from "./pool-process.js";

const HANDSHAKE_TIMEOUT_MS = 400;

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};
const hello = encodeFrame(helloFrame({ clientId: "half" }));
/** The first bytes of a TLS 1.2 ClientHello record (handshake, version 3.1, length, type 1). */
const clientHello = Buffer.from([
  0x16,
  0x03,
  0x01,
  0x00,
  0xa5,
  0x01,
  0x00,
  0x00,
  0xa1,
  0x03,
  0x03,
  ...Buffer.alloc(32),
]);

const cases: [string, (c: RawClient) => void][] = [
  ["garbage bytes", (c) => c.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05]))],
  ["an HTTP request", (c) => c.sendRaw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")],
  ["a TLS ClientHello", (c) => c.sendRaw(clientHello)],
  ["an oversized HELLO length", (c) => c.sendRaw(Buffer.concat([u32(MAX_HELLO_FRAME_BYTES + 1), Buffer.from([0x01])]))],
  ["a 4 GB length prefix", (c) => c.sendRaw(Buffer.concat([u32(0xffff_ffff), Buffer.from([0x01])]))],
  ["a MESSAGE first", (c) => c.send({ type: "message", seq: 1, data: Buffer.from("x") })],
  [
    "half a HELLO, then FIN",
    (c) => {
      c.sendRaw(hello.subarray(0, 12));
      c.socket.end();
    },
  ],
  ["nothing at all", () => {}],
];

/** What the server sent back before closing: type, code and message of each frame. */
async function answer(port: number, send: (c: RawClient) => void): Promise<unknown[]> {
  const c = await RawClient.connect({ port });
  try {
    send(c);
    await c.waitClosed(HANDSHAKE_TIMEOUT_MS + 5_000);
    return c.received.map((f: Frame) => (f.type === "error" ? { type: f.type, code: f.code, message: f.message } : f));
  } finally {
    c.destroy();
  }
}

async function plainServer(t: TestContext): Promise<number> {
  const server = createServer({ onMessage: () => {}, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });
  t.after(() => server.destroy());
  return (await server.listen({ port: 0, host: "127.0.0.1" })).port;
}

test("hostile first bytes through the primary get exactly a plain server's answer; the pool keeps serving", async (t) => {
  const plainPort = await plainServer(t);
  const { pool, port } = await startPool(t, { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS }, { helloWaitMs: 200 });
  const { client: good } = await openClient(port, "good");
  t.after(() => good.destroy());
  let seq = 0;
  await Promise.all(
    cases.map(async ([name, send]) => {
      const [plain, pooled] = await Promise.all([answer(plainPort, send), answer(port, send)]);
      assert.ok(plain.length > 0 || name.startsWith("half"), `${name}: the plain server answers`);
      assert.deepEqual(pooled, plain, name);
    }),
  );
  // A client that vanishes mid-HELLO (RST): nothing to answer, nothing breaks.
  const gone = await RawClient.connect({ port });
  gone.sendRaw(hello.subarray(0, 9));
  gone.socket.resetAndDestroy();
  good.sendMessages(++seq, 1);
  await good.waitAck(seq);
  const stats = await pool.stats();
  assert.ok(stats.protocolErrors >= 6, `${stats.protocolErrors} protocol errors counted by the workers`);
  assert.equal(stats.messagesProcessed, 1);
});
