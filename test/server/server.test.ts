import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { once } from "node:events";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { createServer } from "../../src/server/index.js";
import type { IncomingMessage, Server, ServerOptions } from "../../src/server/index.js";
import { RawClient, helloFrame, isAck, openClient } from "../helpers/raw-client.js";
import type { Frame } from "../../src/protocol/frames.js";

async function start(
  t: TestContext,
  options: Partial<ServerOptions> & Pick<ServerOptions, "onMessage">,
): Promise<{ server: Server; port: number }> {
  const server = createServer(options);
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port };
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test("handshake answers WELCOME with lastSeq 0, then messages are handled in order and acknowledged", async (t) => {
  const seen: IncomingMessage[] = [];
  const { server, port } = await start(t, { onMessage: (m) => void seen.push(m) });
  const { client, welcome } = await openClient(port, "c1");
  t.after(() => client.destroy());
  assert.equal(welcome.clientId, "c1");
  assert.equal(welcome.lastSeq, 0);
  assert.equal(welcome.version, 1);
  client.sendMessages(1, 100, "hello");
  const { acks } = await client.waitAck(100);
  assert.deepEqual(
    seen.map((m) => m.seq),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  assert.equal(Buffer.from(seen[0]!.data).toString(), "hello");
  assert.equal(seen[0]!.clientId, "c1");
  assert.equal(seen[0]!.redelivery, false);
  // 100 messages in one write: acks are coalesced (one per event-loop turn), not one per message.
  assert.ok(acks.length < 10, `expected coalesced acks, got ${acks.length}`);
  assert.equal(server.stats().messagesProcessed, 100);
});

test("async handler: acknowledged only after its promise resolves; handler calls of one client are serialized", async (t) => {
  const pending: { seq: number; done: () => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const { port } = await start(t, {
    onMessage: (m) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const d = deferred();
      pending.push({ seq: m.seq, done: () => d.resolve() });
      return d.promise.then(() => void running--);
    },
  });
  const { client } = await openClient(port, "async");
  t.after(() => client.destroy());
  client.sendMessages(1, 3);
  while (pending.length === 0) await new Promise((r) => setImmediate(r));
  assert.equal(pending.length, 1, "second call must wait for the first");
  await assert.rejects(client.waitFor(isAck, 100), /no frame/);
  pending[0]!.done();
  assert.equal((await client.waitAck(1)).acks.at(-1)!.seq, 1);
  while (pending.length < 2) await new Promise((r) => setImmediate(r));
  pending[1]!.done();
  while (pending.length < 3) await new Promise((r) => setImmediate(r));
  pending[2]!.done();
  await client.waitAck(3);
  assert.equal(maxRunning, 1);
});

test("different clients run their handlers concurrently", async (t) => {
  const gates = new Map<string, () => void>();
  const { port } = await start(t, {
    onMessage: (m) =>
      new Promise<void>((resolve) => {
        gates.set(m.clientId, resolve);
      }),
  });
  const a = await openClient(port, "a");
  const b = await openClient(port, "b");
  t.after(() => (a.client.destroy(), b.client.destroy()));
  a.client.sendMessages(1, 1);
  b.client.sendMessages(1, 1);
  while (gates.size < 2) await new Promise((r) => setImmediate(r));
  gates.get("b")!();
  await b.client.waitAck(1);
  gates.get("a")!();
  await a.client.waitAck(1);
});

test("resends after a reconnect are skipped as duplicates and acknowledged; WELCOME carries lastSeq", async (t) => {
  const seen: number[] = [];
  const { server, port } = await start(t, { onMessage: (m) => void seen.push(m.seq) });
  const first = await openClient(port, "dup");
  first.client.sendMessages(1, 5);
  await first.client.waitAck(5);
  first.client.destroy(); // as if the ACK was lost: the client resends 1..5
  await first.client.closed;
  const second = await openClient(port, "dup");
  t.after(() => second.client.destroy());
  assert.equal(second.welcome.lastSeq, 5);
  second.client.sendMessages(1, 7);
  const { duplicates } = await second.client.waitAck(7);
  assert.equal(duplicates, 5);
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(server.stats().duplicatesSkipped, 5);
});

test("a handler that throws synchronously: ERROR OUTLAST_HANDLER_FAILED with retryAfterMs, no ack, redelivered later", async (t) => {
  const calls: IncomingMessage[] = [];
  let fail = true;
  const handlerErrors: unknown[] = [];
  const { server, port } = await start(t, {
    onMessage: (m) => {
      calls.push(m);
      if (m.seq === 3 && fail) throw new Error("database down");
    },
  });
  server.on("handlerError", (err, info) => handlerErrors.push([err, info]));
  const { client } = await openClient(port, "poison");
  client.sendMessages(1, 5);
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_HANDLER_FAILED");
  assert.match(err.message, /database down/);
  assert.ok(err.retryAfterMs > 0);
  // Only 1..2 may be acknowledged; 4 and 5 were never handed over.
  const acked = client.received.filter(isAck).map((a) => a.seq);
  assert.ok(
    acked.every((s) => s <= 2),
    `acked ${acked.join(",")}`,
  );
  assert.deepEqual(
    calls.map((c) => c.seq),
    [1, 2, 3],
  );
  await client.waitClosed();
  assert.equal(handlerErrors.length, 1);
  assert.deepEqual((handlerErrors[0] as unknown[])[1], { clientId: "poison", seq: 3, lastSeq: 3, attempt: 1 });

  fail = false;
  const again = await openClient(port, "poison");
  t.after(() => again.client.destroy());
  assert.equal(again.welcome.lastSeq, 2);
  again.client.sendMessages(3, 3);
  await again.client.waitAck(5);
  assert.deepEqual(
    calls.map((c) => c.seq),
    [1, 2, 3, 3, 4, 5],
  );
  assert.equal(calls[3]!.redelivery, true, "a retried message is flagged as a redelivery");
  assert.equal(calls[4]!.redelivery, false);
  assert.equal(server.stats().handlerFailures, 1);
});

test("a rejecting handler: retryAfterMs grows with attempts; maxHandlerAttempts hands the message to onDeadLetter", async (t) => {
  const dead: [number, unknown][] = [];
  const { server, port } = await start(t, {
    onMessage: (m) => (m.seq === 1 ? Promise.reject(new Error("poison")) : Promise.resolve()),
    maxHandlerAttempts: 3,
    onDeadLetter: (m, err) => void dead.push([m.seq, err]),
  });
  const retries: number[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    const { client } = await openClient(port, "dl");
    client.sendMessages(1, 2);
    const err = await client.waitError();
    assert.equal(err.code, "OUTLAST_HANDLER_FAILED");
    retries.push(err.retryAfterMs);
    await client.waitClosed();
  }
  assert.ok(retries[1]! > retries[0]!, `retryAfterMs should grow: ${retries.join(",")}`);
  const { client } = await openClient(port, "dl");
  t.after(() => client.destroy());
  client.sendMessages(1, 2);
  await client.waitAck(2);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]![0], 1);
  assert.equal(server.stats().deadLettered, 1);
  assert.equal(server.stats().handlerFailures, 3);
});

