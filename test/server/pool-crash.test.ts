/**
 * Exactly once across a worker's SIGKILL: each worker keeps its clients' dedup state in its own
 * directory (FileDedupState); one worker is killed while its clients stream. Nothing acknowledged
 * is lost, nothing is handled twice without `redelivery`, the worker is started again and serves
 * the same clientIds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../../src/index.js";
import { workerFor } from "../../src/server/pool/affinity.js";
import { readCalls, startPool, tempDir, workerExit, workerReady } from "./pool-process.js";

const MESSAGES = 400;

test("a worker SIGKILLed mid-stream: nothing acknowledged lost, nothing run twice unflagged, the worker respawns", async (t) => {
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  const { pool, port, pids } = await startPool(t, { stateDir: dir, callsFile }, { workers: 2, busyRetryAfterMs: 100 });
  const ids = Array.from({ length: 8 }, (_, i) => `crash-${i}`);
  const onVictim = ids.filter((id) => workerFor(id, 2) === 0);
  assert.ok(onVictim.length > 0 && onVictim.length < ids.length, "clients on both workers");
  const clients = ids.map((clientId) =>
    connect(`tcp://127.0.0.1:${port}`, { clientId, backoff: { baseMs: 20, capMs: 200 } }),
  );
  t.after(() => Promise.all(clients.map((c) => c.destroy())));
  const victimPid = pids.get(0) as number;
  const exited = workerExit(pool, ({ index }) => index === 0);
  const respawned = workerReady(pool, ({ index, pid }) => index === 0 && pid !== victimPid);
  // Kill worker 0 once its first client had 50 messages acknowledged (the rest are still to come).
  const first = clients[ids.indexOf(onVictim[0] as string)];
  let acked = 0;
  let ackedAfterKill = 0;
  first?.on("delivered", () => {
    if (++acked === 50) process.kill(victimPid, "SIGKILL");
    else if (acked > 50) ackedAfterKill++;
  });
  await Promise.all(clients.flatMap((c) => Array.from({ length: MESSAGES }, (_, i) => c.send(`m${i}`))));
  const exit = await exited;
  assert.equal(exit.signal, "SIGKILL");
  await respawned;
  assert.ok(ackedAfterKill > 0, "the kill came mid-stream");

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
  const victimPids = new Set(calls.filter((c) => c.index === 0).map((c) => c.pid));
  assert.equal(victimPids.size, 2, "worker 0's clients were served by the killed process, then by its replacement");
});
