/**
 * createServerPool: several worker processes behind one port, each clientId always on the same
 * worker (real child processes, real sockets on port 0, the real client through a fault proxy).
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { join } from "node:path";
import { test } from "node:test";
import type { Client } from "../../src/index.js";
import { connect } from "../../src/index.js";
import { createProxy } from "../../src/proxy/index.js";
import { createServer, createServerPool, poolWorker, serveFromPool } from "../../src/server/index.js";
import { FileDedupState } from "../../src/server/file-dedup-state.js";
import { workerFor } from "../../src/server/pool/affinity.js";
import { RawClient } from "../helpers/raw-client.js";
import { POOL_WORKER, readCalls, startPool, tempDir, workerExit } from "./pool-process.js";

/** Resolves once every client has left "open" (its link was cut). */
function allLeftOpen(clients: readonly Client[]): Promise<void> {
  return Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          const onChange = ({ from }: { from: string }): void => {
            if (from !== "open") return;
            c.off("stateChange", onChange);
            resolve();
          };
          c.on("stateChange", onChange);
        }),
    ),
  ).then(() => undefined);
}

test("each clientId is served by exactly one worker, across cut connections and reconnects", async (t) => {
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  const { pool, port } = await startPool(t, { callsFile });
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port } });
  t.after(() => proxy.destroy());
  const { port: proxyPort } = await proxy.listen();
  const ids = Array.from({ length: 30 }, (_, i) => `robot-${i}`);
  const clients = ids.map((clientId) =>
    connect(`tcp://127.0.0.1:${proxyPort}`, { clientId, backoff: { baseMs: 20, capMs: 100 } }),
  );
  t.after(() => Promise.all(clients.map((c) => c.destroy())));
  await Promise.all(clients.map((c, i) => c.send(`first from ${i}`)));
  // Cut every link (RST both ways); each client reconnects on its own and sends again.
  const cut = allLeftOpen(clients);
  const reset = proxy.addFault({ kind: "reset", direction: "both" });
  await cut;
  proxy.removeFault(reset.id);
  await Promise.all(clients.map((c, i) => c.send(`second from ${i}`)));
  const calls = readCalls(callsFile);
  const byClient = new Map<string, Set<string>>();
  for (const call of calls) {
    const pids = byClient.get(call.clientId) ?? new Set();
    pids.add(call.pid);
    byClient.set(call.clientId, pids);
    assert.equal(call.index, workerFor(call.clientId, 3), `${call.clientId} served by its hash's worker`);
  }
  assert.deepEqual([...byClient.keys()].sort(), [...ids].sort());
  for (const [clientId, pids] of byClient)
    assert.equal(pids.size, 1, `${clientId} was served by ${[...pids].join(", ")}`);
  assert.equal(new Set(calls.map((c) => c.pid)).size, 3, "30 clientIds spread over all 3 workers");
  const stats = await pool.stats();
  assert.equal(stats.messagesProcessed, 60);
  assert.ok(stats.connectionsAccepted >= 60, `${stats.connectionsAccepted} connections accepted`);
});

test("authenticate binding a clientId of another worker is refused (OUTLAST_AUTH_REJECTED), never served", async (t) => {
  // "victim" belongs to some worker; pick a HELLO clientId that hashes to another one, and one to the same one.
  const owner = workerFor("victim", 3);
  const ids = Array.from({ length: 50 }, (_, i) => `asker-${i}`);
  const foreign = ids.find((id) => workerFor(id, 3) !== owner) as string;
  const sameWorker = ids.find((id) => workerFor(id, 3) === owner) as string;
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  const { pool, port } = await startPool(t, {
    callsFile,
    authenticateAs: { [foreign]: "victim", [sameWorker]: "victim" },
  });
  const refused = await RawClient.connect({ port });
  t.after(() => refused.destroy());
  refused.send({
    type: "hello",
    minVersion: 1,
    maxVersion: 2,
    heartbeatIntervalMs: 0,
    maxFrameBytes: 1 << 20,
    clientId: foreign,
    token: new Uint8Array(),
  });
  const err = await refused.waitError();
  assert.equal(err.code, "OUTLAST_AUTH_REJECTED");
  assert.match(err.message, /belongs to pool worker \d, not to this one/);
  await refused.waitClosed();
  // Mapped to a clientId of the same worker: served (the mapping itself is allowed).
  const served = await RawClient.connect({ port });
  t.after(() => served.destroy());
  const welcome = await served.hello({ clientId: sameWorker });
  assert.equal(welcome.clientId, "victim");
  served.sendMessages(1, 2);
  await served.waitAck(2);
  const calls = readCalls(callsFile);
  assert.deepEqual(
    calls.map((c) => [c.index, c.clientId, c.seq]),
    [
      [owner, "victim", 1],
      [owner, "victim", 2],
    ],
  );
  const stats = await pool.stats();
  assert.equal(stats.authRejected, 1);
});