test("a second connection with the same clientId closes the old one after its in-flight handler; order is kept", async (t) => {
  const order: number[] = [];
  const gate = deferred();
  const started = deferred();
  const { port } = await start(t, {
    onMessage: async (m) => {
      if (m.seq === 1) {
        started.resolve();
        await gate.promise;
      }
      order.push(m.seq);
    },
  });
  const old = await openClient(port, "same");
  t.after(() => old.client.destroy());
  old.client.sendMessages(1, 3); // 1 is in flight, 2 and 3 are queued behind it
  await started.promise;
  const fresh = await RawClient.connect({ port });
  t.after(() => fresh.destroy());
  const welcomeP = fresh.hello({ clientId: "same" });
  // The new connection must not be welcomed while seq 1 is still running.
  await assert.rejects(fresh.next(100), /no frame/);
  gate.resolve();
  const welcome = await welcomeP;
  assert.equal(welcome.lastSeq, 1, "2 and 3 were queued on the old connection and dropped: the client resends them");
  const goodbye = await old.client.waitFor((f): f is { type: "goodbye" } => f.type === "goodbye");
  assert.equal(goodbye.type, "goodbye");
  assert.ok(
    old.client.received.some((f) => f.type === "ack" && f.seq === 1),
    "old connection got its last ACK before GOODBYE",
  );
  fresh.sendMessages(2, 2);
  await fresh.waitAck(3);
  assert.deepEqual(order, [1, 2, 3]);
});

