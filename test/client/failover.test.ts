/**
 * Several server addresses: the client moves to another server when one dies
 * (real servers in child processes, SIGKILLed), and the backoff walks the
 * list before it grows (injected clock).
 */

import assert from "node:assert/strict";
import dc from "node:diagnostics_channel";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect, ManualClock } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { closedPort } from "../helpers/capture-error.js";
import { ChildServer, waitFor, within } from "./helpers.js";

test("failover: one of two servers SIGKILLed mid-stream, the client moves to the other and loses nothing", async (t) => {
  const a = new ChildServer();
  const b = new ChildServer();
  const [portA, portB] = [await a.start(0, undefined), await b.start(0, undefined)];
  const urls = [`tcp://127.0.0.1:${portA}`, `tcp://127.0.0.1:${portB}`];
  const client = connect(urls);
  try {
    await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "open");
    const first = client.serverUrl;
    assert.ok(first !== undefined && urls.includes(first), `connected to one of the list, got ${first}`);
    const [victim, survivor] = first === urls[0] ? [a, b] : [b, a];
    const survivorUrl = urls.find((u) => u !== first);

    const n = 4000;
    const sends = Array.from({ length: n }, (_, i) => client.send(`m${i}`));
    for (const p of sends) p.catch(() => undefined);
    await victim.waitHandled(500);
    const lost = waitFor<StateChangeEvent>(client, "stateChange", (e) => e.from === "open" && e.to === "waiting");
    const reopened = waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "open");
    await victim.kill();
    assert.equal((await lost).classification?.connection, true, "a dead server is a connection error");
    await reopened;
    assert.equal(client.serverUrl, survivorUrl, "the next attempt goes to the other server");

    const results = await within(Promise.all(sends), 30_000, "every send acknowledged by the survivor");
    assert.deepEqual(
      results.map((r) => r.seq),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    // Two independent servers: what the victim handled but never acknowledged is handled again by
    // the survivor (a shared state, as with the JetStream gateways, removes those). Nothing is lost.
    // (The handler records come over IPC and may trail the acknowledgements a little.)
    const union = (): Set<number> => new Set([...victim.handled, ...survivor.handled]);
    await survivor.waitUntil(() => union().size >= n, `${n} seqs handled by the two servers`).catch(() => undefined);
    const handled = union();
    for (let seq = 1; seq <= n; seq++) assert.ok(handled.has(seq), `seq ${seq} was never handled (lost)`);
    assert.equal(handled.size, n, "no seq beyond those sent");
    const survivorOrder = survivor.handled;
    for (let i = 1; i < survivorOrder.length; i++) {
      assert.ok((survivorOrder[i] as number) > (survivorOrder[i - 1] as number), "in order on the survivor");
    }
    const stats = client.stats();
    assert.equal(stats.queuedMessages, 0);
    t.diagnostic(
      `victim handled ${victim.handled.length}, survivor ${survivor.handled.length}; resends ${stats.resends}`,
    );
  } finally {
    await client.destroy();
    await a.kill();
    await b.kill();
  }
});

test("failover: a dead first server costs one short jittered delay, then the next server of the list is used", async () => {
  const clock = new ManualClock();
  const handled: number[] = [];
  const server = createServer({ onMessage: (m) => void handled.push(m.seq) });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const dead = await closedPort();
  // random() 0.999 keeps the list's order (Fisher-Yates swaps nothing) and gives the longest jitter.
  const client = connect(`tcp://127.0.0.1:${dead},tcp://127.0.0.1:${port}`, { clock, random: () => 0.999 });
  try {
    const waiting = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting");
    assert.equal(waiting.classification?.kind, "refused");
    assert.equal(Math.round(waiting.delayMs ?? -1), 50, "attempt 0 of the first pass: at most baseMs");
    const open = waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "open");
    clock.advance(Math.ceil(waiting.delayMs ?? 0));
    await open;
    assert.equal(client.serverUrl, `tcp://127.0.0.1:${port}`);
    assert.deepEqual(await client.send("hello"), { seq: 1 });
    assert.deepEqual(handled, [1]);
  } finally {
    await client.destroy();
    await server.close();
  }
});

test("failover: with every server down the attempts walk the list, and the backoff grows once per pass", async () => {
  const clock = new ManualClock();
  const ports = [await closedPort(), await closedPort(), await closedPort()];
  const urls = ports.map((p) => `tcp://127.0.0.1:${p}`);
  const tried: string[] = [];
  const onConnect = (m: unknown): void => void tried.push((m as { url: string }).url);
  dc.subscribe("outlast:client:connect", onConnect);
  const client = connect(urls, { clock, random: () => 0.999 });
  try {
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const e = await waitFor<StateChangeEvent>(client, "stateChange", (x) => x.to === "waiting");
      assert.equal(e.classification?.kind, "refused");
      delays.push(Math.round(e.delayMs ?? -1));
      const connecting = waitFor<StateChangeEvent>(client, "stateChange", (x) => x.to === "connecting");
      clock.advance(Math.ceil(e.delayMs ?? 0));
      await connecting;
    }
    assert.deepEqual(delays, [50, 50, 50, 100, 100, 100, 200]);
    const mine = tried.filter((u) => urls.includes(u));
    assert.deepEqual(
      mine.slice(0, 8),
      [...urls, ...urls, ...urls].slice(0, 8),
      "round robin, never the same twice in a row",
    );
  } finally {
    dc.unsubscribe("outlast:client:connect", onConnect);
    await client.destroy();
  }
});
