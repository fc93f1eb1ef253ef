/**
 * A clientId reused with a new, empty outbox (a robot whose disk was wiped, `outlast send
 * --client-id X` with a new --outbox): the server's lastSeq for the clientId is above anything
 * the new outbox ever sent, so its records must take numbers after that lastSeq, or the server
 * skips them as duplicates: a silent loss. Seeded and randomized (OUTLAST_TEST_SEED replays a
 * run): how much the first outbox delivered, how much the new one stored before its first WELCOME
 * (held back by the fault proxy's hold fault) and after, memory or durable outbox.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect, FileOutbox, MemoryOutbox } from "../../src/index.js";
import { FaultProxy } from "../../src/proxy/index.js";
import { createServer } from "../../src/server/index.js";
import { rng, testSeed } from "../helpers/seed.js";
import { within } from "./helpers.js";

const ROUNDS = 4;

test("a reused clientId with a new empty outbox loses nothing, whatever it stored before the first WELCOME", async (t) => {
  const random = rng(testSeed(t));
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const dir = await mkdtemp(join(tmpdir(), "outlast-renumber-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (let round = 0; round < ROUNDS; round++) {
    const handled = new Map<string, number>();
    const server = createServer({
      onMessage: (m) => {
        const text = Buffer.from(m.data).toString();
        handled.set(text, (handled.get(text) ?? 0) + 1);
      },
    });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const proxy = new FaultProxy({ upstream: { host: "127.0.0.1", port } });
    const url = `tcp://127.0.0.1:${(await proxy.listen()).port}`;
    const clientId = `reused-${round}`;
    // Round 0 always stores more before its first WELCOME than the first outbox delivered, in a durable outbox.
    const delivered = int(1, 1500);
    const durable = round === 0 || random() < 0.5;
    const before = round === 0 ? delivered + int(1, 300) : int(0, delivered + 300);
    const after = int(0, 300);
    const what = `round ${round}: first outbox delivered ${delivered}; new ${durable ? "durable" : "memory"} outbox stored ${before} before its first WELCOME, ${after} after`;
    try {
      const first = connect(url, { clientId });
      await within(Promise.all(Array.from({ length: delivered }, (_, i) => first.send(`old ${i}`))), 30_000, what);
      await first.close();

      // The new outbox stores `before` messages while its connection is held (no WELCOME yet).
      const hold = proxy.addFault({ kind: "hold" });
      const outbox = durable ? new FileOutbox(join(dir, `outbox-${round}`)) : new MemoryOutbox();
      const second = connect(url, { clientId, outbox });
      const acked: Promise<unknown>[] = [];
      const stored: Promise<unknown>[] = [];
      for (let i = 0; i < before; i++) {
        acked.push(second.send(`new ${i}`));
        stored.push(second.send(`new ${i}b`, { wait: "stored" }));
      }
      await within(Promise.all(stored), 30_000, `${what}: stored before WELCOME`);
      hold.remove();
      for (let i = before; i < before + after; i++) acked.push(second.send(`new ${i}`));
      await within(Promise.all(acked), 30_000, `${what}: every new message acknowledged`);
      await within(second.flush(), 30_000, `${what}: flushed`);
      await second.close();
      const missing: string[] = [];
      const twice: string[] = [];
      for (let i = 0; i < before + after; i++)
        for (const text of i < before ? [`new ${i}`, `new ${i}b`] : [`new ${i}`]) {
          const n = handled.get(text) ?? 0;
          if (n === 0) missing.push(text);
          if (n > 1) twice.push(text);
        }
      assert.deepEqual(missing.slice(0, 5), [], `${what}: ${missing.length} acknowledged messages never handled`);
      assert.deepEqual(twice.slice(0, 5), [], `${what}: ${twice.length} handled twice`);
    } finally {
      await proxy.destroy();
      await server.close();
    }
  }
});