test("a HELLO read late on a connection older than the client's live one does not displace it (reconnect storms)", async (t) => {
  const seen: number[] = [];
  const { server, port } = await start(t, { onMessage: (m) => void seen.push(m.seq) });
  // The client gave up on `stale` (its HELLO not answered in time) and reconnected on `live`.
  const stale = await RawClient.connect({ port });
  t.after(() => stale.destroy());
  while (server.stats().connectionsAccepted < 1) await new Promise((r) => setImmediate(r));
  const live = await openClient(port, "storm");
  t.after(() => live.client.destroy());
  stale.send(helloFrame({ clientId: "storm" })); // read by the server only now
  const err = await stale.waitError();
  assert.equal(err.code, "OUTLAST_SERVER_BUSY");
  assert.match(err.message, /newer connection/);
  await stale.waitClosed();
  live.client.sendMessages(1, 1);
  await live.client.waitAck(1);
  assert.equal(live.client.isClosed, false, "the live connection was not superseded");
  assert.deepEqual(seen, [1]);
});

test("authenticate binds the connection: a client cannot act as another", async (t) => {
  const seen: IncomingMessage[] = [];
  const { server, port } = await start(t, {
    onMessage: (m) => void seen.push(m),
    authenticate: ({ clientId, token }) => {
      const t = Buffer.from(token).toString();
      if (t === "alice-secret") return "alice";
      if (t === "async-bob") return Promise.resolve("bob");
      if (t === "throw") throw new Error("auth backend down");
      void clientId;
      return false;
    },
  });
  const errors: Error[] = [];
  server.on("clientError", (err) => errors.push(err));
  // Asks to be "bob" but holds alice's token: bound to alice.
  const { client, welcome } = await openClient(port, "bob", { token: "alice-secret" });
  t.after(() => client.destroy());
  assert.equal(welcome.clientId, "alice");
  client.sendMessages(1, 1);
  await client.waitAck(1);
  assert.equal(seen[0]!.clientId, "alice");
  const bob = await openClient(port, "whoever", { token: "async-bob" });
  t.after(() => bob.client.destroy());
  assert.equal(bob.welcome.clientId, "bob");

  for (const token of ["wrong", "throw"]) {
    const rejected = await RawClient.connect({ port });
    await assert.rejects(rejected.hello({ clientId: "alice", token }), /OUTLAST_AUTH_REJECTED/);
    await rejected.waitClosed();
  }
  assert.equal(errors.filter((e) => (e as { code?: string }).code === "OUTLAST_AUTH_REJECTED").length, 2);
  assert.equal(server.stats().authRejected, 2);
});

test("authenticate sees HELLO's heartbeatIntervalMs, so an operator can refuse a client that wants beats too often", async (t) => {
  const asked: number[] = [];
  const { port } = await start(t, {
    onMessage: () => {},
    authenticate: ({ clientId, heartbeatIntervalMs }) => {
      asked.push(heartbeatIntervalMs);
      return heartbeatIntervalMs >= 5000 ? clientId : false;
    },
  });
  const ok = await openClient(port, "calm", { heartbeatIntervalMs: 6000 });
  t.after(() => ok.client.destroy());
  assert.equal(ok.welcome.clientId, "calm");
  const eager = await RawClient.connect({ port });
  await assert.rejects(eager.hello({ clientId: "eager", heartbeatIntervalMs: 1000 }), /OUTLAST_AUTH_REJECTED/);
  await eager.waitClosed();
  assert.deepEqual(asked, [6000, 1000]);
});

test("a protocol version the server does not speak gets OUTLAST_PROTOCOL_VERSION", async (t) => {
  const { port } = await start(t, { onMessage: () => {} });
  const client = await RawClient.connect({ port });
  t.after(() => client.destroy());
  await assert.rejects(client.hello({ clientId: "future", minVersion: 3, maxVersion: 4 }), /OUTLAST_PROTOCOL_VERSION/);
  await client.waitClosed();
});

