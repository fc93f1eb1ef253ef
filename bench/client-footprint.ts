/**
 * Client footprint benchmark (issue 11): what one client costs to create and
 * to keep idle, for outlast's `connect()` (memory outbox, defaults) beside
 * MQTT.js's `mqtt.connect()` (defaults) to Mosquitto, in the same run. Writes
 * the `client-footprint` section of docs/benchmarks.md.
 *
 * Each round runs each contender in a fresh child process (node --expose-gc)
 * that creates N clients connected to a server in another process (so the
 * server's memory is not counted), waits until every one is connected, and
 * measures, after a full GC:
 * - create: the time of each synchronous `connect()` call (after a warm-up of
 *   the same number of clients, created and closed);
 * - memory per idle client: (after - before) / N of V8 heap used, of memory
 *   held by ArrayBuffers and other external memory, and of RSS.
 *
 * Build and run:
 *   npx tsc -p tsconfig.json --outDir .build-bench && node .build-bench/bench/client-footprint.js
 * Options:
 *   --clients N   clients per round (default 1000)
 *   --rounds N    rounds per contender, interleaved (default 5)
 *   --only a,b    contenders (outlast, mqtt)
 *   --write / --no-write  write docs/benchmarks.md (default: write)
 */

import { fork } from "node:child_process";
import { once } from "node:events";
import os from "node:os";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { forkNodeServer } from "./delivery/node-server-process.js";
import { startMosquitto } from "./delivery/mqtt.js";
import { outlastVersion, packageVersion, repoRoot, writeBenchmarkSection } from "./report.js";

type ContenderName = "outlast" | "mqtt";
const CONTENDERS: readonly ContenderName[] = ["outlast", "mqtt"];

interface ChildResult {
  readonly createMedianMicros: number;
  readonly createP99Micros: number;
  readonly createMeanMicros: number;
  readonly heapBytesPerClient: number;
  readonly externalBytesPerClient: number;
  readonly rssBytesPerClient: number;
}

type ChildMessage = { type: "result"; result: ChildResult } | { type: "failed"; error: string };

// ---- child: one contender, N clients ----

interface Idle {
  close(): Promise<void>;
}

async function createOutlast(port: number, n: number, times: number[]): Promise<Idle[]> {
  const { connect } = await import("../src/index.js");
  const clients = [];
  const opened: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const client = connect(`tcp://127.0.0.1:${port}`);
    times.push(performance.now() - t0);
    clients.push(client);
    opened.push(
      new Promise<void>((resolve, reject) => {
        client.on("stateChange", (e) => {
          if (e.to === "open") resolve();
          else if (e.to === "waiting") reject(e.error ?? new Error("outlast: connection failed"));
        });
      }),
    );
  }
  await Promise.all(opened);
  return clients.map((c) => ({ close: () => c.close() }));
}

