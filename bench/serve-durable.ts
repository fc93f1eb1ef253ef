/**
 * `outlast serve` with the batch handler: one sender into a durable serve
 * (`--state DIR --output FILE`: the output fdatasync'd and the dedup state
 * group-committed before each ACK) against the same sender into
 * `--output /dev/null` without state, in the same run (issue #11's goal: the
 * durable one >= 40% of the other).
 *
 * - Each run starts a fresh `outlast serve` child (the built CLI, dist/src/cli/main.js)
 *   on a free loopback port, and one client here (`connect()`, memory outbox,
 *   default window) that sends N ~230 B messages as fast as the window allows;
 *   msg/s = N / (last ACK - first send).
 * - Rounds interleave the two kinds (disk latency drifts on a shared machine);
 *   medians over rounds; the ratio is the median of the per-round ratios.
 *
 * Run (after building): node dist/bench/serve-durable.js [--runs N] [--messages N] [--write]
 */

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { connect } from "../src/index.js";
import { repoRoot, writeBenchmarkSection } from "./report.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    messages: { type: "string", default: "50000" },
    write: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const messages = Number(values.messages);
const payload = Buffer.from(
  `{"robot":"r-0042","t":1733356800000,"pose":[1.25,-3.5,0.75],"battery":0.82,"status":"ok"}`.padEnd(230, " "),
);

async function serve(args: string[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const cli = join(repoRoot(), "dist", "src", "cli", "main.js");
  const child = spawn(process.execPath, [cli, "serve", "--listen", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on("line", (line) => {
      const m = /listening on tcp:\/\/[^:]+:(\d+)/.exec(line);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`outlast serve exited (${code})`)));
  });
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

async function oneRun(durable: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "outlast-serve-bench-"));
  const args = durable
    ? ["--state", join(dir, "state"), "--output", join(dir, "out.jsonl")]
    : ["--output", "/dev/null"];
  const server = await serve(args);
  const client = connect(`tcp://127.0.0.1:${server.port}`, { clientId: `bench-${durable ? "d" : "m"}-${Date.now()}` });
  try {
    const start = performance.now();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < messages; i++) {
      acks.push(client.send(payload));
      if (i % 4096 === 4095) await acks[i - 2048]; // keep the queue bounded, the window full
    }
    await Promise.all(acks);
    return messages / ((performance.now() - start) / 1000);
  } finally {
    await client.destroy();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const plain: number[] = [];
const durable: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < runs; r++) {
  const p = await oneRun(false);
  const d = await oneRun(true);
  plain.push(p);
  durable.push(d);
  ratios.push(d / p);
  console.error(
    `round ${r + 1}: /dev/null ${Math.round(p)} msg/s, durable ${Math.round(d)} msg/s, ratio ${(d / p).toFixed(2)}`,
  );
}
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const table = `One sender (\`connect()\`, memory outbox, default window), ${fmt(messages)} messages of 230 B, into a fresh
\`outlast serve\` per run; medians of ${runs} interleaved rounds. Command: \`node dist/bench/serve-durable.js --runs ${runs} --messages ${messages}\`.

| \`outlast serve\` | msg/s (median) | rounds |
|---|---|---|
| \`--output /dev/null\`, no state | ${fmt(median(plain))} | ${plain.map(fmt).join(", ")} |
| \`--state DIR --output FILE\` (fdatasync'd output + state) | ${fmt(median(durable))} | ${durable.map(fmt).join(", ")} |
| durable / no state | ${median(ratios).toFixed(2)} | ${ratios.map((x) => x.toFixed(2)).join(", ")} |
`;
console.log(table);
if (values.write) writeBenchmarkSection("serve-durable", table);
