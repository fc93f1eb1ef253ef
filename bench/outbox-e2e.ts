/**
 * End-to-end acknowledged messages/s through the client with the durable
 * outbox (`connect(url, { outbox: dir })`), beside the raw fdatasync
 * group-commit limit measured in the same run, and the same client with the
 * memory outbox (what the disk costs).
 *
 * - The server (createServer, memory dedup state, a handler that does nothing)
 *   runs in a child process, started once; the client runs here.
 * - 256 B messages, pipelined: at most `window` unacknowledged sends (default
 *   4096, the client's default in-flight window), topped up as each
 *   acknowledgement arrives; msg/s = acknowledged / (last ack - first send).
 *   Each run uses a new client, a new clientId and (durable) a new empty outbox directory.
 * - Raw limit: one positional write + one fdatasync of a batch of pre-encoded
 *   256 B records, in a loop, for as long as the durable run took, with
 *   batch = the mean number of records per group commit that durable run got
 *   (from the outlast:outbox:commit channel). It is how fast a bare loop makes
 *   records durable at the batch sizes the outbox actually had.
 * - Rounds interleave memory, durable and raw runs (disk latency drifts on a
 *   shared machine); medians over the rounds; the ratio is the median of the
 *   per-round ratios.
 *
 * Run: npx tsc -p tsconfig.json --outDir .build-obx && node .build-obx/bench/outbox-e2e.js [--write] [--runs N] [--messages N] [--window N] [--dir DIR] [--server-state DIR]
 * (--server-state DIR: the server keeps its dedup state in DIR, fdatasync'd group commits, instead of memory.)
 * (--write puts the table into docs/benchmarks.md, section "outbox-e2e".)
 */

import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import dc from "node:diagnostics_channel";
import { mkdtemp, rm } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { connect } from "../src/index.js";
import type { Client } from "../src/index.js";
import { createServer } from "../src/server/index.js";
import { rawGroupCommitRate } from "./raw-group-commit.js";
import { machineInfoMarkdown, writeBenchmarkSection } from "./report.js";

const PAYLOAD_BYTES = 256;
const GOAL_MSG_PER_S = 150_000;

const { values } = parseArgs({
  options: {
    serve: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    runs: { type: "string", default: "5" },
    messages: { type: "string", default: "100000" },
    window: { type: "string", default: "4096" },
    dir: { type: "string" },
    /** The server keeps its dedup state in this directory (createServer's `state`); default: memory. */
    "server-state": { type: "string" },
  },
});

if (values.serve) {
  // The server child: report the port, exit when the parent goes away.
  const state = values["server-state"];
  const server = createServer({ onMessage: () => {}, ...(state === undefined ? {} : { state }) });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  process.on("disconnect", () => void server.destroy().then(() => process.exit(0)));
  process.send?.({ port });
} else {
  await main();
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const state = values["server-state"];
  const args = ["--serve", ...(state === undefined ? [] : ["--server-state", state])];
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (m: { port: number }) => resolve({ child, port: m.port }));
    child.once("exit", (code) => reject(new Error(`server child exited with ${String(code)}`)));
  });
}

interface E2eResult {
  readonly msgPerS: number;
  readonly durationMs: number;
  readonly commits: number;
  readonly records: number;
}

/** One pipelined run: `count` messages of 256 B, at most `window` unacknowledged. */
async function e2e(
  port: number,
  outbox: string | undefined,
  count: number,
  window: number,
  tag: string,
): Promise<E2eResult> {
  const client: Client = connect(`tcp://127.0.0.1:${port}`, {
    clientId: `bench-${tag}-${process.pid}`,
    ...(outbox === undefined ? {} : { outbox }),
  });
  let failed: Error | undefined;
  client.on("error", (err: Error) => (failed ??= err));
  client.on("stateChange", (e: { to: string; error: Error | undefined }) => {
    if (e.to === "waiting") failed ??= e.error ?? new Error("link lost during a run");
  });
  let commits = 0;
  let records = 0;
  const onCommit = (m: unknown): void => {
    commits++;
    records += (m as { records: number }).records;
  };
  dc.subscribe("outlast:outbox:commit", onCommit);
  const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61);
  const started = performance.now();
  const acked = await new Promise<number>((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const onAck = (): void => {
      done++;
      if (done === count) resolve(done);
      else if (sent < count) send();
    };
    const send = (): void => {
      sent++;
      client.send(payload).then(onAck, reject);
    };
    while (sent < Math.min(window, count)) send();
  });
  const durationMs = performance.now() - started;
  dc.unsubscribe("outlast:outbox:commit", onCommit);
  await client.close({ timeoutMs: 10_000 });
  if (failed !== undefined) throw failed;
  return { msgPerS: acked / (durationMs / 1000), durationMs, commits, records };
}