async function createMqtt(port: number, n: number, times: number[]): Promise<Idle[]> {
  const mqtt = await import("mqtt");
  const clients = [];
  const opened: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`);
    times.push(performance.now() - t0);
    clients.push(client);
    opened.push(
      new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve());
        client.once("error", reject);
      }),
    );
  }
  await Promise.all(opened);
  return clients.map((c) => ({ close: () => c.endAsync() }));
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run the child with --expose-gc");
  for (let i = 0; i < 4; i++) gc();
}

async function settle(): Promise<void> {
  // Let pending connects, handshakes and their promise chains finish before measuring.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

async function runChild(name: ContenderName, port: number, n: number): Promise<ChildResult> {
  const create = name === "outlast" ? createOutlast : createMqtt;
  // Warm-up: the same work once (module loading, JIT), then everything is closed and collected.
  const warm = await create(port, n, []);
  await Promise.all(warm.map((c) => c.close()));
  warm.length = 0;
  await settle();
  fullGc();
  const before = process.memoryUsage();
  const times: number[] = [];
  const clients = await create(port, n, times);
  await settle();
  fullGc();
  const after = process.memoryUsage();
  const sorted = [...times].sort((a, b) => a - b);
  const result: ChildResult = {
    createMedianMicros: quantile(sorted, 0.5) * 1000,
    createP99Micros: quantile(sorted, 0.99) * 1000,
    createMeanMicros: (times.reduce((a, b) => a + b, 0) / times.length) * 1000,
    heapBytesPerClient: (after.heapUsed - before.heapUsed) / n,
    externalBytesPerClient: (after.external - before.external) / n,
    rssBytesPerClient: (after.rss - before.rss) / n,
  };
  await Promise.all(clients.map((c) => c.close()));
  return result;
}

// ---- orchestrator ----

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function runRound(name: ContenderName, port: number, n: number): Promise<ChildResult> {
  const child = fork(
    fileURLToPath(import.meta.url),
    ["--child", name, "--port", String(port), "--clients", String(n)],
    {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  const exited = once(child, "exit");
  const [msg] = (await Promise.race([
    once(child, "message"),
    exited.then(([code]) => {
      throw new Error(`${name} child exited with ${String(code)} before reporting`);
    }),
  ])) as [ChildMessage];
  await exited;
  if (msg.type === "failed") throw new Error(`${name}: ${msg.error}`);
  return msg.result;
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(1);
const micros = (us: number): string => us.toFixed(1);

async function orchestrate(values: { clients?: string; rounds?: string; only?: string; "no-write"?: boolean }) {
  const n = Number(values.clients ?? 1000);
  const rounds = Number(values.rounds ?? 5);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--clients must be a positive integer, got ${values.clients}`);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  const only = (values.only ?? CONTENDERS.join(",")).split(",").map((s) => s.trim());
  for (const o of only) if (!CONTENDERS.includes(o as ContenderName)) throw new Error(`--only: unknown contender ${o}`);
  const selected = CONTENDERS.filter((c) => only.includes(c));
  const loadAverageAtStart = os.loadavg()[0] ?? 0;
  const servers = new Map<ContenderName, Awaited<ReturnType<typeof startMosquitto>>>();
  const results = new Map<ContenderName, ChildResult[]>();
  const errors = new Map<ContenderName, string>();
  try {
    for (const name of selected) {
      try {
        servers.set(
          name,
          name === "outlast" ? await forkNodeServer("outlast", outlastVersion(), []) : await startMosquitto(),
        );
        results.set(name, []);
      } catch (err) {
        errors.set(name, err instanceof Error ? err.message : String(err));
        process.stderr.write(`[client-footprint] ${name}: cannot start its server: ${errors.get(name)}\n`);
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < selected.length; k++) {
        const name = selected[(k + round) % selected.length] as ContenderName;
        const server = servers.get(name);
        if (server === undefined || errors.has(name)) continue;
        try {
          const r = await runRound(name, server.port, n);
          results.get(name)?.push(r);
          process.stderr.write(
            `[client-footprint] round ${round + 1} ${name}: create median ${micros(r.createMedianMicros)} µs, ` +
              `heap ${kib(r.heapBytesPerClient)} KiB + external ${kib(r.externalBytesPerClient)} KiB, ` +
              `RSS ${kib(r.rssBytesPerClient)} KiB per client\n`,
          );
        } catch (err) {
          errors.set(name, err instanceof Error ? err.message : String(err));
          process.stderr.write(`[client-footprint] ${name} FAILED: ${errors.get(name)}\n`);
        }
      }
    }
  } finally {
    for (const s of servers.values()) await s.stop().catch(() => undefined);
  }

  const script = relative(repoRoot(), process.argv[1] ?? "bench/client-footprint.js");
  const outDir = script.split("/")[0] ?? "dist";
  const build = outDir === "dist" ? "npm run build" : `npx tsc -p tsconfig.json --outDir ${outDir}`;
  const args = process.argv.slice(2);
  const lines = [
    `Run: \`${build} && node ${script}${args.length > 0 ? ` ${args.join(" ")}` : ""}\` (source: \`bench/client-footprint.ts\`). ` +
      `${n.toLocaleString("en-US")} clients per round, ${rounds} rounds per contender, interleaved, each round in a fresh ` +
      `\`node --expose-gc\` child; servers in their own processes (outlast ${outlastVersion()} \`createServer()\`, ` +
      `${servers.get("mqtt")?.version ?? "Mosquitto"}). Load average (1 min) before the run: ${loadAverageAtStart.toFixed(2)} on ` +
      `${os.availableParallelism()} cores.`,
    "",
    "- **create**: the synchronous `connect()` call, after a warm-up of as many clients (created, connected, closed). " +
      "outlast's `connect()` returns before it opens its socket (a microtask later); MQTT.js's opens it inside the call.",
    "- **memory per idle client**: after every client is connected and a full GC, (after - before) / clients of V8 " +
      "`heapUsed`, of `external` (ArrayBuffers, typed arrays, Buffers) and of RSS. Heartbeats at their defaults.",
    "- Medians over the rounds.",
    "",
    "| contender | client version | create median µs | create p99 µs | create mean µs | heap KiB/client | external KiB/client | heap + external KiB/client | RSS KiB/client |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const name of selected) {
    const rs = results.get(name) ?? [];
    const version = name === "outlast" ? `outlast ${outlastVersion()}` : `mqtt ${packageVersion("mqtt")}`;
    if (errors.has(name) || rs.length === 0) {
      lines.push(`| ${name} | ${version} | failed: ${errors.get(name) ?? "no result"} | | | | | | |`);
      continue;
    }
    const m = (f: (r: ChildResult) => number): number => median(rs.map(f));
    lines.push(
      `| ${name} | ${version} | ${micros(m((r) => r.createMedianMicros))} | ${micros(m((r) => r.createP99Micros))} | ` +
        `${micros(m((r) => r.createMeanMicros))} | ${kib(m((r) => r.heapBytesPerClient))} | ` +
        `${kib(m((r) => r.externalBytesPerClient))} | ${kib(m((r) => r.heapBytesPerClient + r.externalBytesPerClient))} | ` +
        `${kib(m((r) => r.rssBytesPerClient))} |`,
    );
  }
  const o = results.get("outlast") ?? [];
  if (o.length > 0) {
    const total = median(o.map((r) => r.heapBytesPerClient + r.externalBytesPerClient));
    const create = median(o.map((r) => r.createMedianMicros));
    const createMean = median(o.map((r) => r.createMeanMicros));
    lines.push(
      "",
      "Goals for outlast (issue 11):",
      "",
      `- <= 16 KiB per idle client (heap + external): ${kib(total)} KiB, **${total <= 16 * 1024 ? "met" : "MISSED"}**`,
      `- <= 0.1 ms to create one: median ${micros(create)} µs, mean ${micros(createMean)} µs (the mean includes the ` +
        `garbage collection the allocations cause), **${Math.max(create, createMean) <= 100 ? "met" : "MISSED"}**`,
    );
  }
  const markdown = lines.join("\n");
  console.log(markdown);
  if (values["no-write"] !== true)
    process.stderr.write(`[client-footprint] wrote ${writeBenchmarkSection("client-footprint", markdown)}\n`);
}

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    port: { type: "string" },
    clients: { type: "string" },
    rounds: { type: "string" },
    only: { type: "string" },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
  },
});

if (values.child !== undefined) {
  const name = values.child as ContenderName;
  try {
    const result = await runChild(name, Number(values.port), Number(values.clients ?? 1000));
    process.send?.({ type: "result", result } satisfies ChildMessage, () => process.exit(0));
  } catch (err) {
    process.send?.(
      { type: "failed", error: err instanceof Error ? err.message : String(err) } satisfies ChildMessage,
      () => process.exit(1),
    );
  }
} else {
  await orchestrate(values);
}
