/**
 * The shared DedupState conformance suite (src/server/dedup-state.ts states the
 * contract): every implementation must pass it (memory, file, and any remote store).
 * Usage (in a *.test.ts file):
 *   dedupStateConformance("FileDedupState", async () => ({ persistent: true, state: () => new FileDedupState(dir), dispose }));
 * `newStore` is called once per test and must return an empty store; `state()`
 * gives a new, unopened state over it (again after close(): a persistent one sees
 * what the earlier one made durable).
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import type { DedupState } from "../../src/server/dedup-state.js";

export interface DedupStore {
  /** What was made durable survives close() and a new state over the same store. */
  readonly persistent: boolean;
  state(): DedupState;
  /**
   * What the server's handler does before it records `seqs` of `clientId`, for a state whose
   * durability is the handler's own write (the JetStream state: the handler publishes the
   * messages, the stream is the state). Absent for states that keep the records themselves.
   */
  handled?(state: DedupState, clientId: string, seqs: readonly number[]): Promise<void>;
  dispose(): Promise<void>;
}

interface Opened {
  readonly state: DedupState;
  /** Every commit listener call, in order. */
  readonly commits: Map<string, number>[];
  /** clientId -> highest seq any commit reported. */
  readonly durable: Map<string, number>;
}

async function open(store: DedupStore): Promise<Opened> {
  const state = store.state();
  const commits: Map<string, number>[] = [];
  const durable = new Map<string, number>();
  state.setListeners(
    (c) => {
      commits.push(new Map(c));
      for (const [id, seq] of c) {
        assert.ok(seq > (durable.get(id) ?? 0), `commit reported ${id} ${seq}, not above ${durable.get(id) ?? 0}`);
        durable.set(id, seq);
      }
    },
    (err) => assert.fail(err),
  );
  await state.open();
  return { state, commits, durable };
}

