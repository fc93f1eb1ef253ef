/**
 * Exactly once across a worker's SIGKILL: each worker keeps its clients' dedup state in its own
 * directory (FileDedupState); one worker is killed while its clients stream. Nothing acknowledged
 * is lost, nothing is handled twice without `redelivery`, the worker is started again and serves
 * the same clientIds.
 */
import assert from "node:assert/strict";
import { existsSync, watch } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { connect } from "../../src/index.js";
import { workerFor } from "../../src/server/pool/affinity.js";
import { RawClient, helloFrame, openClient } from "../helpers/raw-client.js";
import { readCalls, startPool, tempDir, workerExit, workerReady } from "./pool-process.js";

const MESSAGES = 400;

test("a worker SIGKILLed mid-stream: nothing acknowledged lost, nothing run twice unflagged, the worker respawns", async (t) => {
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  const ids = Array.from({ length: 8 }, (_, i) => `crash-${i}`);
  const onVictim = ids.filter((id) => workerFor(id, 2) === 0);
  assert.ok(onVictim.length > 0 && onVictim.length < ids.length, "clients on both workers");
  // Worker 0's handler hangs on one client's seq 100 (after recording the call): killed right then, that
  // batch was handed to the handler and never recorded as done, so its resend must come flagged.
  const victim = onVictim[0] as string;
  const marker = join(dir, "hanging");
  const hangAt = { clientId: victim, seq: 100, marker };
  const { pool, port, pids } = await startPool(
    t,
    { stateDir: dir, callsFile, hangAt },
    { workers: 2, busyRetryAfterMs: 100 },
  );
  const clients = ids.map((clientId) =>
    connect(`tcp://127.0.0.1:${port}`, { clientId, backoff: { baseMs: 20, capMs: 200 } }),
  );
  t.after(() => Promise.all(clients.map((c) => c.destroy())));
  // A socket on its way to the worker when it died must be closed (its client reconnects), not left to the
  // client's connect timeout: Node forgets a handle whose ACK never came without closing the primary's copy.
  const timedOut: string[] = [];
  for (const c of clients) {
    c.on("stateChange", ({ error }) => {
      if ((error as { code?: string } | undefined)?.code === "OUTLAST_CONNECT_TIMEOUT") timedOut.push(c.clientId);
    });
  }
  const victimPid = pids.get(0) as number;
  const exited = workerExit(pool, ({ index }) => index === 0);
  const respawned = workerReady(pool, ({ index, pid }) => index === 0 && pid !== victimPid);
  const watcher = watch(dir);
  t.after(() => watcher.close());
  const hanging = new Promise<void>((resolve) => {
    const check = (): void => {
      if (existsSync(marker)) resolve();
    };
    watcher.on("change", check);
    check();
  });
  const sends = clients.flatMap((c) => Array.from({ length: MESSAGES }, (_, i) => c.send(`m${i}`)));
  await hanging;
  process.kill(victimPid, "SIGKILL");
  await Promise.all(sends);
  const exit = await exited;
  assert.equal(exit.signal, "SIGKILL");
  await respawned;
  assert.deepEqual(timedOut, [], "no client waited out its connect timeout");

  const calls = readCalls(callsFile);
  for (const clientId of ids) {
    const mine = calls.filter((c) => c.clientId === clientId);
    const seen = new Set<number>();
    for (const call of mine) {
      assert.equal(call.index, workerFor(clientId, 2), `${clientId} only on its worker`);
      if (seen.has(call.seq)) assert.ok(call.redelivery, `${clientId} seq ${call.seq} ran twice without redelivery`);
      seen.add(call.seq);
    }
    for (let seq = 1; seq <= MESSAGES; seq++)
      assert.ok(seen.has(seq), `${clientId} seq ${seq} acknowledged but never handled`);
  }
  const hung = calls.filter((c) => c.clientId === victim && c.seq === hangAt.seq);
  assert.deepEqual(
    hung.map((c) => [c.pid, c.redelivery]),
    [
      [String(victimPid), false],
      [String(pids.get(0)), true],
    ],
    "the message the killed worker was handling ran again in its replacement, flagged",
  );
  t.diagnostic(`${calls.length} handler calls, ${calls.filter((c) => c.redelivery).length} flagged redelivery`);
});

test("while a worker restarts its clients get OUTLAST_SERVER_BUSY with the busyRetryAfterMs hint; then it serves again", async (t) => {
  // A manual clock: the respawn waits (100 ms of it) until the test moves time on.
  const clock = new ManualClock();
  const { pool, port, pids } = await startPool(t, {}, { workers: 1, busyRetryAfterMs: 3000, clock });
  const exited = workerExit(pool);
  process.kill(pids.get(0) as number, "SIGKILL");
  assert.equal((await exited).signal, "SIGKILL");
  const refused = await RawClient.connect({ port });
  t.after(() => refused.destroy());
  refused.send(helloFrame({ clientId: "patient" }));
  const err = await refused.waitError();
  assert.equal(err.code, "OUTLAST_SERVER_BUSY");
  assert.ok(err.retryAfterMs >= 1500 && err.retryAfterMs <= 4500, `retryAfterMs ${err.retryAfterMs} is 3000 jittered`);
  const ready = workerReady(pool);
  clock.advance(100);
  await ready;
  const { client } = await openClient(port, "patient");
  t.after(() => client.destroy());
  client.sendMessages(1, 1);
  await client.waitAck(1);
  const stats = await pool.stats();
  assert.equal(stats.busyRejected, 1);
  assert.equal(stats.messagesProcessed, 1);
});
