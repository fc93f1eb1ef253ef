/**
 * Gateways into JetStream, beside nats.js publishing straight to JetStream, in one run
 * against one local 3-node cluster (R3 streams, nats-server from PATH):
 * - nats.js direct: async publish, 256 in flight, each with Nats-Msg-Id;
 * - outlast: client(s) -> one gateway (a child process: `outlast serve --forward`) -> R3 stream,
 *   for 1 and 100 clients: acknowledged msg/s and p50/p99 send-to-acknowledgement latency;
 * - a single robot's 10,000-message backlog replayed when its gateway comes up.
 * Each case runs 3 times on a fresh stream; the table shows medians.
 *
 * Run: npm run bench:gateway (BENCH_GATEWAY_MESSAGES sizes the throughput cases; default 30000).
 */

import { performance } from "node:perf_hooks";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, headers } from "@nats-io/transport-node";
import { connect } from "../src/client/client.js";
import type { Client } from "../src/client/client.js";
import { NatsCluster, freePort } from "../test/helpers/nats-cluster.js";
import { addStream, deleteStream } from "../test/helpers/nats-stream.js";
import { GatewayProcess } from "../test/gateway/gateway-process.js";
import { packageVersion, writeBenchmarkSection } from "./report.js";

const MESSAGES = Number(process.env["BENCH_GATEWAY_MESSAGES"] ?? 30_000);
const RUNS = 3;
const PAYLOAD = Buffer.alloc(64, 120);