export function dedupStateConformance(name: string, newStore: () => DedupStore | Promise<DedupStore>): void {
  async function withStore(fn: (store: DedupStore) => Promise<void>): Promise<void> {
    const store = await newStore();
    try {
      await fn(store);
    } finally {
      await store.dispose();
    }
  }

  test(`${name}: an unknown clientId loads as lastSeq 0 with nothing in doubt`, () =>
    withStore(async (store) => {
      const { state } = await open(store);
      const seqs = await state.load("nobody");
      assert.equal(seqs.lastSeq, 0);
      assert.ok(seqs.inDoubt.toSeq < seqs.inDoubt.fromSeq, "nothing in doubt");
      await state.close(true);
    }));

  test(`${name}: a commit reports the highest recorded seq per clientId once durable; flush() waits for it`, () =>
    withStore(async (store) => {
      const { state, durable } = await open(store);
      await state.load("a");
      await state.load("b");
      await store.handled?.(state, "a", [3, 5]);
      await store.handled?.(state, "b", [7]);
      state.record("a", 3);
      state.record("b", 7);
      state.record("a", 5);
      state.commit();
      await state.flush();
      assert.deepEqual([...durable].sort(), [
        ["a", 5],
        ["b", 7],
      ]);
      await state.close(true);
    }));

  test(`${name}: a lower seq never lowers what was reported`, () =>
    withStore(async (store) => {
      const { state, durable } = await open(store);
      await state.load("a");
      await store.handled?.(state, "a", [9]);
      state.record("a", 9);
      state.commit();
      await state.flush();
      await store.handled?.(state, "a", [4]);
      state.record("a", 4);
      state.commit();
      await state.flush(); // the listener asserts that no report goes backwards
      assert.equal(durable.get("a"), 9);
      await state.close(true);
    }));

  test(`${name}: records made between commits are group-committed and every one is reported`, () =>
    withStore(async (store) => {
      const { state, commits, durable } = await open(store);
      for (let c = 0; c < 10; c++) await state.load(`c${c}`);
      for (let c = 0; c < 10; c++)
        await store.handled?.(
          state,
          `c${c}`,
          Array.from({ length: 100 }, (_, k) => 10 * k + (c === 0 ? 10 : c)),
        );
      for (let i = 1; i <= 1000; i++) {
        state.record(`c${i % 10}`, i);
        state.commit();
      }
      await state.flush();
      for (let c = 0; c < 10; c++) assert.equal(durable.get(`c${c}`), 990 + (c === 0 ? 10 : c));
      assert.ok(commits.length >= 1 && commits.length <= 1000, `${commits.length} commits`);
      await state.close(true);
    }));

  test(`${name}: close(true) makes what was recorded durable; close is idempotent; later calls are harmless`, () =>
    withStore(async (store) => {
      const { state, durable } = await open(store);
      await state.load("c");
      await store.handled?.(state, "c", [3]);
      state.record("c", 3);
      await state.close(true);
      assert.equal(durable.get("c"), 3);
      await state.close(true);
      await state.close(false);
      state.record("c", 4);
      state.commit();
      if (!store.persistent) return;
      const again = await open(store);
      assert.equal((await again.state.load("c")).lastSeq, 3);
      await again.state.close(true);
    }));

  test(`${name}: after a reopen, lastSeq is what was reported durable`, (t) =>
    withStore(async (store) => {
      if (!store.persistent) return t.skip(`${name} keeps nothing across a restart`);
      const first = await open(store);
      for (const id of ["x", "y"]) await first.state.load(id);
      await store.handled?.(first.state, "x", [41]);
      await store.handled?.(first.state, "y", [2]);
      first.state.record("x", 41);
      first.state.record("y", 2);
      await first.state.flush();
      await store.handled?.(first.state, "x", [42]);
      first.state.record("x", 42); // recorded, never committed: may or may not survive a close(false)
      await first.state.close(false);
      const second = await open(store);
      const x = await second.state.load("x");
      assert.ok(x.lastSeq === 41 || x.lastSeq === 42, `x lastSeq ${x.lastSeq}`);
      assert.equal((await second.state.load("y")).lastSeq, 2);
      assert.equal((await second.state.load("z")).lastSeq, 0);
      await second.state.close(true);
    }));

  test(`${name}: progress marks take any volume; after a reopen only a seq that was started and not recorded can be in doubt`, () =>
    withStore(async (store) => {
      const { state } = await open(store);
      await state.load("m");
      const marks = state.progress("m");
      for (let seq = 1; seq <= 2000; seq++) {
        marks.starting(seq);
        marks.finished(seq);
        if (seq % 100 === 0) marks.settle();
      }
      marks.starting(2001); // in the handler when the process stops
      await store.handled?.(state, "m", [2000]);
      state.record("m", 2000);
      await state.flush();
      await state.close(false);
      const again = await open(store);
      const m = await again.state.load("m");
      if (store.persistent) assert.ok(m.lastSeq >= 2000, `lastSeq ${m.lastSeq}`);
      const { fromSeq, toSeq } = m.inDoubt;
      if (fromSeq <= toSeq) {
        assert.ok(fromSeq > m.lastSeq, `in doubt from ${fromSeq}, but lastSeq is ${m.lastSeq}`);
        assert.ok(toSeq <= 2001, `in doubt up to ${toSeq}: never started`);
      }
      await again.state.close(true);
    }));

  test(`${name}: a shared state sees what another server made durable in the same store, on the next load`, (t) =>
    withStore(async (store) => {
      const probe = store.state();
      if (probe.shared !== true) return t.skip(`${name} is not shared by several servers`);
      const a = await open(store);
      const b = await open(store);
      assert.equal((await b.state.load("s")).lastSeq, 0);
      await a.state.load("s");
      await store.handled?.(a.state, "s", [1, 2, 3]);
      a.state.record("s", 3);
      await a.state.flush();
      assert.equal((await b.state.load("s")).lastSeq, 3, "server b's next load sees server a's records");
      await Promise.all([a.state.close(true), b.state.close(true)]);
    }));
}
