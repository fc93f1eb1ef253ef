import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect, isOutlastError, MemoryOutbox } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { waitFor, within } from "./helpers.js";
import { closedPort } from "../helpers/capture-error.js";

async function startServer(options: Partial<Parameters<typeof createServer>[0]> = {}) {
  const seen: { clientId: string; seq: number; data: string }[] = [];
  const server = createServer({
    onMessage: (m) => {
      seen.push({ clientId: m.clientId, seq: m.seq, data: Buffer.from(m.data).toString() });
    },
    ...options,
  });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port, seen, url: `tcp://127.0.0.1:${port}` };
}

test("client: connect returns at once, sends, waits for the ack, closes gracefully", async () => {
  const { server, seen, url } = await startServer();
  const client = connect(url, { clientId: "basic" });
  try {
    assert.equal(client.state, "connecting");
    const changes: StateChangeEvent[] = [];
    client.on("stateChange", (e: StateChangeEvent) => changes.push(e));
    const delivered: number[] = [];
    client.on("delivered", (e: { seq: number }) => delivered.push(e.seq));
    const r1 = await within(client.send("one"), 5000, "send one");
    assert.deepEqual(r1, { seq: 1 });
    assert.equal(seen.length, 1, "acknowledged means the handler ran");
    const stored = await client.send(new Uint8Array([116, 119, 111]), { wait: "stored" });
    assert.equal(stored.seq, 2);
    await within(client.flush({ timeoutMs: 5000 }), 6000, "flush");
    assert.deepEqual(
      seen.map((m) => [m.clientId, m.seq, m.data]),
      [
        ["basic", 1, "one"],
        ["basic", 2, "two"],
      ],
    );
    assert.deepEqual(delivered, [1, 2]);
    assert.equal(client.state, "open");
    assert.deepEqual(changes[0] && [changes[0].from, changes[0].to, changes[0].classification], [
      "connecting",
      "open",
      undefined,
    ]);
    const s = client.stats();
    assert.equal(s.acknowledged, 2);
    assert.equal(s.queuedMessages, 0);
    assert.equal(s.inFlightMessages, 0);
    assert.ok(s.ackLatencyP50Ms > 0 && s.ackLatencyP99Ms >= s.ackLatencyP50Ms);
    await client.close({ timeoutMs: 2000 });
    assert.equal(client.state, "closed");
    assert.deepEqual(
      changes.map((e) => e.to),
      ["open", "closing", "closed"],
    );
    await client.close();
    await client.destroy();
    await assert.rejects(client.send("late"), (err: unknown) => isOutlastError(err, "OUTLAST_CLOSED"));
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("client: messages sent before the server exists are delivered in order once it listens", async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = connect(`tcp://127.0.0.1:${port}`, { backoff: { capMs: 100 } });
  const seen: number[] = [];
  const server = createServer({ onMessage: (m) => void seen.push(Number(Buffer.from(m.data).toString())) });
  try {
    const sends = Array.from({ length: 100 }, (_, i) => client.send(String(i)));
    const waiting = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 5000);
    assert.equal(waiting.classification?.kind, "refused");
    assert.equal(waiting.classification?.connection, true);
    assert.equal(client.stats().queuedMessages, 100);
    await server.listen({ port, host: "127.0.0.1" });
    await within(Promise.all(sends), 5000, "sends");
    assert.deepEqual(
      seen,
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.ok((client.stats().reconnects["refused"] ?? 0) >= 1);
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("client: whenFull reject fails with OUTLAST_QUEUE_FULL; best-effort messages are dropped first", async () => {
  // Nothing listens: messages stay queued.
  const client = connect(`tcp://127.0.0.1:${await closedPort()}`, {
    maxQueuedMessages: 3,
    whenFull: "reject",
    backoff: { capMs: 1000 },
  });
  try {
    const dropped: { seq: number; reason: string }[] = [];
    client.on("dropped", (e: { seq: number; reason: string }) => dropped.push(e));
    const a = client.send("a", { important: false });
    const aOutcome = a.then(
      () => undefined,
      (err: unknown) => err,
    );
    // Once stored, a can be displaced (messages not yet stored cannot); b is stored after a.
    await client.send("b", { wait: "stored" });
    await client.send("c", { wait: "stored" });
    const d = await within(client.send("d", { wait: "stored" }), 2000, "d displaces the best-effort a");
    assert.equal(d.seq, 4);
    // The queue now holds b, c, d (all important): the next send is rejected.
    await assert.rejects(client.send("e"), (err: unknown) => isOutlastError(err, "OUTLAST_QUEUE_FULL"));
    assert.ok(isOutlastError(await aOutcome, "OUTLAST_QUEUE_FULL"), "the dropped message's send rejects");
    assert.deepEqual(dropped, [{ seq: 1, reason: "full" }]);
    assert.equal(client.stats().drops.full, 1);
    assert.equal(client.stats().queuedMessages, 3);
  } finally {
    await client.destroy();
  }
});

test("client: whenFull wait holds send() until acknowledgements make room", async () => {
  let release: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { server, url, seen } = await startServer();
  const slow = createServer({
    onMessage: async (m) => {
      await gate;
      seen.push({ clientId: m.clientId, seq: m.seq, data: "" });
    },
  });
  const { port } = await slow.listen({ port: 0, host: "127.0.0.1" });
  const client = connect(`tcp://127.0.0.1:${port}`, { maxQueuedMessages: 2 });
  try {
    void url;
    const s1 = client.send("1");
    const s2 = client.send("2");
    let thirdDone = false;
    const s3 = client.send("3").then((r) => {
      thirdDone = true;
      return r;
    });
    await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "open");
    assert.equal(client.stats().waitingSends, 1);
    assert.equal(thirdDone, false);
    release?.();
    const results = await within(Promise.all([s1, s2, s3]), 5000, "sends");
    assert.deepEqual(
      results.map((r) => r.seq),
      [1, 2, 3],
    );
  } finally {
    release?.();
    await client.destroy();
    await slow.close();
    await server.close();
  }
});

test("client: an abort signal cancels a send waiting for room", async () => {
  const client = connect(`tcp://127.0.0.1:${await closedPort()}`, { maxQueuedMessages: 1 });
  try {
    const first = client.send("1");
    const ac = new AbortController();
    const second = client.send("2", { signal: ac.signal });
    ac.abort(new Error("changed my mind"));
    await assert.rejects(second, /changed my mind/);
    assert.equal(client.stats().waitingSends, 0);
    void first.catch(() => undefined);
  } finally {
    await client.destroy();
  }
  assert.equal(client.state, "closed");
});

test("client: a message past its ttlMs is dropped as expired and its send rejects", async () => {
  const client = connect(`tcp://127.0.0.1:${await closedPort()}`);
  try {
    const dropped = waitFor<{ seq: number; reason: string }>(client, "dropped", () => true, 5000);
    const p = client.send("stale", { ttlMs: 30 });
    await assert.rejects(p, (err: unknown) => isOutlastError(err, "OUTLAST_MESSAGE_EXPIRED"));
    assert.deepEqual(await dropped, { seq: 1, reason: "expired" });
    assert.equal(client.stats().drops.expired, 1);
    assert.equal(client.stats().queuedMessages, 0);
  } finally {
    await client.destroy();
  }
});

test("client: too large a message is refused at once", async () => {
  const client = connect(`tcp://127.0.0.1:${await closedPort()}`, { maxFrameBytes: 4096 });
  try {
    await assert.rejects(client.send(new Uint8Array(5000)), (err: unknown) =>
      isOutlastError(err, "OUTLAST_MESSAGE_TOO_LARGE"),
    );
    await assert.rejects(client.send(42 as never), (err: unknown) => isOutlastError(err, "OUTLAST_INVALID_OPTION"));
    await assert.rejects(client.send("x", { wait: "now" as never }), (err: unknown) =>
      isOutlastError(err, "OUTLAST_INVALID_OPTION"),
    );
  } finally {
    await client.destroy();
  }
});

test("client: rejected credentials emit error once, keep the messages, retry at the cap", async () => {
  let attempts = 0;
  let allow = false;
  const { server, url, seen } = await startServer({
    authenticate: ({ clientId }) => {
      attempts++;
      return allow ? clientId : false;
    },
  });
  const client = connect(url, { token: "wrong", backoff: { baseMs: 10, capMs: 100 } });
  try {
    const errors: unknown[] = [];
    client.on("error", (err) => errors.push(err));
    const sent = client.send("kept");
    const first = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 5000);
    assert.ok(isOutlastError(first.error, "OUTLAST_AUTH_REJECTED"), String(first.error));
    assert.equal(first.classification?.connection, false);
    assert.ok((first.delayMs ?? 0) >= 50, `retries at the cap, not hot: ${first.delayMs}`);
    for (let i = 0; i < 3; i++) await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 5000);
    assert.equal(errors.length, 1, "one error per streak, not one per retry");
    assert.ok(isOutlastError(errors[0], "OUTLAST_AUTH_REJECTED"));
    assert.ok(attempts >= 4 && attempts <= 8, `attempts ${attempts}`);
    allow = true;
    await within(sent, 5000, "send after auth is allowed");
    assert.deepEqual(
      seen.map((m) => m.data),
      ["kept"],
    );
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("client: a connect attempt that hangs is abandoned after connectTimeoutMs", async () => {
  // Accepts TCP, never answers HELLO.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as net.AddressInfo).port;
  const client = connect(`tcp://127.0.0.1:${port}`, { connectTimeoutMs: 200 });
  try {
    const started = performance.now();
    const e = await waitFor<StateChangeEvent>(client, "stateChange", (x) => x.to === "waiting", 5000);
    const elapsed = performance.now() - started;
    assert.ok(isOutlastError(e.error, "OUTLAST_CONNECT_TIMEOUT"), String(e.error));
    assert.equal(e.error.details.phase, "handshake");
    assert.equal(e.classification?.kind, "timeout");
    assert.equal(e.classification?.connection, true);
    // A lower bound only: the timeout was honoured; how late a loaded machine runs the timer is not under test.
    assert.ok(elapsed >= 190, `gave up after ${elapsed} ms, before connectTimeoutMs 200`);
    assert.equal(client.stats().reconnects["timeout"], 1);
  } finally {
    await client.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test("client: a durable-looking outbox whose clientId is known to the server gets fresh seqs (no silent skip)", async () => {
  const { server, url, seen } = await startServer();
  const first = connect(url, { clientId: "reused" });
  try {
    for (let i = 0; i < 5; i++) await first.send(`old${i}`);
  } finally {
    await first.close();
  }
  // A new process would start a new memory outbox at seq 1 with the same clientId.
  const second = connect(url, { clientId: "reused", outbox: new MemoryOutbox() });
  try {
    const r = await within(second.send("new"), 5000, "send on the second client");
    assert.equal(r.seq, 6, "renumbered after the server's lastSeq");
    assert.deepEqual(
      seen.map((m) => m.data),
      ["old0", "old1", "old2", "old3", "old4", "new"],
    );
  } finally {
    await second.destroy();
    await server.close();
  }
});
