/**
 * Damage in a durable outbox must not lose new messages (end to end).
 *
 * A client with a durable outbox sends 10 messages to a real server, which
 * handles and acknowledges them (its lastSeq is 10), and stops. A bit is then
 * flipped in record 6 on disk. A new client on the same outbox sends 5 more.
 * Before the fix, the open quarantined records 6-10 and gave the new messages
 * seqs 6-10 again; the server took them for duplicates and acknowledged them
 * without calling its handler: 5 messages lost without an error. Now the seqs
 * jump past everything handed out before, and the handler gets all 5.
 */

import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../../src/index.js";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { RecordType } from "../../src/storage/record-format.js";
import { scanSegment } from "../../src/storage/segment-reader.js";
import { createServer } from "../../src/server/index.js";
import { within } from "./helpers.js";

interface Handled {
  readonly clientId: string;
  readonly seq: number;
  readonly text: string;
}

/** Flips a bit inside the body of the DATA record with `seq`; returns the segment file it is in. */
async function corruptRecord(dir: string, seq: number): Promise<string> {
  for (const name of (await readdir(dir)).filter((n) => n.startsWith("seg-")).sort()) {
    const path = join(dir, name);
    const b = await readFile(path);
    const scan = scanSegment(b);
    if (scan.kind !== "ok") continue;
    const i = scan.records.findIndex((r) => r.type === RecordType.DATA && r.seq === seq);
    if (i < 0) continue;
    const at = (scan.offsets[i] as number) + 30; // in the body's timestamps: the body CRC no longer matches
    b[at] = (b[at] as number) ^ 0x01;
    await writeFile(path, b);
    return name;
  }
  throw new Error(`no DATA record with seq ${seq} in ${dir}`);
}

test("a durable client reopened on an outbox whose record 6 was damaged: the server's handler gets every new message, none skipped as a duplicate", async (t) => {
  const base = await mkdtemp(join(tmpdir(), "outlast-quarantine-e2e-"));
  t.after(() => rm(base, { recursive: true, force: true }));
  const handled: Handled[] = [];
  let onHandled: (() => void) | undefined;
  const server = createServer({
    state: join(base, "server-state"),
    onMessage: ({ clientId, seq, data }) => {
      handled.push({ clientId, seq, text: Buffer.from(data).toString() });
      onHandled?.();
    },
  });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  t.after(() => server.destroy());
  const url = `tcp://127.0.0.1:${port}`;
  const dir = join(base, "outbox");

  const first = connect(url, { outbox: dir, clientId: "quarantine-e2e" });
  t.after(() => first.destroy());
  const sent = await within(
    Promise.all(Array.from({ length: 10 }, (_, i) => first.send(`old ${i + 1}`))),
    10_000,
    "10 messages acknowledged",
  );
  assert.deepEqual(
    sent.map((r) => r.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  await within(first.close(), 10_000, "first client closed");
  assert.deepEqual(
    handled.map((h) => h.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    "the server handled 1-10 (its lastSeq is 10)",
  );

  await corruptRecord(dir, 6);

  const outbox = new FileOutbox(dir);
  const second = connect(url, { outbox, clientId: "quarantine-e2e" });
  t.after(() => second.destroy());
  const handledBefore = handled.length;
  const newHandled = (): string[] =>
    handled
      .slice(handledBefore)
      .filter((h) => h.text.startsWith("new "))
      .map((h) => h.text);
  const allFive = new Promise<void>((resolve) => {
    onHandled = () => newHandled().length === 5 && resolve();
  });
  const news = await within(
    Promise.all(Array.from({ length: 5 }, (_, i) => second.send(`new ${i + 1}`, { wait: "stored" }))),
    10_000,
    "5 new messages stored",
  );
  assert.equal(outbox.recoveryReport?.quarantined.length, 1, "record 6 and what followed it were quarantined");
  assert.ok(
    news.every((r) => r.seq > 10),
    `the new messages got seqs ${news.map((r) => r.seq).join(", ")}: a seq <= 10 is skipped by the server as a duplicate`,
  );
  await within(allFive, 10_000, "the handler getting the 5 new messages").catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; it got ${JSON.stringify(newHandled())}`);
  });
  await within(second.close(), 10_000, "second client closed");

  assert.deepEqual(
    newHandled(),
    ["new 1", "new 2", "new 3", "new 4", "new 5"],
    "the handler got every new message, in order, once",
  );
  assert.ok(
    handled.every((h) => h.clientId === "quarantine-e2e"),
    "one clientId throughout",
  );
  const newSeqs = handled.filter((h) => h.text.startsWith("new ")).map((h) => h.seq);
  assert.deepEqual(
    newSeqs,
    news.map((r) => r.seq),
    "handled under the seqs the sends resolved with",
  );
});
