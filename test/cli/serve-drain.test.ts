/**
 * SIGTERM drains `outlast serve`: 1,000 clients in 4 child processes stream to
 * server A while server B runs beside it; SIGTERM to A. Every client is told
 * GOODBYE at a moment spread over --drain-window and moves on its own, through
 * its list of two addresses, to B; nothing is lost or written twice, no client
 * sees an error, A exits 0 (a drain past --drain-timeout would exit 1).
 */
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { start, tempDir } from "./cli-process.js";
import type { FleetClientReport } from "./drain-fleet-child.js";

const CHILDREN = 4;
const PER_CHILD = Number(process.env["OUTLAST_TEST_DRAIN_CLIENTS"] ?? 250);
const INTERVAL_MS = 300;
const WINDOW_MS = 3000;
const WAIT_MS = 120_000;
const childPath = fileURLToPath(new URL("./drain-fleet-child.js", import.meta.url));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function waitFor<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${type} from a fleet child`)), WAIT_MS);
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(m as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`fleet child exited (${code}) before ${type}`)));
  });
}

test("SIGTERM with 1,000 clients mid-stream: all move to the second server within the drain window, 0 lost, exit 0", async (t) => {
  const dir = tempDir(t);
  const a = start(
    t,
    [
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--state",
      join(dir, "a"),
      "--drain-window",
      `${WINDOW_MS}ms`,
      "--drain-timeout",
      "60s",
      // A starved client may be silent for long (see drain-fleet-child.ts): only the drain ends a link here.
      "--idle-timeout",
      "120s",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const portA = Number((await a.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);
  // B's address is in every client's list from the start, but B starts later: every client begins on A.
  const portB = await freePort();
  const urlA = `tcp://127.0.0.1:${portA}`;
  const urlB = `tcp://127.0.0.1:${portB}`;

  const children = Array.from({ length: CHILDREN }, (_, i) => {
    const child = fork(childPath, [urlA, urlB, String(PER_CHILD), String(i * PER_CHILD), String(INTERVAL_MS)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    t.after(() => child.kill("SIGKILL"));
    return child;
  });
  await Promise.all(children.map((c) => waitFor(c, "connected")));

  const b = start(t, ["serve", "--listen", `127.0.0.1:${portB}`, "--state", join(dir, "b"), "--idle-timeout", "120s"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await b.stderrLine(/listening on tcp:\/\//);

  for (const c of children) c.send({ type: "go" });
  const total = CHILDREN * PER_CHILD;
  let linesA = 0;
  a.child.stdout?.on("data", (chunk: string) => {
    for (let i = chunk.indexOf("\n"); i !== -1; i = chunk.indexOf("\n", i + 1)) linesA++;
  });
  // Mid-stream: A has written two messages per client.
  await a.until("two messages per client on A", () => (linesA >= 2 * total ? true : undefined), WAIT_MS);
  const sigtermAtMs = Date.now();
  a.child.kill("SIGTERM");
  const exitA = await a.waitExit(WAIT_MS);
  // The clients keep streaming (now to B) a moment, then stop and wait for their acknowledgements.
  await b.until("messages on B", () => (b.stdout.length > 0 ? true : undefined), WAIT_MS);
  const done = children.map((c) => waitFor<{ reports: FleetClientReport[] }>(c, "done"));
  for (const c of children) c.send({ type: "stop" });
  const reports = (await Promise.all(done)).flatMap((d) => d.reports);
  b.child.kill("SIGTERM");
  assert.equal((await b.waitExit(WAIT_MS)).code, 0, b.stderr);

  assert.deepEqual(exitA, { code: 0, signal: null }, a.stderr);
  // 0 lost, 0 written twice: A's and B's outputs together hold each message exactly once.
  const written = new Map<string, number>();
  for (const line of `${a.stdout}${b.stdout}`.split("\n")) {
    if (line === "") continue;
    const data = String((JSON.parse(line) as { data: string }).data);
    written.set(data, (written.get(data) ?? 0) + 1);
  }
  let lost = 0;
  let twice = 0;
  let sent = 0;
  const culprits = new Set<FleetClientReport>();
  for (const r of reports)
    for (let k = 1; k <= r.sent; k++, sent++) {
      const n = written.get(`${r.clientId}:${k}`) ?? 0;
      if (n === 0) lost++;
      if (n > 1) twice++;
      if (n !== 1) culprits.add(r);
    }
  // What a red run needs to be understood: how the clients concerned moved, and what A said about them.
  const why = (): string =>
    [...culprits]
      .slice(0, 5)
      .map((r) => {
        const aSaid = a.stderr
          .split("\n")
          .filter((l) => l.includes(`"${r.clientId}"`))
          .slice(0, 6)
          .join("\n    ");
        return `${JSON.stringify({ ...r, sigtermAtMs })}\n    ${aSaid}`;
      })
      .join("\n  ");
  assert.equal(reports.length, total);
  // A link that ended other than by GOODBYE explains a message written twice: say so first.
  const leftEarly = reports.filter((r) => r.lost.some((l) => !l.endsWith(" GOODBYE")));
  assert.deepEqual(
    leftEarly.slice(0, 5).map((r) => `${r.clientId}: ${r.lost.join(", ")}`),
    [],
    `${leftEarly.length} clients lost a link other than by the drain's GOODBYE (sigterm at ${sigtermAtMs})`,
  );
  assert.equal(lost, 0, `lost, ${culprits.size} clients:\n  ${why()}`);
  assert.equal(twice, 0, `written twice, ${culprits.size} clients:\n  ${why()}`);
  assert.equal(written.size, sent);

  // A's own account (JSON log): when the drain started, when each connection closed "drained".
  const logA = a.stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const drainStartMs = Date.parse(String(logA.find((l) => l["event"] === "serve.draining")?.["time"]));
  const drainedMs = logA
    .filter((l) => l["event"] === "connection.closed" && l["reason"] === "drained")
    .map((l) => Date.parse(String(l["time"])) - drainStartMs);
  console.log(
    `# drain (A's log): SIGTERM handled +${drainStartMs - sigtermAtMs} ms; ${drainedMs.length} connections closed "drained" from +${Math.min(...drainedMs)} to +${Math.max(...drainedMs)} ms`,
  );
  const goodbyes = reports.flatMap((r) => r.goodbyeAtMs);
  const spreadMs = Math.max(...goodbyes) - Math.min(...goodbyes);
  const moveMs = reports.map((r) => (r.openAtMs.at(-1) ?? 0) - (r.goodbyeAtMs[0] ?? 0)).sort((x, y) => x - y);
  console.log(
    `# drain: ${total} clients, GOODBYEs spread over ${spreadMs} ms (window ${WINDOW_MS} ms), first at +${Math.min(...goodbyes) - sigtermAtMs} ms after SIGTERM; ` +
      `GOODBYE -> open on B: median ${moveMs[Math.floor(moveMs.length / 2)]} ms, max ${moveMs.at(-1)} ms`,
  );
  for (const r of reports) {
    const about = `${r.clientId} (${JSON.stringify({ ...r, sigtermAtMs })})`;
    assert.deepEqual(r.errors, [], `${about}: no error event`);
    assert.equal(r.acknowledged, r.sent, `${about}: every message acknowledged`);
    assert.equal(r.opens[0], urlA, `${about} began on A`);
    assert.equal(r.opens.at(-1), urlB, `${about} ended on B`);
    assert.equal(r.goodbyeAtMs.length, 1, `${about}: one GOODBYE`);
    assert.equal(r.reconnects["goodbye"], 1, `${about}: counted as a goodbye reconnect`);
  }
  // Spread, not a storm: the GOODBYEs cover most of the window (random moments within it).
  assert.ok(spreadMs >= WINDOW_MS / 2, `GOODBYEs spread over ${spreadMs} ms only`);
});
