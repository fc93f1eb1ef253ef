/**
 * `outlast outbox inspect|purge` as a real child process on outboxes written
 * through FileOutbox: counts, seqs, quarantined parts, JSON; purge asking for
 * --yes off a terminal; a locked outbox; a directory that is not an outbox.
 */
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { run, tempDir } from "./cli-process.js";

async function writeOutbox(dir: string, n: number, ackUpTo: number): Promise<void> {
  const outbox = new FileOutbox(dir);
  await outbox.open("inspect-me");
  const now = performance.now();
  await outbox.append(
    Array.from({ length: n }, (_, i) => ({ data: Buffer.from(`record ${i + 1}`), important: i % 2 === 0, createdAtMs: now, expiresAtMs: i === 0 ? now + 60_000 : Infinity })),
  );
  outbox.acknowledge(ackUpTo);
  await outbox.sync();
  await outbox.close();
}

test("outbox inspect reports counts, bytes, seqs, kinds and quarantined parts, as text and as JSON", async (t) => {
  const dir = join(tempDir(t), "ob");
  await writeOutbox(dir, 10, 3);
  const json = await run(t, ["outbox", "inspect", dir, "--json"]);
  assert.equal(json.exit.code, 0, json.stderr);
  const i = JSON.parse(json.stdout);
  assert.equal(i.clientId, "inspect-me");
  assert.equal(i.messages, 7);
  assert.equal(i.bytes, Array.from({ length: 7 }, (_, k) => `record ${k + 4}`.length).reduce((a, b) => a + b, 0));
  assert.equal(i.firstSeq, 4);
  assert.equal(i.lastSeq, 10);
  assert.equal(i.nextSeq, 11);
  assert.equal(i.importantMessages, 3); // seqs 5, 7, 9 (i = 4, 6, 8)
  assert.equal(i.bestEffortMessages, 4);
  assert.equal(i.expiringMessages, 0); // only seq 1 had a ttl, and it is acknowledged
  assert.ok(typeof i.oldestSegmentAgeMs === "number" && i.oldestSegmentAgeMs >= 0 && i.oldestSegmentAgeMs < 60_000);
  assert.deepEqual(i.quarantined, []);
  assert.ok(i.diskBytes > 0);

  // A corrupt tail in the newest data segment is quarantined by the open and reported.
  const segments = readdirSync(dir).filter((n) => n.startsWith("seg-")).sort();
  const newest = segments[segments.length - 1];
  assert.ok(newest !== undefined);
  appendFileSync(join(dir, newest), Buffer.alloc(64, 0xab));
  const text = await run(t, ["outbox", "inspect", dir]);
  assert.equal(text.exit.code, 0, text.stderr);
  assert.match(text.stdout, /^ {2}messages +7 \(/m);
  assert.match(text.stdout, /^ {2}seq +4 \.\. 10 \(next 11\)$/m);
  assert.match(text.stdout, /^ {2}clientId +inspect-me$/m);
  assert.match(text.stdout, /^ {2}(quarantined +1 part|repaired now +64 B of a torn tail)/m);
});

test("outbox purge refuses without --yes off a terminal (exit 2, nothing deleted); with --yes it empties the outbox and keeps the numbering", async (t) => {
  const dir = join(tempDir(t), "ob");
  await writeOutbox(dir, 5, 0);
  mkdirSync(join(dir, "quarantine"), { recursive: true });
  writeFileSync(join(dir, "quarantine", "seg-0000000000000001.log.at-24"), Buffer.alloc(10));
  const refused = await run(t, ["outbox", "purge", dir]);
  assert.equal(refused.exit.code, 2);
  assert.match(refused.stderr, /pass --yes \(stdin is not a terminal/);
  assert.equal(JSON.parse((await run(t, ["outbox", "inspect", dir, "--json"])).stdout).messages, 5, "nothing deleted");

  const purged = await run(t, ["outbox", "purge", dir, "--yes"]);
  assert.equal(purged.exit.code, 0, purged.stderr);
  assert.match(purged.stderr, /purged 5 messages \(\d+ B\) and 1 quarantined part\(s\) from /);
  const after = JSON.parse((await run(t, ["outbox", "inspect", dir, "--json"])).stdout);
  assert.equal(after.messages, 0);
  assert.equal(after.nextSeq, 6);
  assert.equal(after.clientId, "inspect-me");
  assert.deepEqual(after.quarantined, []);
});

test("outbox: a locked outbox, a missing directory and a directory that is not an outbox are one-line failures (exit 1)", async (t) => {
  const root = tempDir(t);
  const dir = join(root, "ob");
  await writeOutbox(dir, 1, 0);
  const held = new FileOutbox(dir);
  await held.open("x");
  t.after(() => held.close());
  const locked = await run(t, ["outbox", "inspect", dir]);
  assert.equal(locked.exit.code, 1);
  assert.match(locked.stderr, new RegExp(`^outlast outbox: outbox .* is in use by pid ${process.pid} \\(an outlast send\\?\\); stop it and try again\\n$`));
  await held.close();

  const missing = await run(t, ["outbox", "inspect", join(root, "nope")]);
  assert.equal(missing.exit.code, 1);
  assert.match(missing.stderr, /^outlast outbox: there is no outbox at .*nope \(no such directory\)\n$/);
  const notOutbox = await run(t, ["outbox", "purge", root, "--yes"]);
  assert.equal(notOutbox.exit.code, 1);
  assert.match(notOutbox.stderr, /is not an outbox \(it holds no seg-\*\.log files\)/);
  assert.deepEqual(readdirSync(root).sort(), ["ob"], "nothing was created");

  for (const args of [["outbox"], ["outbox", "list", dir], ["outbox", "inspect"], ["outbox", "inspect", dir, "--yes"]]) {
    const r = await run(t, args);
    assert.equal(r.exit.code, 2, args.join(" "));
  }
  const help = await run(t, ["outbox", "--help"]);
  assert.match(help.stdout, /Examples:\n {2}outlast outbox inspect/);
});