test("a worker that cannot open its state rejects listen() with its own error; the other workers are stopped", async (t) => {
  const dir = tempDir(t);
  // This process holds worker 1's state directory, so worker 1 cannot open it.
  const held = new FileDedupState(join(dir, "worker-1"));
  await held.open();
  t.after(() => held.close(false));
  const pool = createServerPool({ workers: 3, module: POOL_WORKER, args: [JSON.stringify({ stateDir: dir })] });
  t.after(() => pool.destroy());
  const exits: number[] = [];
  pool.on("workerExit", ({ index }) => exits.push(index));
  await assert.rejects(
    pool.listen({ port: 0, host: "127.0.0.1" }),
    (err: Error & { code?: string; details?: { dir?: string } }) => {
      assert.equal(err.code, "OUTLAST_STATE_LOCKED");
      assert.equal(err.details?.dir, join(dir, "worker-1"));
      return true;
    },
  );
  assert.deepEqual(exits.sort(), [0, 1, 2], "every worker process exited");
  await assert.rejects(pool.listen(), { code: "OUTLAST_STATE_LOCKED" }, "listen() again: the same answer");
});

test("a worker server with tls is refused: listen() rejects with OUTLAST_INVALID_OPTION naming tls", async (t) => {
  const pool = createServerPool({ workers: 1, module: POOL_WORKER, args: [JSON.stringify({ tls: true })] });
  t.after(() => pool.destroy());
  await assert.rejects(pool.listen({ port: 0, host: "127.0.0.1" }), {
    code: "OUTLAST_INVALID_OPTION",
    details: { option: "tls" },
  });
});

test("a worker script that dies before serveFromPool rejects listen() naming module", async (t) => {
  const pool = createServerPool({ workers: 2, module: join(import.meta.dirname, "fixtures", "no-such-worker.js") });
  t.after(() => pool.destroy());
  const exited = workerExit(pool);
  await assert.rejects(pool.listen({ port: 0, host: "127.0.0.1" }), {
    code: "OUTLAST_INVALID_OPTION",
    details: { option: "module" },
  });
  assert.equal((await exited).code, 1);
});

test("invalid options throw OUTLAST_INVALID_OPTION naming the option", () => {
  const bad: [string, Record<string, unknown>][] = [
    ["workers", { workers: 0 }],
    ["workers", { workers: 1.5 }],
    ["workers", { workers: "2" }],
    ["workers", { module: POOL_WORKER }],
    ["module", { workers: 2, module: "" }],
    ["module", { workers: 2, module: new URL("http://example.test/w.js") }],
    ["helloWaitMs", { workers: 2, module: POOL_WORKER, helloWaitMs: 0 }],
    ["busyRetryAfterMs", { workers: 2, module: POOL_WORKER, busyRetryAfterMs: -1 }],
    ["execArgv", { workers: 2, module: POOL_WORKER, execArgv: "--inspect" }],
    ["args", { workers: 2, module: POOL_WORKER, args: [1] }],
  ];
  for (const [option, options] of bad) {
    assert.throws(
      () => createServerPool({ module: POOL_WORKER, ...options } as never),
      (err: Error & { code?: string; details?: { option?: string } }) => {
        assert.equal(err.code, "OUTLAST_INVALID_OPTION", JSON.stringify(options));
        assert.equal(err.details?.option, option, JSON.stringify(options));
        assert.match(err.message, new RegExp(option));
        return true;
      },
    );
  }
});

test("outside a pool: poolWorker() is undefined and serveFromPool rejects naming module", async () => {
  assert.equal(poolWorker(), undefined);
  await assert.rejects(serveFromPool(createServer({ onMessage: () => {} })), {
    code: "OUTLAST_INVALID_OPTION",
    details: { option: "module" },
  });
});

test("a HELLO that comes after helloWaitMs went round-robin: another worker's clientId is turned away to retry soon", async (t) => {
  const { pool, port } = await startPool(t, {}, { helloWaitMs: 1 });
  // The hand-off of a socket that sent nothing within helloWaitMs (published on the primary: this process).
  const handedOn = new Promise<{ worker: number; clientId: string | undefined }>((resolve) => {
    const onHandoff = (message: unknown): void => {
      unsubscribe("outlast:pool:handoff", onHandoff);
      resolve(message as { worker: number; clientId: string | undefined });
    };
    subscribe("outlast:pool:handoff", onHandoff);
  });
  const late = await RawClient.connect({ port });
  t.after(() => late.destroy());
  const { worker, clientId } = await handedOn;
  assert.equal(clientId, undefined, "handed on without a HELLO");
  const elsewhere = Array.from({ length: 50 }, (_, i) => `late-${i}`).find(
    (id) => workerFor(id, 3) !== worker,
  ) as string;
  const welcome = late.hello({ clientId: elsewhere });
  await assert.rejects(welcome, (err: Error & { frame?: { code: string; retryAfterMs: number; message: string } }) => {
    assert.equal(err.frame?.code, "OUTLAST_SERVER_BUSY");
    assert.equal(err.frame?.retryAfterMs, 250);
    assert.match(err.frame?.message ?? "", /its HELLO came late and was not routed; reconnect/);
    return true;
  });
  await late.waitClosed();
  const stats = await pool.stats();
  assert.equal(stats.authRejected, 0, "a late HELLO is not an authentication failure");
  assert.equal(stats.clients, 0, "and the clientId was not bound on the wrong worker");
});
