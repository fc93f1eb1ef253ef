/**
 * The outlast server of bench/fleet.ts: createServer with a no-op synchronous handler
 * and memory state on a given port (default maxConnections: the fd limit minus 5%).
 * IPC: sends { port } once listening; answers "sample" with memory (after a full GC; with the
 * size of V8's young generation, which grows in a connect storm and shrinks at a GC once the
 * server allocates little), CPU time and stats; "sample:settled" reads them 1 s after its GC
 * (V8 returns the pages of a shrunk young generation to the OS from a background thread), "stall:start" / "stall:stop" with the event loop's longest delay
 * in between and what it was made of (stall-watch.ts). Run with --expose-gc.
 * argv: port [maxConnections]
 */
import { getHeapSpaceStatistics } from "node:v8";
import { createServer } from "../../src/server/index.js";
import { StallWatch } from "./stall-watch.js";

const maxConnections = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const server = createServer({ onMessage: () => {}, ...(maxConnections === undefined ? {} : { maxConnections }) });
const { port } = await server.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
process.send?.({ port });
const stalls = new StallWatch();
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
    stalls.start();
  } else if (msg === "stall:stop") {
    process.send?.({ stall: stalls.stop() });
  }
});
