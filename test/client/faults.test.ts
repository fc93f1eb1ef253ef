import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect, isOutlastError } from "../../src/index.js";
import { ManualClock } from "../../src/errors/clock.js";
import { FaultProxy, type FaultHandle } from "../../src/proxy/index.js";
import { createServer } from "../../src/server/index.js";
import { ChildServer, waitFor, within } from "./helpers.js";

/** The project's fault proxy in front of `port`; returns it and the port to connect to. */
async function proxyTo(port: number): Promise<{ proxy: FaultProxy; port: number }> {
  const proxy = new FaultProxy({ upstream: { host: "127.0.0.1", port } });
  return { proxy, port: (await proxy.listen()).port };
}

/** Adds `fault` and removes it as soon as it acted once (so the reconnect that follows goes through). */
function once(proxy: FaultProxy, fault: Parameters<FaultProxy["addFault"]>[0]): FaultHandle {
  // A fault that acts at once on open connections does so inside addFault(): listen first.
  const applied = new Set<string>();
  const removeWhenApplied = (id: string): void => {
    if (!applied.has(id)) return;
    proxy.off("faultApplied", onApplied);
    proxy.removeFault(id);
  };
  const added: { id?: string } = {};
  const onApplied = (e: { fault: { id: string } }): void => {
    applied.add(e.fault.id);
    if (added.id !== undefined) removeWhenApplied(added.id);
  };
  proxy.on("faultApplied", onApplied);
  const handle = proxy.addFault(fault);
  added.id = handle.id;
  removeWhenApplied(handle.id);
  return handle;
}

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
  const relay = await proxyTo(port);
  const client = connect(`tcp://127.0.0.1:${relay.port}`);
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
    // RST to the client, FIN to the server: the client's socket sees ECONNRESET.
    once(relay.proxy, { kind: "reset", direction: "downstream" });
    const lost = await lostP;
    assert.equal(lost.classification?.kind, "reset", `${lost.error?.message}`);
    assert.equal(lost.classification?.code, "ECONNRESET");
    await within(Promise.all(sends), 10_000, "sends after RST");
    assertExactlyOnce(handled, n);
    assert.equal(client.stats().reconnects["reset"], 1);
    assert.equal(relay.proxy.stats().faults.reset, 1);
  } finally {
    await client.destroy();
    await relay.proxy.destroy();
    await server.close();
  }
});

test("faults: a half-open link (the proxy holds the sockets, forwards nothing) is found within heartbeatTimeoutMs", async () => {
  const { server, port, handled } = await inProcessServer();
  const relay = await proxyTo(port);
  const client = connect(`tcp://127.0.0.1:${relay.port}`, { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400 });
  try {
    await within(client.send("before"), 5000, "first send");
    const blackhole = relay.proxy.addFault({ kind: "blackhole" });
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
    // What the blackhole held (the old link's bytes) flows now too: the server's dedup keeps seq 2 once.
    blackhole.remove();
    await within(pending, 5000, "send after the link is back");
    assert.deepEqual(handled, [1, 2]);
  } finally {
    await client.destroy();
    await relay.proxy.destroy();
    await server.close();
  }
});

test("faults: acks lost on the way back: after reconnect the processed messages are not handled again", async () => {
  const { server, port, handled } = await inProcessServer();
  const relay = await proxyTo(port);
  const client = connect(`tcp://127.0.0.1:${relay.port}`, { heartbeatIntervalMs: 5000, heartbeatTimeoutMs: 20_000 });
  try {
    await within(client.send("0"), 5000, "first send");
    // Server -> client held: the ACKs never arrive on this link.
    const noAcks = relay.proxy.addFault({ kind: "blackhole", direction: "downstream" });
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
    // The link breaks with the ACKs still held (dropped with it); the next link is clean.
    const lostP = waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 5000);
    once(relay.proxy, { kind: "reset", direction: "both" });
    await lostP;
    noAcks.remove();
    await within(Promise.all(sends), 5000, "sends after reconnect");
    assertExactlyOnce(handled, 51);
    assert.equal(client.stats().duplicatesSkipped, 50, "covered by WELCOME.lastSeq, counted as duplicates skipped");
  } finally {
    await client.destroy();
    await relay.proxy.destroy();
    await server.close();
  }
});

test("faults: with default options the first ack arrives <= 1 s after the server is reachable again", async () => {
  // Time is a ManualClock (backoff waits, heartbeats): the bound is counted in clock time, not
  // measured on a machine that may be loaded. Jitter at its top (random ~1): the longest waits.
  const clock = new ManualClock();
  const first = await inProcessServer();
  const port = first.port;
  const client = connect(`tcp://127.0.0.1:${port}`, { clock, random: () => 0.999_999 });
  try {
    await within(client.send("up"), 5000, "first send");
    const waiting = (): Promise<StateChangeEvent> =>
      waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "waiting", 5000);
    let next = waiting();
    await first.server.close();
    // Let the backoff climb to its cap: 6 failed attempts (50 * 2^4 = 800 ms ceiling); each wait is
    // ended by moving the clock past the cap.
    for (let attempt = 0; attempt < 6; attempt++) {
      await next;
      next = waiting();
      clock.advance(800);
    }
    await next;
    const pending = client.send("back");
    pending.catch(() => undefined);
    const handled: number[] = [];
    const second = createServer({ onMessage: (m) => void handled.push(m.seq) });
    await second.listen({ port, host: "127.0.0.1" });
    try {
      // The server is reachable: 1 s of clock time must be enough for the client to be back.
      const open = waitFor<StateChangeEvent>(client, "stateChange", (e) => e.to === "open", 5000);
      clock.advance(1000);
      await open;
      await within(pending, 5000, "send after restart");
      assert.deepEqual(handled, [2]);
    } finally {
      await client.destroy();
      await second.close();
    }
  } finally {
    await client.destroy();
  }
});
