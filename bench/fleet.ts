/**
 * A fleet against one outlast server (issue #11): N real clients (default options:
 * heartbeat 4 s) spread over child processes (<= 4,000 each: the per-process open-file
 * limit), against createServer (no-op handler, memory state) in its own process.
 * Measured on the server process:
 * - memory per idle connected client: (RSS and heap after a full GC with N clients
 *   idle) - (the same before any client), / N;
 * - idle CPU: server CPU time over an idle window of `--idle-s` seconds, as % of one
 *   core per 1,000 clients;
 * - burst: every client sends one message at once; the event loop's longest stall
 *   (monitorEventLoopDelay) until all are acknowledged;
 * - restart: SIGKILL, restart on the same port; time until every client is open again
 *   and has a first acknowledgement of a new message, the longest stall meanwhile, and
 *   client error events (should be 0).
 *
 * Run (built): node dist/bench/fleet.js --clients 1000,5000 [--idle-s 20] [--write]
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeBenchmarkSection } from "./report.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000,5000" },
    "idle-s": { type: "string", default: "20" },
    write: { type: "boolean", default: false },
  },
});
const PER_PROCESS = 4000;
const dir = import.meta.dirname;

interface Sample {
  rssBytes: number;
  heapBytes: number;
  cpu: { user: number; system: number };
  stats: { connections: number; pings: number };
  atMs: number;
}

function next<T>(child: ChildProcess, pick: (msg: unknown) => T | undefined, timeoutMs = 300_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fleet bench: timed out")), timeoutMs);
    const on = (msg: unknown): void => {
      const v = pick(msg);
      if (v === undefined) return;
      clearTimeout(timer);
      child.off("message", on);
      resolve(v);
    };
    child.on("message", on);
  });
}

async function startServer(port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(dir, "fleet", "server.js"), [String(port)], { execArgv: ["--expose-gc"] });
  return { child, port: await next(child, (m) => (m as { port?: number }).port) };
}

async function ask<T>(child: ChildProcess, msg: string, pick: (m: unknown) => T | undefined): Promise<T> {
  const reply = next(child, pick);
  child.send(msg);
  return reply;
}
const sample = (c: ChildProcess): Promise<Sample> => ask(c, "sample", (m) => (m as { sample?: Sample }).sample);

async function run(total: number): Promise<Record<string, string>> {
  let server = await startServer(0);
  const base = await sample(server.child);
  const procs = Math.ceil(total / PER_PROCESS);
  const per = Math.ceil(total / procs);
  const children = Array.from({ length: procs }, (_, i) =>
    fork(join(dir, "fleet", "clients.js"), [`tcp://127.0.0.1:${server.port}`, `f${i}`, String(per)]),
  );
  const all = <T>(pick: (m: unknown) => T | undefined): Promise<T[]> => Promise.all(children.map((c) => next(c, pick)));
  await all((m) => (m as { open?: number }).open);
  const n = procs * per;
  // Let the connection wave settle (first pings, GC), then the idle window.
  await new Promise((r) => setTimeout(r, 5000));
  const idleStart = await sample(server.child);
  await new Promise((r) => setTimeout(r, Number(values["idle-s"]) * 1000));
  const idleEnd = await sample(server.child);
  const cpuMs = (idleEnd.cpu.user + idleEnd.cpu.system - idleStart.cpu.user - idleStart.cpu.system) / 1000;
  const idlePct = (cpuMs / (idleEnd.atMs - idleStart.atMs)) * 100 * (1000 / n);

  server.child.send("stall:start");
  const burstStart = performance.now();
  await Promise.all(
    children.map((c) => {
      const p = next(c, (m) => (m as { burst?: number }).burst);
      c.send("burst");
      return p;
    }),
  );
  const burstMs = performance.now() - burstStart;
  const burstStall = await ask(server.child, "stall:stop", (m) => (m as { stallMs?: number }).stallMs);

  server.child.kill("SIGKILL");
  await new Promise((r) => server.child.once("exit", r));
  const reopened = all((m) => (m as { open?: number }).open);
  server = await startServer(server.port);
  const restartAt = performance.now();
  server.child.send("stall:start");
  await reopened;
  await Promise.all(
    children.map((c) => {
      const p = next(c, (m) => (m as { burst?: number }).burst);
      c.send("burst");
      return p;
    }),
  );
  const restartMs = performance.now() - restartAt;
  const restartStall = await ask(server.child, "stall:stop", (m) => (m as { stallMs?: number }).stallMs);
  const errors = (
    await Promise.all(children.map((c) => ask(c, "stats", (m) => (m as { errors?: number }).errors)))
  ).reduce((a, b) => a + b, 0);
  for (const c of children) c.send("close");
  await Promise.all(children.map((c) => new Promise((r) => c.once("exit", r))));
  server.child.kill("SIGKILL");
  const row = {
    clients: n.toLocaleString("en-US"),
    rss: ((idleStart.rssBytes - base.rssBytes) / n / 1024).toFixed(2),
    heap: ((idleStart.heapBytes - base.heapBytes) / n / 1024).toFixed(2),
    idle: idlePct.toFixed(2),
    pings: (
      ((idleEnd.stats.pings - idleStart.stats.pings) / ((idleEnd.atMs - idleStart.atMs) / 1000)) *
      (1000 / n)
    ).toFixed(0),
    burst: `${Math.round(burstMs)} ms, stall ${Math.round(burstStall)} ms`,
    restart: `${(restartMs / 1000).toFixed(1)} s, stall ${Math.round(restartStall)} ms, ${errors} error events`,
  };
  console.error(JSON.stringify(row));
  return row;
}

const rows: Record<string, string>[] = [];
for (const n of (values.clients ?? "").split(",").map(Number)) rows.push(await run(n));
const table = `Real clients (\`connect()\`, default options: heartbeat 4 s, dead at 10 s) in child processes of <= ${PER_PROCESS}, against
\`createServer\` (no-op handler, memory state) in its own process, all on this machine (the clients' CPU competes with the
server's). Command: \`node dist/bench/fleet.js --clients ${values.clients} --idle-s ${values["idle-s"]}\`. One run per size.

| clients | RSS / idle client (KiB) | heap / idle client (KiB) | idle CPU, % of a core per 1,000 | pings/s per 1,000 | burst (1 msg each, all acked) | server SIGKILL + restart: all open + first ack |
|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r["clients"]} | ${r["rss"]} | ${r["heap"]} | ${r["idle"]} | ${r["pings"]} | ${r["burst"]} | ${r["restart"]} |`).join("\n")}
`;
console.log(table);
if (values.write) writeBenchmarkSection("fleet", table);
