/**
 * Server.open() and Server.adopt(): a server that binds no port serves sockets accepted elsewhere,
 * with the bytes already read of them (what a pool worker does with the primary's hand-offs).
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { createServer as createNetServer } from "node:net";
import { once } from "node:events";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { createServer } from "../../src/server/index.js";
import type { Server, ServerOptions } from "../../src/server/index.js";
import { RawClient, helloFrame } from "../helpers/raw-client.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";

/** A plain TCP listener whose sockets go to `onSocket` paused (like the pool's primary). */
async function frontDoor(t: TestContext, onSocket: (socket: Socket) => void): Promise<number> {
  const net = createNetServer({ pauseOnConnect: true }, onSocket);
  t.after(() => net.close());
  net.listen(0, "127.0.0.1");
  await once(net, "listening");
  return (net.address() as { port: number }).port;
}

async function opened(t: TestContext, options: Partial<ServerOptions> = {}): Promise<Server> {
  const received: string[] = [];
  const server = createServer({
    onMessage: ({ data }) => void received.push(Buffer.from(data).toString()),
    ...options,
  });
  t.after(() => server.destroy());
  await server.open();
  return server;
}

test("adopt(socket, head): the HELLO read elsewhere is read first; the client is welcomed and acknowledged", async (t) => {
  const server = await opened(t);
  const port = await frontDoor(t, (socket) => {
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      server.adopt(socket, new Uint8Array(chunk)); // a Uint8Array, not a Buffer: as it arrives over IPC
    });
    socket.resume();
  });
  const client = await RawClient.connect({ port });
  t.after(() => client.destroy());
  const welcome = await client.hello({ clientId: "adopted" });
  assert.equal(welcome.clientId, "adopted");
  client.sendMessages(1, 3);
  await client.waitAck(3);
  const stats = server.stats();
  assert.equal(stats.messagesProcessed, 3);
  assert.equal(stats.connectionsAccepted, 1);
});

test("adopt(): a HELLO split between head and the socket is reassembled", async (t) => {
  const server = await opened(t);
  const hello = encodeFrame(helloFrame({ clientId: "split" }));
  const port = await frontDoor(t, (socket) => {
    // Read exactly 7 bytes here; the rest stays in the socket for the server.
    socket.once("readable", () => {
      const head = socket.read(7) as Buffer;
      server.adopt(socket, head);
    });
  });
  const client = await RawClient.connect({ port });
  t.after(() => client.destroy());
  client.sendRaw(hello);
  const welcome = await client.next();
  assert.equal(welcome.type, "welcome");
});

test("adopt() keeps a plain server's limits: past maxConnections the socket gets OUTLAST_SERVER_BUSY", async (t) => {
  const server = await opened(t, { maxConnections: 1 });
  const port = await frontDoor(t, (socket) => server.adopt(socket));
  const first = await RawClient.connect({ port });
  t.after(() => first.destroy());
  await first.hello({ clientId: "one" });
  const second = await RawClient.connect({ port });
  t.after(() => second.destroy());
  const err = await second.waitError();
  assert.equal(err.code, "OUTLAST_SERVER_BUSY");
  assert.equal(server.stats().busyRejected, 1);
});

test("adopt() after close(): refused with OUTLAST_SERVER_BUSY (shutting down); open() after close() rejects", async (t) => {
  const server = await opened(t);
  await server.close();
  const port = await frontDoor(t, (socket) => server.adopt(socket));
  const client = await RawClient.connect({ port });
  t.after(() => client.destroy());
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_SERVER_BUSY");
  await assert.rejects(server.open(), { code: "OUTLAST_CLOSED" });
});

test("open() then listen(): listen binds the already-open server", async (t) => {
  const server = await opened(t);
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const client = await RawClient.connect({ port });
  t.after(() => client.destroy());
  const welcome = await client.hello({ clientId: "bound" });
  assert.equal(welcome.clientId, "bound");
});
