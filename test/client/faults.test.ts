import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect, isOutlastError } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { ChildServer, Relay, waitFor, within } from "./helpers.js";

async function inProcessServer() {
  const handled: number[] = [];
  const server = createServer({ onMessage: (m) => void handled.push(m.seq) });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port, handled };
}

function assertExactlyOnce(handled: readonly number[], n: number, redelivered: readonly number[] = []): void {
  const counts = new Map<number, number>();
  for (const s of handled) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (let seq = 1; seq <= n; seq++) assert.ok(counts.has(seq), `seq ${seq} was never handled (lost)`);
  assert.equal(counts.size, n, "no seq beyond those sent");
  for (const [seq, c] of counts) {
    if (c > 1) assert.ok(redelivered.includes(seq), `seq ${seq} handled ${c} times without redelivery`);
  }
}

test("faults: server SIGKILLed and restarted mid-stream: nothing lost, no unflagged duplicate handler call", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "outlast-client-kill-"));
  const server = new ChildServer();
  const port = await server.start(0, join(dir, "state"));
  const client = connect(`tcp://127.0.0.1:${port}`);
  try {
    const n = 3000;
    const sends = Array.from({ length: n }, (_, i) => client.send(`m${i}`));
    for (const p of sends) p.catch(() => undefined);
    await server.waitHandled(500);
    const lostP = waitFor<StateChangeEvent>(
      client,
      "stateChange",
      (e) => e.from === "open" && e.to === "waiting",
      5000,
    );
    await server.kill();
    const lost = await lostP;
    assert.equal(lost.classification?.connection, true, `${lost.error?.message}`);
    await server.start(port, join(dir, "state"));
    await within(Promise.all(sends), 30_000, "all sends acknowledged after the restart");
    await server.waitDistinctHandled(n);
    // The only possible repeat is a crash between the handler and the record, and the server flags it.
    assertExactlyOnce(server.handled, n, server.redelivered);
    // A kill can land inside a handler call (after it recorded itself, before it returned): that one
    // call runs again, flagged. Nothing else may repeat, and nothing else is flagged.
    const repeats = server.handled.length - new Set(server.handled).size;
    assert.ok(repeats <= 1, `at most the one interrupted handler call repeats after one kill, got ${repeats}`);
    assert.ok(
      server.redelivered.length <= 1,
      `only the interrupted call is flagged, got ${server.redelivered.join(",")}`,
    );
    t.diagnostic(`handler calls repeated after SIGKILL (flagged redelivery): ${repeats}`);
    const s = client.stats();
    assert.equal(s.acknowledged, n);
    // Every seq is written once, plus once more for each resend after the reconnect.
    assert.equal(s.sent, n + s.resends, `sent ${s.sent} = ${n} + resends ${s.resends}`);
    assert.equal(s.queuedMessages, 0);
  } finally {
    await client.destroy();
    await server.kill();
    await rm(dir, { recursive: true, force: true });
  }
});

test("faults: RST mid-stream: reconnect, resend, the server removes duplicates", async () => {
  const { server, port, handled } = await inProcessServer();
  const relay = new Relay(port);
  const relayPort = await relay.listen();
  const client = connect(`tcp://127.0.0.1:${relayPort}`);
  try {
    const n = 5000;
    const sends = Array.from({ length: n }, (_, i) => client.send(String(i)));
    for (const p of sends) p.catch(() => undefined);
    await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "open", 5000);
    const lostP = waitFor<StateChangeEvent>(
      client,
      "stateChange",
      (e) => e.from === "open" && e.to === "waiting",
      5000,
    );
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (handled.length > 0) resolve();
          else setImmediate(check);
        };
        check();
      }),
      5000,
      "first message handled",
    );
    relay.resetClients();
    const lost = await lostP;
    assert.equal(lost.classification?.kind, "reset", `${lost.error?.message}`);
    assert.equal(lost.classification?.code, "ECONNRESET");
    await within(Promise.all(sends), 10_000, "sends after RST");
    assertExactlyOnce(handled, n);
    assert.equal(client.stats().reconnects["reset"], 1);
  } finally {
    await client.destroy();
    await relay.close();
    await server.close();
  }
});