/** Raw group commit: one write + one fdatasync of `batch` pre-encoded 256 B records, for `durationMs`; records/s. */
function raw(dir: string, batch: number, durationMs: number): Promise<number> {
  return rawGroupCommitRate(join(dir, "raw.log"), batch, PAYLOAD_BYTES, durationMs);
}

async function main(): Promise<void> {
  const runs = Number(values.runs);
  const count = Number(values.messages);
  const window = Number(values.window);
  const base = await mkdtemp(join(values.dir ?? tmpdir(), "outlast-bench-e2e-"));
  const loadBefore = os.loadavg()[0] ?? 0;
  const t0 = performance.now();
  const { child, port } = await startServer();
  try {
    // Warm-up (JIT, page cache, the server's dedup state for new clients).
    await e2e(port, undefined, Math.min(count, 20_000), window, "warm-mem");
    await e2e(port, join(base, "warm"), Math.min(count, 20_000), window, "warm-file");
    await rm(join(base, "warm"), { recursive: true, force: true });

    const rows: { memory: number; durable: number; raw: number; batch: number; commitsPerS: number }[] = [];
    for (let r = 0; r < runs; r++) {
      const memory = await e2e(port, undefined, count, window, `mem${r}`);
      const dir = join(base, `outbox-${r}`);
      const durable = await e2e(port, dir, count, window, `file${r}`);
      await rm(dir, { recursive: true, force: true });
      const batch = Math.max(1, Math.round(durable.records / Math.max(1, durable.commits)));
      const rawRate = await raw(base, batch, Math.max(300, durable.durationMs));
      const row = {
        memory: memory.msgPerS,
        durable: durable.msgPerS,
        raw: rawRate,
        batch,
        commitsPerS: durable.commits / (durable.durationMs / 1000),
      };
      rows.push(row);
      console.log(
        `round ${r + 1}: memory outbox ${fmt(row.memory)} msg/s, durable outbox ${fmt(row.durable)} msg/s (${fmt(row.commitsPerS)} commits/s, ${batch} records/commit), raw group commit at batch ${batch}: ${fmt(row.raw)} records/s`,
      );
    }

    const med = {
      memory: median(rows.map((x) => x.memory)),
      durable: median(rows.map((x) => x.durable)),
      raw: median(rows.map((x) => x.raw)),
      batch: median(rows.map((x) => x.batch)),
      ratio: median(rows.map((x) => x.durable / x.raw)),
      min: Math.min(...rows.map((x) => x.durable)),
      max: Math.max(...rows.map((x) => x.durable)),
    };
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const verdict =
      med.durable >= GOAL_MSG_PER_S
        ? "**met**"
        : `**MISSED** (${((100 * med.durable) / GOAL_MSG_PER_S).toFixed(0)}% of it)`;
    const md = [
      `Run: \`npx tsc -p tsconfig.json --outDir .build-obx && node .build-obx/bench/outbox-e2e.js --write\` (source: \`bench/outbox-e2e.ts\`). Took ${seconds} s. Load average (1 min) before the run: ${loadBefore.toFixed(2)} on ${os.availableParallelism()} cores; the absolute figures move a lot with the machine's load and disk latency.`,
      "",
      `Method: the client (\`connect(url, { outbox: dir })\`, a new empty directory, a new clientId each run) sends ${fmt(count)} messages of ${PAYLOAD_BYTES} B, pipelined with at most ${fmt(window)} unacknowledged, topped up as acknowledgements arrive; msg/s = acknowledged / time from the first send to the last acknowledgement. The server (\`createServer\`, memory dedup state, a handler that does nothing) runs in its own process on loopback. "memory outbox" is the same client with the default MemoryOutbox. "raw group commit" is a bare loop of one write + one fdatasync of that many pre-encoded records, at the mean batch the durable run's group commits had, for as long as that run took. ${runs} rounds, memory / durable / raw interleaved; medians; the ratio is the median of the per-round ratios.`,
      "",
      "| memory outbox msg/s | durable outbox msg/s (min–max) | records per group commit | raw group commit records/s at that batch | durable / raw |",
      "| ---: | ---: | ---: | ---: | ---: |",
      `| ${fmt(med.memory)} | ${fmt(med.durable)} (${fmt(med.min)}–${fmt(med.max)}) | ${fmt(med.batch)} | ${fmt(med.raw)} | ${(100 * med.ratio).toFixed(0)}% |`,
      "",
      `Goal (issue 4): >= ${fmt(GOAL_MSG_PER_S)} acknowledged msg/s end to end with the durable outbox: ${fmt(med.durable)}/s, ${verdict}.`,
    ].join("\n");
    if (values.write) console.log(`wrote ${writeBenchmarkSection("outbox-e2e", md)}`);
    else console.log(`\n${machineInfoMarkdown()}\n\n${md}`);
  } finally {
    child.disconnect();
    await rm(base, { recursive: true, force: true });
  }
}
