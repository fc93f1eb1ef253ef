/**
 * A real `outlast serve --state DIR --output FILE` (child process) while one
 * client streams with its ACKs ignored (every connection resends everything
 * from seq 1, as if every ACK had been lost), stopped mid-stream again and
 * again: by SIGKILL alone (the page cache survives), or by SIGKILL plus a
 * simulated power cut of the state directory: the child runs with
 * test/storage/journal-fs.ts preloaded, the journal of its file operations is
 * replayed into CrashFs, and the directory is replaced by a random image of
 * what a power cut at that moment could have left (lost, torn, reordered and
 * zeroed writes; lost directory entries), then the server restarts with
 * another boot id. `--output` (fdatasync'd before each ACK, on the real disk)
 * is the handler's record of what it ran. Checked:
 * - WELCOME never reports less than an ACK the client saw, nor more than what ran;
 * - no acknowledged message's handler runs again after a restart;
 * - nothing is lost: every seq is handled in the end.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { setImmediate } from "node:timers/promises";
import type { TestContext } from "node:test";
import { openClient } from "../helpers/raw-client.js";
import { rng, testSeed } from "../helpers/seed.js";
import { replayJournal } from "../storage/journal-fs.js";

const bin = join(import.meta.dirname, "../../src/cli/main.js");
const preload = join(import.meta.dirname, "../storage/journal-fs.js");
const CLIENT = "robot-e2e";
const ROUNDS = 9;
const PER_ROUND = 400;
const WAIT_MS = 60_000;
/** Messages per write while streaming. */
const CHUNK = 25;

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OUTLAST_")) env[k] = v;
  return { ...env, ...extra };
}

/** Every file below `dir` (none when it does not exist). */
function readTree(dir: string, out = new Map<string, Buffer>()): Map<string, Buffer> {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) readTree(path, out);
    else out.set(path, readFileSync(path));
  }
  return out;
}

/** clientId/seq of every line the handler wrote, in order. */
function handled(output: string): number[] {
  if (!existsSync(output)) return [];
  return readFileSync(output, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { clientId: string; seq: number })
    .filter((m) => m.clientId === CLIENT)
    .map((m) => m.seq);
}

async function startServe(t: TestContext, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", preload, bin, "serve", "--listen", "127.0.0.1:0", ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  const lines = createInterface({ input: child.stderr });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on("line", (line) => {
      stderr += `${line}\n`;
      const m = /^outlast serve: listening on tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
      if (m !== null) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`outlast serve exited before listening:\n${stderr}`)));
  });
  return { child, port, exited, stderr: () => stderr };
}

test("SIGKILL and simulated power cuts of a real `outlast serve --state` while a client streams with acks dropped: no acknowledged message runs again, none is lost", async (t) => {
  const random = rng(testSeed(t, 9091));
  const root = mkdtempSync(join(tmpdir(), "outlast-power-cut-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, "state");
  const output = join(root, "handled.jsonl");
  let acked = 0;
  let boot = 0;
  const ackedBefore: number[] = [];
  const linesBefore: number[] = [];
  const cuts: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const last = round === ROUNDS - 1;
    const powerCut = round % 2 === 0;
    const initial = readTree(dir);
    const journal = join(root, `journal-${round}`);
    ackedBefore.push(acked);
    linesBefore.push(handled(output).length);
    const serve = await startServe(t, ["--state", dir, "--output", output], {
      OUTLAST_TEST_FS_JOURNAL: journal,
      OUTLAST_TEST_BOOT_ID: `boot-${boot}`,
    });
    const { client, welcome } = await openClient(serve.port, CLIENT);
    const ran = handled(output);
    assert.ok(welcome.lastSeq >= acked, `round ${round}: WELCOME lastSeq ${welcome.lastSeq} < acknowledged ${acked}`);
    assert.ok(
      welcome.lastSeq <= Math.max(0, ...ran),
      `round ${round}: WELCOME lastSeq ${welcome.lastSeq} was never handled`,
    );
    const total = (round + 1) * PER_ROUND;
    // Everything again from seq 1 (the ACKs of earlier connections count for nothing here), in chunks;
    // once the server acknowledged a random point past what WELCOME said, the rest goes in one write and
    // the server is killed a random few event-loop turns later: with messages on the wire, in the
    // handler and in a group commit.
    const ackAt = last ? total : welcome.lastSeq + 1 + Math.floor(random() * (total - welcome.lastSeq - 1));
    let sent = 0;
    let seen = 0;
    while (seen < ackAt) {
      if (sent < ackAt) {
        const n = Math.min(CHUNK, total - sent);
        client.sendMessages(sent + 1, n);
        sent += n;
        await setImmediate();
      } else {
        const f = await client.next(WAIT_MS);
        if (f.type !== "ack") assert.fail(`round ${round}: unexpected ${f.type} frame: ${JSON.stringify(f)}`);
      }
      for (const f of client.received) if (f.type === "ack") seen = Math.max(seen, f.seq);
    }
    if (last) {
      serve.child.kill("SIGTERM");
      await serve.exited;
      client.socket.destroy();
      assert.equal(serve.child.exitCode, 0, `the last server stopped cleanly; stderr:\n${serve.stderr()}`);
      break;
    }
    if (sent < total) client.sendMessages(sent + 1, total - sent);
    for (let turns = Math.floor(random() * 4); turns > 0; turns--) await setImmediate();
    serve.child.kill("SIGKILL");
    await serve.exited;
    for (const f of client.received) if (f.type === "ack") seen = Math.max(seen, f.seq);
    acked = Math.max(acked, seen);
    client.socket.destroy();
    let cutMode = "";
    if (powerCut) {
      const fs = await replayJournal(readFileSync(journal, "utf8"), initial);
      const mode = random() < 0.5 ? "none" : "random"; // nothing unsynced survived, or a random part of it
      const image = fs.image(mode, random);
      rmSync(dir, { recursive: true, force: true });
      for (const [path, data] of image.files()) {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, data);
      }
      boot++; // the machine restarted
      cutMode = mode;
    }
    cuts.push(`${powerCut ? `power cut (${cutMode})` : "SIGKILL"} after ACK ${seen}`);
  }

  const seqs = handled(output);
  linesBefore.push(seqs.length);
  const ranBefore = new Set<number>();
  let again = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const inRound = seqs.slice(linesBefore[round], linesBefore[round + 1]);
    for (const seq of inRound) {
      if (ranBefore.has(seq)) {
        again++;
        assert.ok(
          seq > (ackedBefore[round] as number),
          `round ${round}: seq ${seq} ran again although it was acknowledged (ACK ${ackedBefore[round]}) before the restart`,
        );
      }
    }
    for (const seq of inRound) ranBefore.add(seq);
  }
  const total = ROUNDS * PER_ROUND;
  for (let seq = 1; seq <= total; seq++) assert.ok(ranBefore.has(seq), `seq ${seq} was never handled (lost)`);
  t.diagnostic(`${cuts.join("; ")}; ${seqs.length} handler calls for ${total} messages (${again} ran again)`);
});
