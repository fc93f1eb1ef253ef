/**
 * The outlast pool of bench/fleet.ts (--contenders outlast-pool-K): createServerPool with K
 * workers (pool-worker.ts: what bench/fleet/server.ts runs) on a given port. Same IPC as
 * server.ts: { port } once listening; "sample" / "sample:settled" sum the primary's and every
 * worker's memory and CPU (the stats: pool.stats(), summed over the workers); "stall:stop"
 * reports the worst stall of any of the K + 1 event loops, and the most any of them spent on
 * a CPU between two ticks. Run with --expose-gc (the workers get it too).
 * argv: port workers [maxConnections]
 */
import net from "node:net";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { createServerPool } from "../../src/server/index.js";
import { probe } from "./probe.js";
import type { ProbeReply, ProcessSample } from "./probe.js";
import type { StallReport } from "./stall-watch.js";

const workers = Number(process.argv[3]);
/** The workers' control connections; their answers by request id. */
const links = new Set<Socket>();
const waiting = new Map<number, (reply: ProbeReply) => void>();
let nextId = 0;
const control = net.createServer((socket) => {
  links.add(socket);
  socket.on("close", () => links.delete(socket));
  socket.on("error", () => {});
  createInterface({ input: socket }).on("line", (line) => {
    const { id, reply } = JSON.parse(line) as { id: number; reply: ProbeReply | null };
    waiting.get(id)?.(reply ?? undefined);
    waiting.delete(id);
  });
});
control.listen(0, "127.0.0.1");
await new Promise((resolve) => control.once("listening", resolve));
const controlPort = (control.address() as net.AddressInfo).port;

const pool = createServerPool({
  workers,
  module: new URL("./pool-worker.js", import.meta.url),
  execArgv: ["--expose-gc"],
  env: { BENCH_POOL_CONTROL: String(controlPort) },
});
const { port } = await pool.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
while (links.size < workers) await new Promise((r) => setTimeout(r, 10));
process.send?.({ port });

function ask(socket: Socket, msg: unknown): Promise<ProbeReply> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    socket.write(`${JSON.stringify({ id, msg })}\n`);
  });
}

const own = probe(() => undefined);
process.on("message", (msg) => {
  void (async () => {
    const replies = await Promise.all([own(msg), ...[...links].map((s) => ask(s, msg))]);
    if (msg === "sample" || msg === "sample:settled") {
      const samples = replies.map((r) => (r as { sample: ProcessSample }).sample);
      const sum = (pick: (s: ProcessSample) => number | undefined): number =>
        samples.reduce((total, s) => total + (pick(s) ?? 0), 0);
      process.send?.({
        sample: {
          rssBytes: sum((s) => s.rssBytes),
          heapBytes: sum((s) => s.heapBytes),
          newSpaceBytes: sum((s) => s.newSpaceBytes),
          cpuMs: sum((s) => s.cpuMs),
          stats: await pool.stats(),
          atMs: performance.now(),
        },
      });
    } else if (msg === "stall:stop") {
      const reports = replies.map((r) => (r as { stall: StallReport }).stall);
      const worst = [...reports].sort((a, b) => b.stallMs - a.stallMs)[0] as StallReport;
      process.send?.({ stall: { ...worst, maxCpuMs: Math.max(...reports.map((r) => r.maxCpuMs)) } });
    }
  })();
});
