/**
 * The client's hot path: how batches become socket writes (small records
 * copied into write buffers, large ones written without a copy), the private
 * copy of send()'s data, the outbox never writing into a pending send,
 * and record times read from an injected clock, once per turn.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { connect, isOutlastError, ManualClock, MemoryOutbox } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { PendingSend } from "../../src/client/pending-send.js";
import { within } from "./helpers.js";

async function startServer() {
  const seen: { seq: number; data: Buffer }[] = [];
  const server = createServer({
    onMessage: (m) => {
      seen.push({ seq: m.seq, data: Buffer.from(m.data) });
    },
  });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, seen, url: `tcp://127.0.0.1:${port}` };
}

/** Recognisable content: byte i of message k. */
function payload(k: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (k * 31 + i * 7) & 0xff;
  return b;
}

test("write path: batches mixing small and large messages (copied and zero-copy writes) arrive intact and in order", async () => {
  const { server, seen, url } = await startServer();
  // Sizes around the copy threshold (1 KiB), the single-write limit (64 KiB) and past one write buffer (1 MiB).
  const sizes = [0, 1, 255, 1023, 1024, 1025, 4096, 300, 70_000, 12, 200_000, 999];
  const n = 240; // ~6 MiB: several batches over 1 MiB while the window fills
  const client = connect(url, { clientId: "write-path" });
  try {
    const sends = [];
    for (let k = 0; k < n; k++) sends.push(client.send(payload(k, sizes[k % sizes.length] as number)));
    const results = await within(Promise.all(sends), 20_000, "all acknowledged");
    assert.deepEqual(
      results.map((r) => r.seq),
      Array.from({ length: n }, (_, k) => k + 1),
    );
    assert.equal(seen.length, n);
    for (let k = 0; k < n; k++) {
      const m = seen[k];
      assert.equal(m?.seq, k + 1);
      assert.ok(m.data.equals(payload(k, sizes[k % sizes.length] as number)), `message ${k + 1} arrived intact`);
    }
    assert.equal(client.stats().sent, n);
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("write path: send() keeps a private copy, so the caller may reuse its buffer at once", async () => {
  const { server, seen, url } = await startServer();
  const client = connect(url, { clientId: "reuse-buffer" });
  try {
    const buf = Buffer.alloc(300);
    const sends = [];
    for (let k = 0; k < 50; k++) {
      buf.fill(k);
      sends.push(client.send(buf));
    }
    buf.fill(0xff);
    await within(Promise.all(sends), 10_000, "all acknowledged");
    assert.deepEqual(
      seen.map((m) => m.data.every((b) => b === m.seq - 1)),
      Array.from({ length: 50 }, () => true),
    );
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("write path: renumbered sends resolve with their new seqs when the old and new ranges overlap", async () => {
  const { server, seen, url } = await startServer();
  const first = connect(url, { clientId: "overlap" });
  try {
    for (let i = 0; i < 3; i++) await within(first.send(`old${i}`), 5000, "old send");
  } finally {
    await first.close();
  }
  // A fresh memory outbox numbers from 1; the server's lastSeq is 3: seqs 1..5 become 4..8.
  const second = connect(url, { clientId: "overlap", outbox: new MemoryOutbox() });
  try {
    const results = await within(Promise.all([0, 1, 2, 3, 4].map((i) => second.send(`new${i}`))), 5000, "new sends");
    assert.deepEqual(
      results.map((r) => r.seq),
      [4, 5, 6, 7, 8],
    );
    assert.deepEqual(
      seen.map((m) => [m.seq, m.data.toString()]),
      [
        [1, "old0"],
        [2, "old1"],
        [3, "old2"],
        [4, "new0"],
        [5, "new1"],
        [6, "new2"],
        [7, "new3"],
        [8, "new4"],
      ],
    );
    assert.equal(second.stats().queuedMessages, 0);
  } finally {
    await second.destroy();
    await server.close();
  }
});

test("write path: the outbox copies a pending send and never writes into it; a renumber leaves the send as it was", async () => {
  const o = new MemoryOutbox();
  await o.open("copy");
  const p = new PendingSend(Buffer.from("a"), true, 5, Infinity, true, undefined);
  const before = { ...p };
  const plain = { data: Buffer.from("b"), important: false, createdAtMs: 6, expiresAtMs: 100 };
  assert.equal(await o.append([p, plain]), 1);
  assert.notEqual(o.get(1), p, "a record of its own");
  assert.deepEqual(o.get(1), { seq: 1, data: p.data, important: true, createdAtMs: 5, expiresAtMs: Infinity });
  assert.deepEqual(o.get(2), { seq: 2, ...plain });
  assert.equal(await o.append([p]), 3);
  await o.renumber(0, 10);
  assert.deepEqual(
    o.read(0, 10, Infinity).map((r) => [r.seq, Buffer.from(r.data).toString()]),
    [
      [10, "a"],
      [11, "b"],
      [12, "a"],
    ],
  );
  assert.deepEqual({ ...p }, before, "nothing was written into the send");
  assert.equal("seq" in p, false, "a send carries no seq to go stale");
  assert.equal(o.count, 3);
  assert.equal(o.bytes, 3);
  // The promise of a pending send settles once, with { seq }.
  p.settle(undefined, 10);
  p.settle(new Error("late"), undefined);
  assert.deepEqual(await p.promise, { seq: 10 });
});

test("write path: the sends of one turn share one clock reading, a later turn reads the clock again (any clock)", async () => {
  // A port that refuses: nothing is written, so the messages wait in the outbox and may expire.
  const { server, url } = await startServer();
  await server.close();
  const clock = new ManualClock(1000);
  const client = connect(url, { clientId: "clock", clock, random: () => 0 });
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => "delivered",
      (err: unknown) => (isOutlastError(err) ? err.code : String(err)),
    );
  try {
    await client.send("first", { wait: "stored" }); // the outbox is open
    const a = outcome(client.send("a", { ttlMs: 100 }));
    clock.advance(50); // within the same turn: b shares a's reading (created at 1000)
    const b = outcome(client.send("b", { ttlMs: 100 }));
    await client.send("c", { wait: "stored" }); // a, b, c are stored (and their expiry timers set)
    const d = outcome(client.send("d", { ttlMs: 100 })); // a new turn: created at 1050
    await client.send("e", { wait: "stored" });
    clock.advance(60); // t = 1110: a and b (created at 1000) expired, d (created at 1050) not yet
    assert.equal(await within(a, 5000, "a settles"), "OUTLAST_MESSAGE_EXPIRED");
    assert.equal(await within(b, 5000, "b settles"), "OUTLAST_MESSAGE_EXPIRED");
    assert.equal(client.stats().queuedMessages, 4, "first, c, d and e are still queued");
    assert.equal(client.stats().drops.expired, 2);
    clock.advance(40); // t = 1150: d expires
    assert.equal(await within(d, 5000, "d settles"), "OUTLAST_MESSAGE_EXPIRED");
  } finally {
    await client.destroy();
  }
});