interface Result {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

function summarize(latencies: number[], elapsedMs: number, count: number): Result {
  latencies.sort((a, b) => a - b);
  return { rate: (count / elapsedMs) * 1000, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

function median(results: readonly Result[]): Result {
  const pick = (f: (r: Result) => number): number => {
    const v = results.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)] ?? 0;
  };
  return { rate: pick((r) => r.rate), p50: pick((r) => r.p50), p99: pick((r) => r.p99) };
}

async function freshStream(cluster: NatsCluster, name: string): Promise<void> {
  await deleteStream(cluster.urls, name);
  await addStream(cluster.urls, { name, subjects: [`${name}.>`], num_replicas: 3, storage: "file" });
}

async function natsDirect(cluster: NatsCluster, stream: string): Promise<Result> {
  const nc = await natsConnect({ servers: cluster.urls.split(",") });
  try {
    const js = jetstream(nc);
    await jetstreamManager(nc, { checkAPI: false });
    const latencies: number[] = [];
    const inFlight = 256;
    let next = 0;
    const start = performance.now();
    const worker = async (): Promise<void> => {
      while (next < MESSAGES) {
        const n = ++next;
        const h = headers();
        h.set("Outlast-Client-Id", "direct");
        h.set("Outlast-Seq", String(n));
        const t0 = performance.now();
        await js.publish(`${stream}.direct`, PAYLOAD, { msgID: `direct:${n}`, headers: h });
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return summarize(latencies, performance.now() - start, MESSAGES);
  } finally {
    await nc.close();
  }
}

async function throughGateway(port: number, clients: number, tag: string): Promise<Result> {
  const list: Client[] = [];
  for (let c = 0; c < clients; c++) list.push(connect(`tcp://127.0.0.1:${port}`, { clientId: `${tag}-${c}` }));
  try {
    // Connected first (WELCOME read the mark), then timed.
    await Promise.all(list.map((c) => c.flush({ timeoutMs: 30_000 })));
    await Promise.all(list.map((c) => c.send("warm-up")));
    const per = Math.floor(MESSAGES / clients);
    const latencies: number[] = [];
    const start = performance.now();
    await Promise.all(
      list.map(async (client) => {
        const sends: Promise<void>[] = [];
        for (let i = 0; i < per; i++) {
          const t0 = performance.now();
          sends.push(client.send(PAYLOAD).then(() => void latencies.push(performance.now() - t0)));
        }
        await Promise.all(sends);
      }),
    );
    return summarize(latencies, performance.now() - start, per * clients);
  } finally {
    await Promise.all(list.map((c) => c.destroy()));
  }
}

/** A robot holds 10,000 messages while its gateway is down; time from the gateway listening to the last acknowledgement. */
async function backlog(cluster: NatsCluster, stream: string): Promise<number> {
  const port = await freePort();
  const client = connect(`tcp://127.0.0.1:${port}`, { clientId: "backlog", backoff: { baseMs: 5, capMs: 20 } });
  client.on("error", () => undefined);
  try {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) sends.push(client.send(PAYLOAD));
    const gateway = new GatewayProcess(port, ["--forward", cluster.urls, "--stream", stream]);
    await gateway.start();
    const start = performance.now();
    await Promise.all(sends);
    const ms = performance.now() - start;
    await gateway.kill("SIGTERM");
    return ms;
  } finally {
    await client.destroy();
  }
}

async function main(): Promise<void> {
  const cluster = await NatsCluster.start();
  try {
    await freshStream(cluster, "WARM");
    const direct: Result[] = [];
    const one: Result[] = [];
    const hundred: Result[] = [];
    const replays: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await freshStream(cluster, "BENCH");
      direct.push(await natsDirect(cluster, "BENCH"));
      const port = await freePort();
      const gateway = new GatewayProcess(port, ["--forward", cluster.urls, "--stream", "BENCH"]);
      await gateway.start();
      one.push(await throughGateway(port, 1, `one${run}`));
      hundred.push(await throughGateway(port, 100, `hundred${run}`));
      await gateway.kill("SIGTERM");
      await freshStream(cluster, "BACKLOG");
      replays.push(await backlog(cluster, "BACKLOG"));
      process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
    }
    const d = median(direct);
    const o = median(one);
    const h = median(hundred);
    const replay = [...replays].sort((a, b) => a - b)[Math.floor(replays.length / 2)] ?? 0;
    const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
    const ms = (n: number): string => n.toFixed(2);
    const best = Math.max(o.rate, h.rate);
    const markdown = `Run: \`npm run bench:gateway\` (source: \`bench/gateway.ts\`). nats-server 2.9.10, 3 nodes on loopback (one machine), R3 file streams; @nats-io/jetstream ${packageVersion("@nats-io/jetstream")}, @nats-io/transport-node ${packageVersion("@nats-io/transport-node")}. ${MESSAGES.toLocaleString("en-US")} messages of 64 bytes per case, median of ${RUNS} runs, every case in the same run against the same cluster. The gateway is one \`outlast serve --forward\` child process; latency is from \`send()\` to its acknowledgement (outlast) or to the PubAck (nats.js).

| path | acknowledged msg/s | p50 ms | p99 ms |
| --- | ---: | ---: | ---: |
| nats.js straight to JetStream (async, 256 in flight, Nats-Msg-Id) | ${fmt(d.rate)} | ${ms(d.p50)} | ${ms(d.p99)} |
| outlast: 1 client -> gateway -> R3 stream | ${fmt(o.rate)} | ${ms(o.p50)} | ${ms(o.p99)} |
| outlast: 100 clients -> gateway -> R3 stream | ${fmt(h.rate)} | ${ms(h.p50)} | ${ms(h.p99)} |

Goal (issue 10): through the gateways >= 60% of nats.js's own direct rate: **${((best / d.rate) * 100).toFixed(0)}%** (best of 1 and 100 clients; 1 client ${((o.rate / d.rate) * 100).toFixed(0)}%, 100 clients ${((h.rate / d.rate) * 100).toFixed(0)}%), ${best / d.rate >= 0.6 ? "met" : "not met"}. A single robot replays a 10,000-message backlog (held while its gateway was down) in **${(replay / 1000).toFixed(2)} s** from the gateway listening to the last acknowledgement (goal <= 5 s, ${replay <= 5000 ? "met" : "not met"}).

The latencies of the outlast rows include the time a message waits in the client's window and the gateway's per-client pipeline (256 publishes in flight per client) behind the messages sent before it: every message of the run is sent at once.`;
    const file = writeBenchmarkSection("gateway", markdown);
    process.stdout.write(`${markdown}\n\nwritten to ${file}\n`);
  } finally {
    await cluster.stop();
  }
}

await main();
