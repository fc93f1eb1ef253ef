/**
 * With `state`, dedup survives a server restart (graceful) and a crash (SIGKILL
 * of a child process between handing a message over and recording its success).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { TestContext } from "node:test";
import { createInterface } from "node:readline";
import { createServer } from "../../src/server/index.js";
import type { IncomingMessage } from "../../src/server/index.js";
import { openClient } from "../helpers/raw-client.js";

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
  assert.deepEqual(seen.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
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

test("crash between handler and ack (SIGKILL): no acked message runs again; the interrupted one comes back with redelivery: true", async (t) => {
  const dir = tempDir(t);
  const fixture = join(import.meta.dirname, "fixtures", "crash-server.js");
  const child = spawn(process.execPath, [fixture, dir, "5"], { stdio: ["ignore", "pipe", "inherit"] });
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
  client.sendMessages(5, 1);
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
  again.client.sendMessages(1, 6);
  const { duplicates } = await again.client.waitAck(6);
  assert.equal(duplicates, 4);
  assert.deepEqual(seen.map((m) => [m.seq, m.redelivery]), [[5, true], [6, false]]);
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
