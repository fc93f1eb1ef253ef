// connect(url, { outbox: "./dir" }): the durable outbox behind the client.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect, isOutlastError } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { freePort } from "../helpers/nats-cluster.js";
import { waitFor, within } from "./helpers.js";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-durable-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("messages stored while the server is down survive the client's exit and are delivered by the next client, once, in order", async (t) => {
  const dir = join(tempDir(t), "outbox"); // created when missing
  const port = await freePort(); // nothing listens there yet
  const url = `tcp://127.0.0.1:${port}`;

  const first = connect(url, { outbox: dir });
  const seqs: number[] = [];
  for (let i = 0; i < 50; i++) seqs.push((await first.send(`m${i}`, { wait: "stored" })).seq);
  const clientId = first.clientId;
  await first.destroy(); // exits without delivering: the messages stay on disk
  assert.deepEqual(
    seqs,
    Array.from({ length: 50 }, (_, i) => i + 1),
  );

  const handled: { clientId: string; seq: number; data: string }[] = [];
  const server = createServer({
    onMessage: ({ clientId: id, seq, data }) =>
      void handled.push({ clientId: id, seq, data: Buffer.from(data).toString() }),
  });
  await server.listen({ port, host: "127.0.0.1" });
  t.after(() => server.destroy());

  const second = connect(url, { outbox: dir });
  await within(second.flush(), 10_000, "flush of the stored messages");
  assert.equal(second.clientId, clientId, "the clientId is kept with the outbox");
  assert.deepEqual(
    handled.map((h) => h.seq),
    seqs,
  );
  assert.ok(handled.every((h, i) => h.clientId === clientId && h.data === `m${i}`));
  // new messages continue the sequence
  const next = await second.send("after restart");
  assert.equal(next.seq, 51);
  await second.close();
});

test("a second client on the same outbox directory gets OUTLAST_OUTBOX_LOCKED naming the holder's pid", async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const holder = connect(`tcp://127.0.0.1:${port}`, { outbox: dir });
  await holder.send("held", { wait: "stored" });
  t.after(() => holder.destroy());

  const second = connect(`tcp://127.0.0.1:${port}`, { outbox: dir });
  const errorEvent = waitFor<Error>(second, "error");
  const rejected = await second.send("x", { wait: "stored" }).then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(isOutlastError(rejected, "OUTLAST_OUTBOX_LOCKED"), `got ${String(rejected)}`);
  assert.match((rejected as Error).message, new RegExp(`locked by pid ${process.pid}`));
  const emitted = await errorEvent;
  assert.ok(isOutlastError(emitted, "OUTLAST_OUTBOX_LOCKED"));
});

test("an empty outbox path is an invalid option", () => {
  assert.throws(() => connect("tcp://127.0.0.1:1", { outbox: "" }), { code: "OUTLAST_INVALID_OPTION" });
});
