/**
 * The batch handler (onMessages): one client's pipelined messages per call, in order,
 * acknowledged after the call; dedup as with onMessage; a failed batch is not
 * acknowledged and comes back one message per call (so the poison policy finds the
 * message that fails); a SIGKILL mid-batch loses nothing acknowledged and runs nothing
 * twice unflagged.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { createServer } from "../../src/server/index.js";
import type { IncomingMessage, ServerOptions } from "../../src/server/index.js";
import { openClient } from "../helpers/raw-client.js";
import { startCrashServer } from "./crash-server-process.js";

async function start(t: TestContext, options: Omit<ServerOptions, "onMessage">) {
  const server = createServer(options);
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-batch-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("onMessages gets a client's pipelined messages in order, several per call, and the ACK comes after the call", async (t) => {
  const calls: number[][] = [];
  let ackedWhenReturning = -1;
  let lastAck = 0;
  const { port } = await start(t, {
    onMessages: async (batch) => {
      calls.push(batch.map((m) => m.seq));
      assert.ok(batch.every((m) => m.clientId === "b" && !m.redelivery));
      await new Promise((resolve) => setImmediate(resolve));
      ackedWhenReturning = Math.max(ackedWhenReturning, lastAck);
    },
  });
  const { client } = await openClient(port, "b");
  t.after(() => client.destroy());
  client.socket.on("data", () => {
    for (const f of client.received) if (f.type === "ack") lastAck = Math.max(lastAck, f.seq);
  });
  client.sendMessages(1, 500);
  await client.waitAck(500);
  assert.deepEqual(
    calls.flat(),
    Array.from({ length: 500 }, (_, i) => i + 1),
    "every seq once, in order",
  );
  assert.ok(calls.length < 500, `batched: ${calls.length} calls for 500 messages`);
  assert.ok(ackedWhenReturning < 500, "no ACK covered the last batch before its call finished");
  for (const call of calls.slice(0, -1)) assert.ok((call.at(-1) as number) <= 500);
});

test("onMessages: resends already processed are skipped as duplicates, never handed over again", async (t) => {
  const seen: number[] = [];
  const { server, port } = await start(t, { onMessages: (batch) => void seen.push(...batch.map((m) => m.seq)) });
  const a = await openClient(port, "d");
  a.client.sendMessages(1, 20);
  await a.client.waitAck(20);
  a.client.destroy();
  const b = await openClient(port, "d");
  t.after(() => b.client.destroy());
  assert.equal(b.welcome.lastSeq, 20);
  b.client.sendMessages(1, 25);
  const { duplicates } = await b.client.waitAck(25);
  assert.equal(duplicates, 20);
  assert.deepEqual(
    seen,
    Array.from({ length: 25 }, (_, i) => i + 1),
  );
  assert.equal(server.stats().messagesProcessed, 25);
});

test("onMessages: a failed batch is not acknowledged; its messages come back one per call, flagged, until past it", async (t) => {
  const calls: IncomingMessage[][] = [];
  let failed = false;
  const errors: { seq: number; lastSeq: number; attempt: number }[] = [];
  const { server, port } = await start(t, {
    onMessages: (batch) => {
      calls.push([...batch]);
      if (!failed && batch.some((m) => m.seq === 5)) {
        failed = true;
        throw new Error("disk full");
      }
    },
  });
  server.on("handlerError", (_err, info) => errors.push(info));
  const a = await openClient(port, "f");
  a.client.sendMessages(1, 10);
  const err = await a.client.waitError();
  assert.equal(err.code, "OUTLAST_HANDLER_FAILED");
  const failedCall = calls.at(-1) as IncomingMessage[];
  const first = (failedCall[0] as IncomingMessage).seq;
  const last = (failedCall.at(-1) as IncomingMessage).seq;
  assert.ok(first <= 5 && last >= 5);
  const acks = a.client.received.filter((f) => f.type === "ack");
  const acked = acks.length === 0 ? 0 : (acks.at(-1) as { seq: number }).seq;
  assert.equal(acked, first - 1, "nothing of the failed batch is acknowledged");
  assert.deepEqual(errors, [{ clientId: "f", seq: first, lastSeq: last, attempt: 1 }]);
  a.client.destroy();

  calls.length = 0;
  const b = await openClient(port, "f");
  t.after(() => b.client.destroy());
  assert.equal(b.welcome.lastSeq, first - 1);
  b.client.sendMessages(first, 10 - first + 1);
  await b.client.waitAck(10);
  const sizes = calls.map((c) => c.length);
  const singles = last - first + 1;
  assert.deepEqual(sizes.slice(0, singles), Array(singles).fill(1), "one message per call through the failed range");
  const flagged = calls
    .flat()
    .filter((m) => m.redelivery)
    .map((m) => m.seq);
  assert.deepEqual(
    flagged,
    Array.from({ length: singles }, (_, i) => first + i),
    "exactly the seqs of the failed batch are flagged",
  );
  assert.deepEqual(
    calls.flat().map((m) => m.seq),
    Array.from({ length: 10 - first + 1 }, (_, i) => first + i),
  );
});

test("onMessages with maxHandlerAttempts: the one poison message is dead-lettered, the rest of its batch is handled", async (t) => {
  const handled: number[] = [];
  const dead: number[] = [];
  const { port } = await start(t, {
    maxHandlerAttempts: 2,
    onDeadLetter: (m) => void dead.push(m.seq),
    onMessages: (batch) => {
      if (batch.some((m) => m.seq === 4)) throw new Error("poison");
      handled.push(...batch.map((m) => m.seq));
    },
  });
  for (let round = 0; round < 10; round++) {
    const { client, welcome } = await openClient(port, "p");
    const from = welcome.lastSeq + 1;
    if (from > 8) {
      client.destroy();
      break;
    }
    client.sendMessages(from, 8 - from + 1);
    let end: "acked" | "error" | undefined;
    while (end === undefined) {
      const f = await client.next();
      if (f.type === "ack" && f.seq === 8) end = "acked";
      else if (f.type === "error") end = "error";
    }
    client.destroy();
    if (end === "acked") break;
  }
  assert.deepEqual(dead, [4]);
  assert.deepEqual(handled, [1, 2, 3, 5, 6, 7, 8]);
});

test("onMessage and onMessages together, or neither, is an invalid option naming it", () => {
  assert.throws(
    () => createServer({ onMessage: () => {}, onMessages: () => {} }),
    (err: unknown) => isOutlastError(err, "OUTLAST_INVALID_OPTION") && /onMessages/.test((err as Error).message),
  );
  assert.throws(
    () => createServer({}),
    (err: unknown) => isOutlastError(err, "OUTLAST_INVALID_OPTION") && /onMessage/.test((err as Error).message),
  );
});

test("onMessages, SIGKILL at random moments of a pipelined stream, 8 times: nothing acknowledged is lost, nothing runs twice unflagged", async (t) => {
  const seed = Number(process.env["OUTLAST_TEST_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (replay with OUTLAST_TEST_SEED=${seed})`);
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  const clientIds = ["k1", "k2"];
  const total = 100_000;
  const rounds = 8;
  const acked = new Map(clientIds.map((id) => [id, 0]));
  for (let round = 0; round <= rounds; round++) {
    const { child, port } = await startCrashServer(t, "batch", join(dir, "state"), callsFile, round);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const clients = await Promise.all(clientIds.map((id) => openClient(port, id)));
    for (const [i, id] of clientIds.entries()) {
      const { client, welcome } = clients[i] as Awaited<ReturnType<typeof openClient>>;
      const from = (acked.get(id) as number) + 1;
      assert.ok(welcome.lastSeq >= from - 1, `WELCOME lastSeq ${welcome.lastSeq} is below an ACK we got (${from - 1})`);
      for (let seq = from; seq <= total; seq += 1000)
        client.sendMessages(seq, Math.min(1000, total - seq + 1), `${id}:${seq}`.padEnd(64, "."));
    }
    if (round < rounds) {
      // The moment of the kill is random by design (a real SIGKILL lands anywhere); the seed replays the choice.
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.floor(random() * 40)));
      child.kill("SIGKILL");
      await exited;
    } else {
      await Promise.all(
        clients.map(({ client, welcome }) =>
          (welcome.lastSeq >= total ? Promise.resolve() : client.waitAck(total, 30_000)).catch((err: unknown) => {
            const last = client.received.slice(-3);
            throw new Error(`${(err as Error).message}; last frames ${JSON.stringify(last)}`);
          }),
        ),
      );
    }
    for (const [i, id] of clientIds.entries()) {
      const { client } = clients[i] as Awaited<ReturnType<typeof openClient>>;
      for (const f of client.received) if (f.type === "ack" && f.seq > (acked.get(id) as number)) acked.set(id, f.seq);
      client.destroy();
    }
    if (round === rounds) {
      child.kill("SIGKILL");
      await exited;
    }
  }
  let repeats = 0;
  const calls = new Map<string, { round: number; seq: number; redelivery: boolean }[]>(clientIds.map((id) => [id, []]));
  for (const line of readFileSync(callsFile, "utf8").split("\n")) {
    if (line === "") continue;
    const [round, id, seq, redelivery] = line.split(" ");
    calls.get(id as string)?.push({ round: Number(round), seq: Number(seq), redelivery: redelivery === "1" });
  }
  for (const id of clientIds) {
    const list = calls.get(id) ?? [];
    const seen = new Set<number>();
    let lastRound = -1;
    let prevSeq = 0;
    for (const c of list) {
      if (c.round !== lastRound) {
        lastRound = c.round;
        prevSeq = 0;
      }
      assert.ok(c.seq > prevSeq, `${id} round ${c.round}: seq ${c.seq} after ${prevSeq} (order)`);
      prevSeq = c.seq;
      if (seen.has(c.seq)) {
        repeats++;
        assert.equal(
          c.redelivery,
          true,
          `${id} seq ${c.seq} handled again in round ${c.round} without redelivery: true`,
        );
      }
      seen.add(c.seq);
    }
    for (let seq = 1; seq <= total; seq++) assert.ok(seen.has(seq), `${id} seq ${seq} was never handled (lost)`);
    assert.equal(seen.size, total);
  }
  t.diagnostic(`calls repeated after a kill (all flagged): ${repeats}`);
});
