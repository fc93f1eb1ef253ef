/**
 * createServerPool: several worker processes behind one port, each clientId always on the same
 * worker (real child processes, real sockets on port 0, the real client).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { connect } from "../../src/index.js";
import { createServerPool } from "../../src/server/index.js";
import type { ServerPool, ServerPoolOptions } from "../../src/server/index.js";

const WORKER = join(import.meta.dirname, "fixtures", "pool-worker.js");

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-pool-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startPool(
  t: TestContext,
  config: Record<string, unknown>,
  options: Partial<ServerPoolOptions> = {},
): Promise<{ pool: ServerPool; port: number }> {
  const pool = createServerPool({ workers: 3, module: WORKER, args: [JSON.stringify(config)], ...options });
  t.after(() => pool.destroy());
  const { port } = await pool.listen({ port: 0, host: "127.0.0.1" });
  return { pool, port };
}

/** callsFile lines: pid clientId seq redelivery. */
function calls(file: string): { pid: string; clientId: string; seq: number; redelivery: boolean }[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const [pid, clientId, seq, redelivery] = l.split(" ");
      return { pid: pid as string, clientId: clientId as string, seq: Number(seq), redelivery: redelivery === "1" };
    });
}

test("each clientId is served by exactly one worker, across reconnects", async (t) => {
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  const { pool, port } = await startPool(t, { callsFile });
  const ids = Array.from({ length: 30 }, (_, i) => `robot-${i}`);
  for (let round = 0; round < 2; round++) {
    // Each round is a new connection per client (the first round's were closed).
    const clients = ids.map((clientId) => connect(`tcp://127.0.0.1:${port}`, { clientId }));
    await Promise.all(clients.map((c, i) => c.send(`round ${round} from ${i}`).then(() => c.flush())));
    await Promise.all(clients.map((c) => c.close()));
  }
  const byClient = new Map<string, Set<string>>();
  for (const call of calls(callsFile)) {
    const pids = byClient.get(call.clientId) ?? new Set();
    pids.add(call.pid);
    byClient.set(call.clientId, pids);
  }
  assert.equal(byClient.size, ids.length);
  for (const [clientId, pids] of byClient)
    assert.equal(pids.size, 1, `${clientId} was served by ${[...pids].join(", ")}`);
  const workersUsed = new Set([...byClient.values()].map((p) => [...p][0]));
  assert.equal(workersUsed.size, 3, "30 clientIds spread over all 3 workers");
  const stats = await pool.stats();
  assert.equal(stats.messagesProcessed, 60);
  assert.equal(stats.connectionsAccepted, 60);
});