test("faults: a half-open link (relay holds the sockets, forwards nothing) is found within heartbeatTimeoutMs", async () => {
  const { server, port, handled } = await inProcessServer();
  const relay = new Relay(port);
  const relayPort = await relay.listen();
  const client = connect(`tcp://127.0.0.1:${relayPort}`, { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400 });
  try {
    await within(client.send("before"), 5000, "first send");
    relay.mode = "blackhole";
    const started = performance.now();
    const pending = client.send("during");
    pending.catch(() => undefined);
    const lost = await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 5000);
    const elapsed = performance.now() - started;
    assert.ok(isOutlastError(lost.error, "OUTLAST_HEARTBEAT_TIMEOUT"), String(lost.error));
    assert.equal(lost.classification?.kind, "timeout");
    assert.equal(lost.classification?.connection, true);
    // A lower bound only (a loaded machine runs timers late); waitFor's deadline catches a detection that never comes.
    assert.ok(elapsed >= 350, `detected after ${elapsed} ms (bound 400 ms)`);
    relay.mode = "forward";
    await within(pending, 5000, "send after the link is back");
    assert.deepEqual(handled, [1, 2]);
  } finally {
    await client.destroy();
    await relay.close();
    await server.close();
  }
});

test("faults: acks lost on the way back: after reconnect the processed messages are not handled again", async () => {
  const { server, port, handled } = await inProcessServer();
  const relay = new Relay(port);
  const relayPort = await relay.listen();
  const client = connect(`tcp://127.0.0.1:${relayPort}`, { heartbeatIntervalMs: 5000, heartbeatTimeoutMs: 20_000 });
  try {
    await within(client.send("0"), 5000, "first send");
    relay.mode = "dropDown";
    const sends = Array.from({ length: 50 }, (_, i) => client.send(String(i + 1)));
    for (const p of sends) p.catch(() => undefined);
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (handled.length >= 51) resolve();
          else setImmediate(check);
        };
        check();
      }),
      5000,
      "server handled all 51",
    );
    assert.equal(client.stats().acknowledged, 1, "no ack got through");
    relay.mode = "forward";
    relay.cutAll();
    await within(Promise.all(sends), 5000, "sends after reconnect");
    assertExactlyOnce(handled, 51);
    assert.equal(client.stats().duplicatesSkipped, 50, "covered by WELCOME.lastSeq, counted as duplicates skipped");
  } finally {
    await client.destroy();
    await relay.close();
    await server.close();
  }
});

test("faults: with default options the first ack arrives <= 1 s after the server is reachable again", async () => {
  const first = await inProcessServer();
  const port = first.port;
  const client = connect(`tcp://127.0.0.1:${port}`);
  try {
    await within(client.send("up"), 5000, "first send");
    await first.server.close();
    // Let the backoff climb to its cap: 6 failed attempts (50 * 2^4 = 800 ms ceiling).
    let waits = 0;
    await waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting" && ++waits >= 6, 20_000);
    const pending = client.send("back");
    pending.catch(() => undefined);
    const handled: number[] = [];
    const second = createServer({ onMessage: (m) => void handled.push(m.seq) });
    await second.listen({ port, host: "127.0.0.1" });
    const reachable = performance.now();
    try {
      await within(pending, 5000, "send after restart");
      const elapsed = performance.now() - reachable;
      assert.ok(elapsed <= 1000, `first ack ${elapsed} ms after the server came back`);
      assert.deepEqual(handled, [2]);
    } finally {
      await client.destroy();
      await second.close();
    }
  } finally {
    await client.destroy();
  }
});
