/**
 * What a fleet bench server process answers (bench/fleet/server.ts, and each process of a pool:
 * pool-server.ts, pool-worker.ts): "sample" reads memory after a full GC (with the size of V8's
 * young generation, which grows in a connect storm and shrinks at a GC once the server
 * allocates little), CPU time and the server's stats; "sample:settled" reads them 1 s after its
 * GC (V8 returns the pages of a shrunk young generation to the OS from a background thread);
 * "stall:start" / "stall:stop" watch the event loop's longest stall and its parts (stall-watch.ts).
 * Needs --expose-gc for the GC.
 */
import { getHeapSpaceStatistics } from "node:v8";
import { StallWatch } from "./stall-watch.js";
import type { StallReport } from "./stall-watch.js";

export interface ProcessSample {
  rssBytes: number;
  heapBytes: number;
  newSpaceBytes: number | undefined;
  cpuMs: number;
  stats: unknown;
  atMs: number;
}

export type ProbeReply = { sample: ProcessSample } | { stall: StallReport } | undefined;

export function probe(stats: () => unknown): (msg: unknown) => Promise<ProbeReply> {
  const stalls = new StallWatch();
  const sample = (): ProcessSample => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    return {
      rssBytes: mem.rss,
      heapBytes: mem.heapUsed,
      newSpaceBytes: getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size,
      cpuMs: (cpu.user + cpu.system) / 1000,
      stats: stats(),
      atMs: performance.now(),
    };
  };
  return async (msg) => {
    if (msg === "sample" || msg === "sample:settled") {
      (globalThis as { gc?: () => void }).gc?.();
      if (msg === "sample:settled") await new Promise((r) => setTimeout(r, 1000));
      return { sample: sample() };
    }
    if (msg === "stall:start") stalls.start();
    if (msg === "stall:stop") return { stall: stalls.stop() };
    return undefined;
  };
}