test("PING is answered with PONG carrying the nonce", async (t) => {
  const { port } = await start(t, { onMessage: () => {} });
  const { client } = await openClient(port, "pinger");
  t.after(() => client.destroy());
  client.send({ type: "ping", nonce: 424242 });
  const pong = await client.next();
  assert.deepEqual(pong, { type: "pong", nonce: 424242 });
});

test("close() drains: the in-flight handler finishes, its ACK and GOODBYE are sent, then the socket ends", async (t) => {
  const gate = deferred();
  let started = false;
  const { server, port } = await start(t, {
    onMessage: async () => {
      started = true;
      await gate.promise;
    },
  });
  const { client } = await openClient(port, "drain");
  t.after(() => client.destroy());
  client.sendMessages(1, 1);
  while (!started) await new Promise((r) => setImmediate(r));
  let closed = false;
  const closing = server.close().then(() => (closed = true));
  // The draining connection still answers a PING: had close() not waited for the handler, its
  // GOODBYE (and the end of the connection) would have come before this PONG.
  client.send({ type: "ping", nonce: 7 });
  await client.waitFor((f): f is Frame => f.type === "pong");
  assert.equal(
    client.received.some((f) => f.type === "goodbye"),
    false,
    "no GOODBYE while the handler runs",
  );
  assert.equal(closed, false, "close() waits for the in-flight handler");
  gate.resolve();
  await closing;
  await client.waitClosed();
  const types = client.received.map((f) => f.type);
  assert.deepEqual(types.slice(-2), ["ack", "goodbye"]);
  await server.close(); // idempotent
  await assert.rejects(RawClient.connect({ port }), /ECONNREFUSED/);
});

test("destroy() closes every connection at once and is idempotent", async (t) => {
  const { server, port } = await start(t, { onMessage: () => new Promise(() => {}) });
  const { client } = await openClient(port, "d");
  t.after(() => client.destroy());
  client.sendMessages(1, 1);
  await server.destroy();
  await client.waitClosed();
  assert.equal(
    client.received.some((f) => f.type === "ack"),
    false,
  );
  await server.destroy();
});

test("a client GOODBYE: the server finishes in-flight work, sends the last ACK and ends", async (t) => {
  const gate = deferred();
  const started = deferred();
  const { port } = await start(t, {
    onMessage: () => {
      started.resolve();
      return gate.promise;
    },
  });
  const { client } = await openClient(port, "bye");
  t.after(() => client.destroy());
  client.sendMessages(1, 1);
  await started.promise;
  client.send({ type: "goodbye" });
  await assert.rejects(
    client.next(50),
    /no frame/,
    "nothing is sent (and the socket stays open) while the handler runs",
  );
  gate.resolve();
  await client.waitAck(1);
  await client.waitClosed();
});

test("diagnostics channels and the connection event report handshakes", async (t) => {
  const published: unknown[] = [];
  const onMsg = (m: unknown): void => void published.push(m);
  subscribe("outlast:server:handshake", onMsg);
  t.after(() => unsubscribe("outlast:server:handshake", onMsg));
  const { server, port } = await start(t, { onMessage: () => {} });
  const event = once(server, "connection");
  const { client } = await openClient(port, "diag");
  t.after(() => client.destroy());
  const [info] = (await event) as [{ clientId: string }];
  assert.equal(info.clientId, "diag");
  assert.equal((published[0] as { clientId: string }).clientId, "diag");
});

test("stats() counts connections and clients", async (t) => {
  const { server, port } = await start(t, { onMessage: () => {} });
  const a = await openClient(port, "s1");
  const b = await openClient(port, "s2");
  t.after(() => (a.client.destroy(), b.client.destroy()));
  const s = server.stats();
  assert.equal(s.connections, 2);
  assert.equal(s.clients, 2);
  assert.equal(s.connectionsAccepted, 2);
});

test("listen() on a port in use rejects with EADDRINUSE", async (t) => {
  const { port } = await start(t, { onMessage: () => {} });
  const other = createServer({ onMessage: () => {} });
  await assert.rejects(other.listen({ port, host: "127.0.0.1" }), { code: "EADDRINUSE" });
  await other.close();
});
