/**
 * Stopping a pool: drain() gives every client its last ACK and GOODBYE and resolves once every
 * worker process exited; destroy() stops at once. Workers ignore SIGINT/SIGTERM (the primary decides).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect as netConnect } from "node:net";
import { once } from "node:events";
import { test } from "node:test";
import type { Frame } from "../../src/protocol/frames.js";
import { openClient } from "../helpers/raw-client.js";
import type { RawClient } from "../helpers/raw-client.js";
import { startPool } from "./pool-process.js";

/** Whether `pid` is a running process (a zombie, exited but not yet reaped by whoever adopted it, is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; S is Z for a zombie.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc: kill(0) said it exists
  }
}

async function clients(port: number, n: number): Promise<RawClient[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => openClient(port, `drained-${i}`).then(({ client }) => client)),
  );
}

test("drain(): each client gets its ACK and GOODBYE, drain resolves once every worker exited, the port is closed", async (t) => {
  const { pool, port, pids } = await startPool(t, {});
  const conns = await clients(port, 9);
  t.after(() => conns.forEach((c) => c.destroy()));
  for (const c of conns) c.sendMessages(1, 3);
  await Promise.all(conns.map((c) => c.waitAck(3)));
  const exits: { index: number; code: number | null }[] = [];
  pool.on("workerExit", ({ index, code }) => exits.push({ index, code }));
  await pool.drain({ windowMs: 100 });
  for (const c of conns) {
    await c.waitFor((f: Frame): f is Frame => f.type === "goodbye");
    await c.waitClosed();
  }
  assert.deepEqual(
    exits.sort((a, b) => a.index - b.index),
    [0, 1, 2].map((index) => ({ index, code: 0 })),
  );
  for (const pid of pids.values()) assert.equal(alive(pid), false, `worker ${pid} exited`);
  const refused = netConnect({ port, host: "127.0.0.1" });
  const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
  assert.equal(err.code, "ECONNREFUSED");
  await pool.close(); // idempotent
});

test("destroy(): connections are cut at once, every worker exits", async (t) => {
  const { pool, port, pids } = await startPool(t, {});
  const conns = await clients(port, 3);
  t.after(() => conns.forEach((c) => c.destroy()));
  await pool.destroy();
  await Promise.all(conns.map((c) => c.waitClosed()));
  for (const c of conns) assert.equal(c.received.filter((f) => f.type === "goodbye").length, 0);
  for (const pid of pids.values()) assert.equal(alive(pid), false, `worker ${pid} exited`);
});

test("a worker ignores SIGINT and SIGTERM while in a pool: it keeps serving", async (t) => {
  const { pool, port, pids } = await startPool(t, {}, { workers: 1 });
  const exits: unknown[] = [];
  pool.on("workerExit", (info) => exits.push(info));
  const pid = pids.get(0) as number;
  process.kill(pid, "SIGINT");
  process.kill(pid, "SIGTERM");
  const { client } = await openClient(port, "after-signals");
  t.after(() => client.destroy());
  client.sendMessages(1, 1);
  await client.waitAck(1);
  assert.equal((await pool.stats()).messagesProcessed, 1);
  assert.deepEqual(exits, []);
  assert.equal(alive(pid), true);
});

test("the primary SIGKILLed: its workers close their servers and exit", async (t) => {
  const primary = spawn(process.execPath, [join(import.meta.dirname, "fixtures", "pool-primary.js")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => primary.kill("SIGKILL"));
  const stdout = primary.stdout;
  const lines = createInterface({ input: stdout });
  const [line] = (await once(lines, "line")) as [string];
  const { port, pids } = JSON.parse(line) as { port: number; pids: number[] };
  assert.equal(pids.length, 2);
  const { client } = await openClient(port, "orphan");
  t.after(() => client.destroy());
  // The workers hold the same stdout pipe: it ends once the primary and both workers are gone.
  const ended = once(stdout, "close");
  primary.kill("SIGKILL");
  await ended;
  // The pipe can close while a worker is still on its way out (Node 22 closes stdio first): wait for the processes.
  const deadline = performance.now() + 10_000;
  while (pids.some(alive) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} exited`);
  // Its server closed (graceful: GOODBYE) rather than vanishing.
  await client.waitFor((f: Frame): f is Frame => f.type === "goodbye");
});
