/**
 * The shared Outbox conformance suite: every implementation must pass it.
 * Usage (in a *.test.ts file): outboxConformance("MemoryOutbox", () => new MemoryOutbox());
 * The factory is called once per test and must return a fresh, unopened outbox.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import type { Outbox, OutboxEntry } from "../../src/outbox/outbox.js";

function entry(text: string, extra: Partial<OutboxEntry> = {}): OutboxEntry {
  return { data: Buffer.from(text), important: true, createdAtMs: 1, expiresAtMs: Infinity, ...extra };
}

function texts(records: readonly { data: Uint8Array }[]): string[] {
  return records.map((r) => Buffer.from(r.data).toString());
}

export function outboxConformance(name: string, factory: () => Outbox | Promise<Outbox>): void {
  async function fresh(): Promise<Outbox> {
    const o = await factory();
    assert.equal(await o.open("client-a"), "client-a");
    return o;
  }

  test(`${name}: open() keeps the proposed clientId and starts at seq 1, empty`, async () => {
    const o = await fresh();
    try {
      assert.equal(o.clientId, "client-a");
      assert.equal(o.nextSeq, 1);
      assert.equal(o.count, 0);
      assert.equal(o.bytes, 0);
      assert.equal(o.oldest, undefined);
      assert.deepEqual(o.read(0, 10, 1000), []);
    } finally {
      await o.close();
    }
  });

  test(`${name}: append assigns consecutive seqs per batch and resolves with the first`, async () => {
    const o = await fresh();
    try {
      assert.equal(await o.append([entry("a"), entry("bb")]), 1);
      assert.equal(await o.append([entry("ccc")]), 3);
      assert.equal(await o.append([]), 4);
      assert.equal(o.nextSeq, 4);
      assert.equal(o.count, 3);
      assert.equal(o.bytes, 6);
      assert.equal(o.oldest?.seq, 1);
      const all = o.read(0, 10, 1000);
      assert.deepEqual(
        all.map((r) => r.seq),
        [1, 2, 3],
      );
      assert.deepEqual(texts(all), ["a", "bb", "ccc"]);
      assert.equal(o.get(2)?.important, true);
      assert.equal(o.get(2)?.createdAtMs, 1);
      assert.equal(o.get(2)?.expiresAtMs, Infinity);
      assert.equal(o.get(4), undefined);
    } finally {
      await o.close();
    }
  });

  test(`${name}: concurrent appends keep seq order equal to call order`, async () => {
    const o = await fresh();
    try {
      const firsts = await Promise.all([
        o.append([entry("1"), entry("2")]),
        o.append([entry("3")]),
        o.append([entry("4")]),
      ]);
      assert.deepEqual(firsts, [1, 3, 4]);
      assert.deepEqual(texts(o.read(0, 10, 1000)), ["1", "2", "3", "4"]);
    } finally {
      await o.close();
    }
  });

  test(`${name}: read honours afterSeq, maxRecords and maxBytes, and always returns one record`, async () => {
    const o = await fresh();
    try {
      await o.append([entry("aaaa"), entry("bbbb"), entry("cccc"), entry("dddd")]);
      assert.deepEqual(
        o.read(1, 10, 1000).map((r) => r.seq),
        [2, 3, 4],
      );
      assert.deepEqual(
        o.read(0, 2, 1000).map((r) => r.seq),
        [1, 2],
      );
      assert.deepEqual(
        o.read(0, 10, 9).map((r) => r.seq),
        [1, 2],
      );
      assert.deepEqual(
        o.read(2, 10, 1).map((r) => r.seq),
        [3],
        "a record larger than maxBytes is still returned alone",
      );
      assert.deepEqual(o.read(4, 10, 1000), []);
      assert.deepEqual(o.read(99, 10, 1000), []);
    } finally {
      await o.close();
    }
  });

  test(`${name}: acknowledge is cumulative and seqs are never reused`, async () => {
    const o = await fresh();
    try {
      await o.append([entry("a"), entry("b"), entry("c")]);
      assert.equal(o.acknowledge(2), 2);
      assert.equal(o.count, 1);
      assert.equal(o.bytes, 1);
      assert.equal(o.oldest?.seq, 3);
      assert.equal(o.acknowledge(2), 0, "acknowledging again removes nothing");
      assert.equal(o.acknowledge(1), 0, "an older ack removes nothing");
      assert.equal(o.acknowledge(10), 1);
      assert.equal(o.count, 0);
      assert.equal(o.bytes, 0);
      assert.equal(await o.append([entry("d")]), 4, "seqs continue after everything was acknowledged");
      await o.sync();
    } finally {
      await o.close();
    }
  });

  test(`${name}: drop removes one record anywhere; read, get, counts skip it`, async () => {
    const o = await fresh();
    try {
      await o.append([entry("a"), entry("b", { important: false }), entry("c"), entry("d", { important: false })]);
      assert.equal(o.drop(2, "full"), true);
      assert.equal(o.drop(2, "full"), false, "dropping twice is a no-op");
      assert.equal(o.drop(42, "expired"), false);
      assert.equal(o.count, 3);
      assert.equal(o.bytes, 3);
      assert.equal(o.get(2), undefined);
      assert.deepEqual(
        o.read(0, 10, 1000).map((r) => r.seq),
        [1, 3, 4],
      );
      assert.deepEqual(
        o.read(1, 10, 1000).map((r) => r.seq),
        [3, 4],
      );
      assert.equal(o.drop(1, "expired"), true);
      assert.equal(o.oldest?.seq, 3, "the oldest skips dropped records");
      assert.equal(o.acknowledge(3), 1, "dropped records are not counted as acknowledged");
      assert.equal(o.oldest?.seq, 4);
      assert.equal(o.drop(4, "tooLarge"), true);
      assert.equal(o.count, 0);
      assert.equal(o.bytes, 0);
      assert.equal(o.oldest, undefined);
    } finally {
      await o.close();
    }
  });

  test(`${name}: renumber moves later records to new consecutive seqs, in order`, async () => {
    const o = await fresh();
    try {
      await o.append([entry("a"), entry("b"), entry("c"), entry("d")]);
      o.drop(3, "full");
      await o.renumber(1, 100);
      assert.deepEqual(
        o.read(0, 10, 1000).map((r) => [r.seq, Buffer.from(r.data).toString()]),
        [
          [1, "a"],
          [100, "b"],
          [101, "d"],
        ],
      );
      assert.equal(o.nextSeq, 102);
      assert.equal(o.count, 3);
      assert.equal(await o.append([entry("e")]), 102);
      assert.equal(o.acknowledge(100), 2);
      assert.equal(o.oldest?.seq, 101);
    } finally {
      await o.close();
    }
  });

  test(`${name}: append after close rejects with OUTLAST_CLOSED; close is idempotent`, async () => {
    const o = await fresh();
    await o.close();
    await o.close();
    await assert.rejects(o.append([entry("x")]), (err: unknown) => isOutlastError(err, "OUTLAST_CLOSED"));
  });

  test(`${name}: 200,000 records stream through in seq order, each operation cheap`, async () => {
    const o = await fresh();
    try {
      const started = performance.now();
      const batch: OutboxEntry[] = [];
      for (let i = 0; i < 1000; i++) batch.push(entry("x".repeat(16)));
      let acked = 0;
      for (let round = 0; round < 200; round++) {
        await o.append(batch);
        const got = o.read(acked, 1000, 1 << 30);
        assert.equal(got[0]?.seq, acked + 1);
        assert.equal(got.length, 1000);
        acked = (got.at(-1)?.seq ?? 0) - (round === 199 ? 500 : 0);
        o.acknowledge(acked);
      }
      assert.equal(o.count, 500);
      assert.equal(o.oldest?.seq, 199_501);
      assert.equal(o.nextSeq, 200_001);
      const elapsedMs = performance.now() - started;
      assert.ok(elapsedMs < 5000, `took ${elapsedMs} ms (an O(n) operation per record?)`);
    } finally {
      await o.close();
    }
  });
}
