/**
 * What handing a connection from a pool's primary to a worker costs (docs/server.md, "Several
 * processes"): the server's CPU time per connection (accept, HELLO, WELCOME, close) for a plain
 * server, and for a pool of one worker split into the primary's part (accept, read the HELLO,
 * decode it, send the socket over IPC) and the worker's (receive it, adopt, handshake, close).
 * The worker's extra over a plain server is its share of the hand-off.
 *
 * The servers run in a child process (bench/pool-handoff/server.ts); this process only drives
 * raw clients (a pre-encoded v2 HELLO, wait for the WELCOME, destroy), `--concurrency` at a time.
 * CPU time comes from /proc/<pid>/stat (utime + stime, clock ticks: 10 ms), so runs are long
 * enough to count thousands of ticks between them. Modes alternate; medians over `--runs`.
 *
 * Run (after building; Linux): flock /tmp/outlast-bench.lock node dist/bench/pool-handoff.js [--runs 5] [--connections 10000] [--concurrency 100]
 */

import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { encodeFrame } from "../src/protocol/frame-encoder.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    connections: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "100" },
  },
});
const runs = Number(values.runs);
const connections = Number(values.connections);
const concurrency = Number(values.concurrency);
const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux

const HELLO = encodeFrame({
  type: "hello",
  minVersion: 1,
  maxVersion: 2,
  heartbeatIntervalMs: 6000,
  maxFrameBytes: 1 << 20,
  clientId: "bench-client-0000",
  token: new Uint8Array(),
});

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

/** One connection: HELLO (a distinct clientId each), wait for the WELCOME, close. */
function handshake(port: number, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.setNoDelay(true);
    socket.on("error", reject);
    socket.once("connect", () => {
      const hello = Buffer.from(HELLO);
      hello.write(String(i).padStart(4, "0").slice(-4), hello.length - 4 - 4, "latin1"); // last 4 chars of the id
      socket.write(hello);
    });
    socket.once("data", () => {
      socket.destroy();
      resolve();
    });
  });
}

async function drive(port: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < connections) await handshake(port, next++);
    }),
  );
}

interface Sample {
  /** µs of server CPU per connection: the plain server's, or the pool's primary and worker. */
  readonly primaryUs: number;
  readonly workerUs: number;
}

async function run(mode: "plain" | "pool"): Promise<Sample> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "pool-handoff", "server.js"), mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  const { port, primary, workers } = JSON.parse(line) as { port: number; primary: number; workers: number[] };
  await drive(port); // warm-up: JIT, pools
  const before = [cpuTicks(primary), ...workers.map(cpuTicks)];
  await drive(port);
  const after = [cpuTicks(primary), ...workers.map(cpuTicks)];
  child.kill("SIGKILL");
  for (const pid of workers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone with its primary
    }
  }
  const us = (i: number): number => (((after[i] as number) - (before[i] as number)) * TICK_US) / connections;
  return { primaryUs: us(0), workerUs: workers.length > 0 ? us(1) : 0 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const plain: Sample[] = [];
const pool: Sample[] = [];
const load = [loadavg()[0] as number];
for (let r = 0; r < runs; r++) {
  plain.push(await run("plain"));
  pool.push(await run("pool"));
  load.push(loadavg()[0] as number);
}
const plainUs = median(plain.map((s) => s.primaryUs));
const primaryUs = median(pool.map((s) => s.primaryUs));
const workerUs = median(pool.map((s) => s.workerUs));
process.stdout.write(
  `pool hand-off, ${connections} connections x ${runs} runs, ${concurrency} at a time; ` +
    `Node ${process.version}; load ${load.map((l) => l.toFixed(1)).join("/")}\n` +
    `server CPU per connection (median; accept, HELLO, WELCOME, close):\n` +
    `  plain server:   ${plainUs.toFixed(1)} µs   (runs: ${plain.map((s) => s.primaryUs.toFixed(0)).join(", ")})\n` +
    `  pool primary:   ${primaryUs.toFixed(1)} µs   (runs: ${pool.map((s) => s.primaryUs.toFixed(0)).join(", ")})\n` +
    `  pool worker:    ${workerUs.toFixed(1)} µs   (runs: ${pool.map((s) => s.workerUs.toFixed(0)).join(", ")})\n` +
    `  worker - plain: ${(workerUs - plainUs).toFixed(1)} µs (the worker's share of the hand-off)\n`,
);
