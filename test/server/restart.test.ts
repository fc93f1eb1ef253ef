/**
 * With `state`, dedup survives a server restart (graceful) and a crash (SIGKILL
 * of a child process between handing a message over and recording its success,
 * and at random moments of a pipelined stream).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { createInterface } from "node:readline";
import { FileDedupState } from "../../src/server/file-dedup-state.js";
import { createServer } from "../../src/server/index.js";
import type { IncomingMessage } from "../../src/server/index.js";
import { openClient } from "../helpers/raw-client.js";
import { startCrashServer } from "./crash-server-process.js";
import { createRandom } from "../../src/proxy/random.js";
import { testSeed } from "../helpers/seed.js";

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-restart-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("restart on the same state dir: resends are skipped as duplicates and acknowledged", async (t) => {
  const dir = tempDir(t);
  const seen: IncomingMessage[] = [];
  const first = createServer({ state: dir, onMessage: (m) => void seen.push(m) });
  t.after(() => first.destroy());
  const { port } = await first.listen({ port: 0, host: "127.0.0.1" });
  const a = await openClient(port, "r");
  a.client.sendMessages(1, 10);
  await a.client.waitAck(10);
  a.client.destroy();
  await first.close();

  const second = createServer({ state: dir, onMessage: (m) => void seen.push(m) });
  t.after(() => second.destroy());
  const { port: port2 } = await second.listen({ port: 0, host: "127.0.0.1" });
  const b = await openClient(port2, "r");
  t.after(() => b.client.destroy());
  assert.equal(b.welcome.lastSeq, 10);
  b.client.sendMessages(1, 11); // as if every ack was lost
  const { duplicates } = await b.client.waitAck(11);
  assert.equal(duplicates, 10);
  assert.deepEqual(
    seen.map((m) => m.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  );
  assert.equal(second.stats().duplicatesSkipped, 10);
});

test("two servers cannot share one state dir", async (t) => {
  const dir = tempDir(t);
  const first = createServer({ state: dir, onMessage: () => {} });
  t.after(() => first.destroy());
  await first.listen({ port: 0, host: "127.0.0.1" });
  const second = createServer({ state: dir, onMessage: () => {} });
  await assert.rejects(second.listen({ port: 0, host: "127.0.0.1" }), { code: "OUTLAST_STATE_LOCKED" });
  await second.destroy();
});

test("crash between handler and ack (SIGKILL): no acked message runs again; the interrupted one comes back with redelivery: true, the ones queued behind it without", async (t) => {
  const dir = tempDir(t);
  const fixture = join(import.meta.dirname, "fixtures", "crash-server.js");
  const child = spawn(process.execPath, [fixture, dir, "hang", "5"], { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    try {
      const r = await lines.next();
      assert.equal(r.done, false, "child exited early");
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  };
  const port = Number((await nextLine()).split(" ")[1]);
  const { client } = await openClient(port, "crash");
  client.sendMessages(1, 4);
  await client.waitAck(4); // 1..4 are durable
  client.sendMessages(5, 4); // 5 hangs in the handler; 6..8 are received and queued, never handed over
  assert.equal(await nextLine(), "started 5");
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  client.destroy();

  const seen: IncomingMessage[] = [];
  const server = createServer({ state: dir, onMessage: (m) => void seen.push(m) });
  t.after(() => server.destroy());
  const { port: port2 } = await server.listen({ port: 0, host: "127.0.0.1" }); // takes over the dead child's lock
  const again = await openClient(port2, "crash");
  t.after(() => again.client.destroy());
  assert.equal(again.welcome.lastSeq, 4);
  again.client.sendMessages(1, 9);
  const { duplicates } = await again.client.waitAck(9);
  assert.equal(duplicates, 4);
  assert.deepEqual(
    seen.map((m) => [m.seq, m.redelivery]),
    [
      [5, true],
      [6, false],
      [7, false],
      [8, false],
      [9, false],
    ],
  );
});

test("with state, a handler failure sends the (durable) ACK for what succeeded before the ERROR", async (t) => {
  const dir = tempDir(t);
  const server = createServer({
    state: dir,
    onMessage: (m) => {
      if (m.seq === 3) throw new Error("bad record");
    },
  });
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const { client } = await openClient(port, "f");
  t.after(() => client.destroy());
  client.sendMessages(1, 4);
  const err = await client.waitError();
  assert.equal(err.code, "OUTLAST_HANDLER_FAILED");
  const acks = client.received.filter((f) => f.type === "ack");
  assert.equal(acks.at(-1)?.type === "ack" ? acks.at(-1)?.seq : undefined, 2);
  assert.equal(client.received.at(-1)?.type, "error");
  await client.waitClosed();
});

interface Call {
  readonly round: number;
  readonly seq: number;
  readonly redelivery: boolean;
}

test("SIGKILL at random moments of a pipelined stream, 10 times: nothing lost, only the call a kill interrupted runs again, and only it is flagged", async (t) => {
  const dir = tempDir(t);
  const callsFile = join(dir, "calls");
  // The seed replays the kill delays (a real SIGKILL still lands wherever the stream is by then).
  const random = createRandom(testSeed(t));
  const clientIds = ["k1", "k2"];
  const total = 60_000;
  const rounds = 10;
  const acked = new Map(clientIds.map((id) => [id, 0]));
  const delays: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const { child, port } = await startCrashServer(t, "record", dir, callsFile, round);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const clients = await Promise.all(clientIds.map((id) => openClient(port, id)));
    for (const [i, id] of clientIds.entries()) {
      const { client, welcome } = clients[i] as Awaited<ReturnType<typeof openClient>>;
      const from = (acked.get(id) as number) + 1; // resend everything not acknowledged to us
      assert.ok(welcome.lastSeq >= from - 1, `WELCOME lastSeq ${welcome.lastSeq} is below an ACK we got (${from - 1})`);
      for (let seq = from; seq <= total; seq += 1000)
        client.sendMessages(seq, Math.min(1000, total - seq + 1), `${id}:${seq}`.padEnd(64, "."));
    }
    if (round < rounds) {
      const delayMs = 2 + Math.floor(random() * 60);
      delays.push(delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill("SIGKILL");
      await exited;
    } else {
      await Promise.all(clients.map(({ client }) => client.waitAck(total, 30_000)));
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

  const calls = new Map<string, Call[]>(clientIds.map((id) => [id, []]));
  for (const line of readFileSync(callsFile, "utf8").split("\n")) {
    if (line === "") continue;
    const [round, id, seq, redelivery] = line.split(" ");
    calls.get(id as string)?.push({ round: Number(round), seq: Number(seq), redelivery: redelivery === "1" });
  }
  let repeats = 0;
  let flagged = 0;
  for (const id of clientIds) {
    const list = calls.get(id) as Call[];
    const seen = new Set<number>();
    for (const c of list) seen.add(c.seq);
    for (let seq = 1; seq <= total; seq++) assert.ok(seen.has(seq), `${id} seq ${seq} was never handled (lost)`);
    assert.equal(seen.size, total, `${id}: no seq beyond those sent`);
    seen.clear();
    // A kill interrupts at most one message per client: the last call of the killed
    // server (in its handler, or returned a moment before its progress record was
    // written), or the next one (announced as started, not yet called). Only that seq
    // may come back, only as the first call after the restart, and always flagged.
    let prev: Call | undefined; // the last call of an earlier round
    for (let round = 0; round <= rounds; round++) {
      const inRound = list.filter((c) => c.round === round);
      for (const [k, c] of inRound.entries()) {
        if (k > 0)
          assert.ok(
            c.seq > (inRound[k - 1] as Call).seq,
            `${id} round ${round}: seq order ${(inRound[k - 1] as Call).seq} then ${c.seq}`,
          );
        if (c.redelivery) {
          flagged++;
          assert.equal(
            k,
            0,
            `${id} round ${round}: only the first call after a restart can be a redelivery (seq ${c.seq})`,
          );
          assert.ok(
            prev !== undefined && (c.seq === prev.seq || c.seq === prev.seq + 1),
            `${id} round ${round}: seq ${c.seq} flagged redelivery, but the killed server's last call was seq ${prev?.seq}`,
          );
        }
        if (seen.has(c.seq)) {
          repeats++;
          assert.equal(
            c.redelivery,
            true,
            `${id} seq ${c.seq} handled again in round ${round} without redelivery: true`,
          );
          assert.equal(
            k,
            0,
            `${id} seq ${c.seq} handled again in round ${round}, but not as the first call after the restart`,
          );
          assert.equal(
            c.seq,
            prev?.seq,
            `${id} seq ${c.seq} handled again, but it was not the killed server's last call (${prev?.seq})`,
          );
        }
        seen.add(c.seq);
      }
      if (inRound.length > 0) prev = inRound.at(-1);
    }
  }
  t.diagnostic(
    `kill delays (ms): ${delays.join(" ")}; handler calls: ${[...calls.values()].reduce((n, l) => n + l.length, 0)}; flagged redelivery: ${flagged}; calls repeated after a kill interrupted them (all flagged): ${repeats}`,
  );
});

test("a pipelined stream costs one progress write per message (done N and started N+1 share it)", async (t) => {
  const dir = tempDir(t);
  const original = Object.getOwnPropertyDescriptor(FileDedupState.prototype, "writeSlot") as PropertyDescriptor;
  t.after(() => Object.defineProperty(FileDedupState.prototype, "writeSlot", original));
  let writes = 0;
  const writeSlot = original.value as (this: FileDedupState, slot: number, doneSeq: number, startedSeq: number) => void;
  FileDedupState.prototype.writeSlot = function (
    this: FileDedupState,
    slot: number,
    doneSeq: number,
    startedSeq: number,
  ): void {
    writes++;
    writeSlot.call(this, slot, doneSeq, startedSeq);
  };
  let handled = 0;
  const server = createServer({
    state: dir,
    onMessage: (m) => (m.seq % 10 === 0 ? Promise.resolve().then(() => void handled++) : void handled++),
  });
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const { client } = await openClient(port, "pipelined");
  t.after(() => client.destroy());
  client.sendMessages(1, 5000);
  await client.waitAck(5000);
  assert.equal(handled, 5000);
  // One per message, plus one per socket read at most (a read's first message finds the
  // client idle; its last one withdraws nothing or writes "done"), plus the slot's first write.
  assert.ok(writes >= 5000 && writes < 5000 * 1.2, `${writes} progress writes for 5000 messages`);
  t.diagnostic(`${writes} progress writes for 5000 messages`);
});
