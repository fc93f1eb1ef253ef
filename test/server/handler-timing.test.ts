/**
 * The handler-call channels (`outlast:server:handlerStart`, `outlast:server:handled`):
 * one start and one success per handler call, with the call's seqs and message count,
 * for the per-message and the batch handler; a failed call is started, never "handled".
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { test, type TestContext } from "node:test";
import { createServer } from "../../src/server/index.js";
import type { ServerOptions } from "../../src/server/index.js";
import { openClient } from "../helpers/raw-client.js";

interface Start {
  clientId: string;
  firstSeq: number;
  lastSeq: number;
  messages: number;
}
interface Handled {
  clientId: string;
  lastSeq: number;
  messages: number;
  durationMs: number;
}

function listen(t: TestContext): { starts: Start[]; handled: Handled[] } {
  const starts: Start[] = [];
  const handled: Handled[] = [];
  const onStart = (m: unknown): void => void starts.push(m as Start);
  const onHandled = (m: unknown): void => void handled.push(m as Handled);
  subscribe("outlast:server:handlerStart", onStart);
  subscribe("outlast:server:handled", onHandled);
  t.after(() => {
    unsubscribe("outlast:server:handlerStart", onStart);
    unsubscribe("outlast:server:handled", onHandled);
  });
  return { starts, handled };
}

async function start(t: TestContext, options: ServerOptions): Promise<number> {
  const server = createServer(options);
  t.after(() => server.destroy());
  return (await server.listen({ port: 0, host: "127.0.0.1" })).port;
}

test("onMessage: one start and one handled per message, each with its seq", async (t) => {
  const seen = listen(t);
  let failOnce = true;
  const port = await start(t, {
    onMessage: (m) => {
      if (m.seq === 3 && failOnce) {
        failOnce = false;
        throw new Error("once");
      }
    },
  });
  const { client } = await openClient(port, "timed");
  t.after(() => client.destroy());
  client.sendMessages(1, 5);
  await client.waitClosed();
  // seq 3 failed: started, not handled; the connection was closed (the client resends).
  assert.deepEqual(
    seen.starts.map((s) => [s.clientId, s.firstSeq, s.lastSeq, s.messages]),
    [1, 2, 3].map((seq) => ["timed", seq, seq, 1]),
  );
  assert.deepEqual(
    seen.handled.map((h) => [h.lastSeq, h.messages]),
    [
      [1, 1],
      [2, 1],
    ],
  );
  for (const h of seen.handled) assert.ok(h.durationMs >= 0, `durationMs ${h.durationMs}`);
});

test("onMessages: one start and one handled per batch; the counts add up to the messages", async (t) => {
  const seen = listen(t);
  const calls: number[][] = [];
  const port = await start(t, {
    onMessages: async (batch) => {
      calls.push(batch.map((m) => m.seq));
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
  const { client } = await openClient(port, "batched");
  t.after(() => client.destroy());
  client.sendMessages(1, 300);
  await client.waitAck(300);
  assert.equal(seen.starts.length, calls.length);
  assert.deepEqual(
    seen.starts.map((s) => [s.firstSeq, s.lastSeq, s.messages]),
    calls.map((c) => [c[0], c.at(-1), c.length]),
  );
  assert.deepEqual(
    seen.handled.map((h) => [h.lastSeq, h.messages]),
    calls.map((c) => [c.at(-1), c.length]),
  );
});
