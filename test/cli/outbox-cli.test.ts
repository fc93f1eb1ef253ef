/**
 * `outlast outbox inspect|purge` as a real child process on outboxes written
 * through FileOutbox: counts, seqs, the oldest message's age from its record's
 * time, damage reported and not repaired, quarantined parts, JSON; inspect of
 * an outbox a live process holds (no lock taken, nothing written); purge
 * asking for --yes off a terminal, and refusing an outbox in use; a directory
 * that is not an outbox.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { Child, run, tempDir } from "./cli-process.js";

const HOLDER = fileURLToPath(new URL("../outbox/holder-child.js", import.meta.url));
const HOUR_MS = 3_600_000;

/** Every file in `dir` (and quarantine/) with its mtime and bytes: a proof that nothing was written. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true }).map(String).sort()) {
    const s = statSync(join(dir, name));
    if (s.isFile()) out.set(name, `${s.mtimeMs} ${readFileSync(join(dir, name)).toString("base64")}`);
  }
  return out;
}

/** Stores n records created an hour ago (wall clock), acknowledges 1..ackUpTo. */
async function writeOutbox(dir: string, n: number, ackUpTo: number): Promise<void> {
  const outbox = new FileOutbox(dir);
  await outbox.open("inspect-me");
  const now = Date.now() - HOUR_MS;
  await outbox.append(
    Array.from({ length: n }, (_, i) => ({
      data: Buffer.from(`record ${i + 1}`),
      important: i % 2 === 0,
      createdAtMs: now,
      expiresAtMs: i === 0 ? now + 60_000 : Infinity,
    })),
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
  assert.equal(
    i.bytes,
    Array.from({ length: 7 }, (_, k) => `record ${k + 4}`.length).reduce((a, b) => a + b, 0),
  );
  assert.equal(i.firstSeq, 4);
  assert.equal(i.lastSeq, 10);
  assert.equal(i.nextSeq, 11);
  assert.equal(i.importantMessages, 3); // seqs 5, 7, 9 (i = 4, 6, 8)
  assert.equal(i.bestEffortMessages, 4);
  assert.equal(i.expiringMessages, 0); // only seq 1 had a ttl, and it is acknowledged
  assert.ok(
    i.oldestAgeMs >= HOUR_MS && i.oldestAgeMs < HOUR_MS + 60_000,
    `oldestAgeMs ${i.oldestAgeMs}: from the record's time, not a file's`,
  );
  assert.equal(typeof i.oldestCreatedAtMs, "number");
  assert.deepEqual(i.quarantined, []);
  assert.ok(i.diskBytes > 0);
  assert.equal(i.segments, readdirSync(dir).filter((n) => n.startsWith("seg-")).length);
  assert.equal(i.lockedBy, undefined);
  assert.equal(i.tornBytes, 0);
  assert.deepEqual(i.damaged, []);

  // Garbage after the last record of the newest segment: reported as damage the next open will quarantine, and left alone.
  const segments = readdirSync(dir)
    .filter((n) => n.startsWith("seg-"))
    .sort();
  const newest = segments[segments.length - 1];
  assert.ok(newest !== undefined);
  appendFileSync(join(dir, newest), Buffer.alloc(64, 0xab));
  const before = snapshot(dir);
  const text = await run(t, ["outbox", "inspect", dir]);
  assert.equal(text.exit.code, 0, text.stderr);
  assert.match(text.stdout, /^ {2}messages +7 \(/m);
  assert.match(text.stdout, /^ {2}seq +4 \.\. 10 \(next 11\)$/m);
  assert.match(text.stdout, /^ {2}clientId +inspect-me$/m);
  assert.match(text.stdout, /^ {2}oldest +created 1h 00m ago \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/m);
  assert.match(text.stdout, /^ {2}quarantined +none$/m);
  assert.match(
    text.stdout,
    new RegExp(
      `^ {2}damaged +1 corrupt part, 64 B: ${newest.replace(".", "\\.")} at \\d+ \\(record header CRC mismatch\\); the next open moves it to quarantine/$`,
      "m",
    ),
  );
  assert.doesNotMatch(text.stdout, /in use/);
  assert.deepEqual(snapshot(dir), before, "inspect wrote nothing: the damage is still there, no lock, no new segment");
});

test("outbox inspect of an outbox a live process holds: no lock taken, nothing written, the holder named; the holder goes on unharmed", async (t) => {
  const dir = join(tempDir(t), "ob");
  await writeOutbox(dir, 25, 5);
  const holder = new Child(spawn(process.execPath, [HOLDER, dir, "idle"], { stdio: ["pipe", "pipe", "pipe"] }));
  t.after(() => {
    if (holder.exit === undefined) holder.child.kill("SIGKILL");
  });
  const ready = await holder.until(
    "the holder's ready line",
    () => /^ready (\d+) (\d+) (\d+)$/m.exec(holder.stdout) ?? undefined,
  );
  const pid = Number(ready[1]);
  assert.equal(Number(ready[2]), 20);
  const before = snapshot(dir);
  assert.ok(before.has("lock"), "the holder has the lock");

  const json = await run(t, ["outbox", "inspect", dir, "--json"]);
  assert.equal(json.exit.code, 0, json.stderr);
  const i = JSON.parse(json.stdout);
  assert.equal(i.lockedBy, pid);
  assert.equal(i.messages, 20);
  assert.equal(i.firstSeq, 6);
  assert.equal(i.lastSeq, 25);
  assert.equal(i.nextSeq, 26);
  assert.equal(i.clientId, "inspect-me");
  const text = await run(t, ["outbox", "inspect", dir]);
  assert.equal(text.exit.code, 0, text.stderr);
  assert.match(
    text.stdout,
    new RegExp(`^ {2}in use +by pid ${pid} \\(an outlast send\\?\\); this is a snapshot, read without its lock$`, "m"),
  );
  assert.deepEqual(snapshot(dir), before, "nothing was written, and the holder's lock is untouched");

  const purge = await run(t, ["outbox", "purge", dir, "--yes"]);
  assert.equal(purge.exit.code, 1, "purge still takes the lock");
  assert.match(
    purge.stderr,
    new RegExp(`^outlast outbox: outbox .* is in use by pid ${pid} \\(an outlast send\\?\\); stop it and try again\n$`),
  );

  holder.child.stdin?.end();
  const closed = await holder.until(
    "the holder's closed line",
    () => /^closed (\d+) (\d+) (\S+)$/m.exec(holder.stdout) ?? undefined,
  );
  assert.deepEqual(closed.slice(1), ["20", "26", "none"], "the holder kept its records and never failed");
  assert.equal((await holder.waitExit()).code, 0, holder.stderr);
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
  assert.match(purged.stderr, /purged 5 messages \(\d+ B\) and 1 quarantined part from /);
  const after = JSON.parse((await run(t, ["outbox", "inspect", dir, "--json"])).stdout);
  assert.equal(after.messages, 0);
  assert.equal(after.nextSeq, 6);
  assert.equal(after.clientId, "inspect-me");
  assert.deepEqual(after.quarantined, []);
});

test("outbox: a missing directory and a directory that is not an outbox are one-line failures (exit 1)", async (t) => {
  const root = tempDir(t);
  const dir = join(root, "ob");
  await writeOutbox(dir, 1, 0);
  const missing = await run(t, ["outbox", "inspect", join(root, "nope")]);
  assert.equal(missing.exit.code, 1);
  assert.match(missing.stderr, /^outlast outbox: there is no outbox at .*nope \(no such directory\)\n$/);
  const notOutbox = await run(t, ["outbox", "purge", root, "--yes"]);
  assert.equal(notOutbox.exit.code, 1);
  assert.match(notOutbox.stderr, /is not an outbox \(it holds no seg-\*\.log files\)/);
  const notOutboxInspect = await run(t, ["outbox", "inspect", root]);
  assert.equal(notOutboxInspect.exit.code, 1);
  assert.match(notOutboxInspect.stderr, /is not an outbox \(it holds no seg-\*\.log files\)/);
  assert.deepEqual(readdirSync(root).sort(), ["ob"], "nothing was created");

  for (const args of [
    ["outbox"],
    ["outbox", "list", dir],
    ["outbox", "inspect"],
    ["outbox", "inspect", dir, "--yes"],
  ]) {
    const r = await run(t, args);
    assert.equal(r.exit.code, 2, args.join(" "));
  }
  const help = await run(t, ["outbox", "--help"]);
  assert.match(help.stdout, /Examples:\n {2}outlast outbox inspect/);
});
