/**
 * `outlast serve --workers 2 --state DIR --output FILE` as a real process, with
 * real clients: every message is written once, each client's lines in order,
 * --metrics sums both workers' counters, SIGTERM drains (exit 0), and a restart
 * on the same flags keeps the dedup state (resent messages are not written again).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openClient } from "../helpers/raw-client.js";
import { jsonLines, start, tempDir, type Child } from "./cli-process.js";
import { get, scrape, scrapeUntil } from "./ops-helpers.js";

const CLIENTS = 8;
const FIRST = 25;
const RESENT = 5;
const MORE = 5;

async function startWorkers(
  t: Parameters<typeof start>[0],
  args: readonly string[],
): Promise<{ serve: Child; port: number; metricsUrl: string }> {
  const serve = start(t, ["serve", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--workers", "2", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await serve.stderrLine(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/);
  const l = await serve.stderrLine(/^outlast serve: listening on tcp:\/\/127\.0\.0\.1:(\d+) \(2 workers\)$/);
  return { serve, port: Number(l[1]), metricsUrl: m[1] as string };
}

/** Sends seqs from..to of client `id` (data `id:seq`) on one connection; resolves with the duplicates the ACKs report. */
async function send(port: number, id: string, from: number, to: number): Promise<number> {
  const { client } = await openClient(port, id);
  for (let seq = from; seq <= to; seq++) client.sendMessages(seq, 1, `${id}:${seq}`);
  const { duplicates } = await client.waitAck(to);
  await client.close();
  return duplicates;
}

/** Each worker's "stopped; N messages written, M duplicates skipped" line: worker -> [N, M]. */
function perWorker(stderr: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  const re = /^outlast serve: worker (\d+): stopped; (\d+) messages? written, (\d+) duplicates? skipped$/gm;
  for (const m of stderr.matchAll(re)) out.set(m[1] as string, [Number(m[2]), Number(m[3])]);
  return out;
}

function sum(shares: Map<string, [number, number]>, i: 0 | 1): number {
  return [...shares.values()].reduce((total, share) => total + share[i], 0);
}

test("--workers 2: every message written once, in order per client; metrics summed; SIGTERM drains; a restart keeps dedup", async (t) => {
  const dir = tempDir(t);
  const state = join(dir, "state");
  const output = join(dir, "out.jsonl");
  const args = ["--state", state, "--output", output];
  const ids = Array.from({ length: CLIENTS }, (_, i) => `robot-${i}`);

  const a = await startWorkers(t, args);
  assert.equal((await scrape(a.metricsUrl)).get('outlast_messages_total{result="handled"}'), 0);
  const firstDuplicates = await Promise.all(ids.map((id) => send(a.port, id, 1, FIRST)));
  assert.deepEqual(firstDuplicates, Array(CLIENTS).fill(0));
  const m = await scrapeUntil(a.metricsUrl, "every client gone", (x) => x.get("outlast_connections") === 0);
  assert.equal(m.get('outlast_messages_total{result="handled"}'), CLIENTS * FIRST, "summed over the workers");
  assert.equal(m.get('outlast_messages_total{result="duplicate"}'), 0);
  assert.equal(m.get("outlast_clients"), CLIENTS);
  assert.ok((m.get("outlast_connections_accepted_total") ?? 0) >= CLIENTS);
  assert.equal(m.get("outlast_handler_seconds_count"), undefined, "measured in the workers: not offered");

  a.serve.child.kill("SIGTERM");
  assert.deepEqual(await a.serve.waitExit(), { code: 0, signal: null }, a.serve.stderr);
  assert.match(a.serve.stderr, /^outlast serve: stopped \(2 workers\)$/m);
  const shares = perWorker(a.serve.stderr);
  assert.deepEqual([...shares.keys()].sort(), ["0", "1"], a.serve.stderr);
  assert.ok(
    [...shares.values()].every(([n]) => n > 0),
    `both workers wrote: ${JSON.stringify([...shares])}`,
  );
  assert.equal(sum(shares, 0), CLIENTS * FIRST);

  // Restart on the same flags: each client resends its last RESENT messages (already written) and MORE new ones.
  const b = await startWorkers(t, args);
  const again = await Promise.all(ids.map((id) => send(b.port, id, FIRST - RESENT + 1, FIRST + MORE)));
  assert.deepEqual(again, Array(CLIENTS).fill(RESENT), "the resent messages are duplicates to the new workers");
  b.serve.child.kill("SIGTERM");
  assert.deepEqual(await b.serve.waitExit(), { code: 0, signal: null }, b.serve.stderr);
  const after = perWorker(b.serve.stderr);
  assert.equal(sum(after, 0), CLIENTS * MORE, b.serve.stderr);
  assert.equal(sum(after, 1), CLIENTS * RESENT);

  const lines = jsonLines(readFileSync(output, "utf8"));
  assert.equal(lines.length, CLIENTS * (FIRST + MORE), "every message once");
  for (const id of ids) {
    const seqs = lines.filter((l) => l["clientId"] === id).map((l) => l["seq"]);
    assert.deepEqual(
      seqs,
      Array.from({ length: FIRST + MORE }, (_, i) => i + 1),
      `${id}: each message once, in order`,
    );
  }
  for (const l of lines) assert.equal(l["data"], `${String(l["clientId"])}:${String(l["seq"])}`);
});

