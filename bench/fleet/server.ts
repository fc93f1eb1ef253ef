/**
 * The outlast server of bench/fleet.ts: createServer with a no-op synchronous handler
 * and memory state on a given port (default maxConnections: the fd limit minus 5%).
 * IPC: sends { port } once listening; answers "sample" with memory (after a full GC; with the
 * size of V8's young generation, which grows in a connect storm and shrinks at a GC once the
 * server allocates little), CPU time and stats; "sample:settled" reads them 1 s after its GC
 * (V8 returns the pages of a shrunk young generation to the OS from a background thread), "stall:start" / "stall:stop" with the event loop's longest delay
 * in between (monitorEventLoopDelay, 10 ms resolution). Run with --expose-gc.
 * argv: port [maxConnections]
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { createServer } from "../../src/server/index.js";

const maxConnections = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const server = createServer({ onMessage: () => {}, ...(maxConnections === undefined ? {} : { maxConnections }) });
const { port } = await server.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
process.send?.({ port });
let histogram = monitorEventLoopDelay({ resolution: 10 });
function sample(): void {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  process.send?.({
    sample: {
      rssBytes: mem.rss,
      heapBytes: mem.heapUsed,
      newSpaceBytes: getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size,
      cpuMs: (cpu.user + cpu.system) / 1000,
      stats: server.stats(),
      atMs: performance.now(),
    },
  });
}

process.on("message", (msg) => {
  if (msg === "sample" || msg === "sample:settled") {
    (globalThis as { gc?: () => void }).gc?.();
    if (msg === "sample:settled") setTimeout(sample, 1000);
    else sample();
  } else if (msg === "stall:start") {
    histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
  } else if (msg === "stall:stop") {
    histogram.disable();
    process.send?.({ stallMs: histogram.max / 1e6 });
  }
});