test("--workers 2 --state-wait: not ready while a worker's state is locked by the server being replaced, listening once it exits", async (t) => {
  const dir = tempDir(t);
  const args = ["--state", join(dir, "state"), "--output", join(dir, "out.jsonl")];
  const old = await startWorkers(t, [...args, "--drain-window", "300ms"]);
  const { client } = await openClient(old.port, "held"); // keeps the old server draining until its window ends
  const next = start(
    t,
    ["serve", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--workers", "2", "--state-wait", "10m", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = (await next.stderrLine(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1] as string;
  await next.stderrLine(/worker-\d is locked by pid \d+.*waiting up to 600000 ms for it \(--state-wait; not ready\)/);
  const notReady = await get(`${url}/readyz`);
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /FAIL state: state directory .*worker-\d is locked by pid \d+/);

  old.serve.child.kill("SIGTERM");
  await client.waitClosed();
  assert.equal((await old.serve.waitExit()).code, 0, old.serve.stderr);
  await next.stderrLine(/^outlast serve: listening on tcp:\/\/127\.0\.0\.1:\d+ \(2 workers\)$/);
  const ready = await get(`${url}/readyz`);
  assert.equal(ready.status, 200, ready.body);
  assert.match(ready.body, /ok listening: tcp:\/\/127\.0\.0\.1:\d+ \(2 workers\)/);

  // A second signal stops at once: 143 for SIGTERM, without waiting for the drain window.
  const held = await openClient(Number(/tcp:\/\/127\.0\.0\.1:(\d+) \(2/.exec(ready.body)?.[1]), "held");
  next.child.kill("SIGTERM");
  await next.stderrLine(/SIGTERM: draining connections: 1 clients sent elsewhere/);
  next.child.kill("SIGTERM");
  assert.deepEqual(await next.waitExit(), { code: 143, signal: null }, next.stderr);
  await held.client.waitClosed();
});

test("--workers 2: a worker killed is logged and started again; its clients come back to it", async (t) => {
  const dir = tempDir(t);
  const output = join(dir, "out.jsonl");
  const { serve, port, metricsUrl } = await startWorkers(t, [
    "--state",
    join(dir, "state"),
    "--output",
    output,
    "--log-level",
    "debug",
  ]);
  const id = "robot-crash";
  assert.equal(await send(port, id, 1, 3), 0);
  const worker = (await serve.stderrLine(/^outlast serve: worker (\d+): client .*robot-crash.*authenticated/))[1];
  const pid = Number(
    (await serve.stderrLine(new RegExp(`^outlast serve: worker ${worker} ready \\(pid (\\d+)\\)$`)))[1],
  );
  process.kill(pid, "SIGKILL");
  await serve.stderrLine(
    new RegExp(
      `^outlast serve: worker ${worker} exited \\(signal SIGKILL\\); starting it again; its clients are asked to retry`,
    ),
  );
  const restarted = new RegExp(`^outlast serve: worker ${worker} ready \\(pid (?!${pid}\\))(\\d+)\\)$`);
  await serve.stderrLine(restarted);
  const ready = await get(`${metricsUrl}/readyz`);
  assert.equal(ready.status, 200, ready.body);
  assert.match(ready.body, /^ok workers: 2 of 2 serving$/m);
  assert.equal(await send(port, id, 2, 5), 2, "seqs 2 and 3 were written before the kill: duplicates");
  serve.child.kill("SIGTERM");
  assert.deepEqual(await serve.waitExit(), { code: 0, signal: null }, serve.stderr);
  const seqs = jsonLines(readFileSync(output, "utf8")).map((l) => l["seq"]);
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
});
