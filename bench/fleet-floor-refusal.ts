/**
 * What one refusal costs the server (issue #11: turning clients away), beside its floors:
 * - outlast: createServer with maxConnections 1 (held by one client): every other connection
 *   gets ERROR OUTLAST_SERVER_BUSY and FIN, and is destroyed 2 s later (turn-away.ts);
 * - bare: a bare Node `net` server (pauseOnConnect) doing the same: write an 80-byte frame, FIN,
 *   destroy 2 s later: the floor of any refusal that answers with a frame;
 * - drop: Node's `server.maxConnections` reached: the connection is closed before a Socket is
 *   made ('drop'), no frame: what outlast does past its hard limit.
 * The server runs in its own process; the clients (this process) keep `--concurrency` connections
 * in flight, each saying HELLO and waiting for the close, until `--refusals` were refused. Server
 * CPU (user + system) over that time / refusals.
 *
 * Run (built): node dist/bench/fleet-floor-refusal.js [--refusals 5000] [--concurrency 50] [--runs 3] [--write]
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { encodeFrame } from "../src/protocol/frame-encoder.js";
import { PROTOCOL_VERSION } from "../src/protocol/frames.js";
import { createServer } from "../src/server/index.js";
import { writeBenchmarkSection } from "./report.js";
import { next } from "./fleet/next-message.js";

type Mode = "outlast" | "bare" | "drop";
const LINGER_MS = 2000;
const HELLO = encodeFrame({
  type: "hello",
  minVersion: 1,
  maxVersion: PROTOCOL_VERSION,
  clientId: "refused",
  token: new Uint8Array(0),
  heartbeatIntervalMs: 60_000,
  maxFrameBytes: 1 << 20,
});

async function server(mode: Mode): Promise<void> {
  let port: number;
  if (mode === "outlast") {
    const srv = createServer({ onMessage: () => {}, maxConnections: 1 });
    port = (await srv.listen({ port: 0, host: "127.0.0.1" })).port;
  } else {
    const frame = Buffer.alloc(80);
    const srv = net.createServer({ pauseOnConnect: true }, (socket) => {
      socket.on("error", () => {});
      socket.end(frame);
      setTimeout(() => socket.destroy(), LINGER_MS);
    });
    if (mode === "drop") srv.maxConnections = 1; // the first connection lingers; the rest are dropped
    srv.on("drop", () => {});
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    port = (srv.address() as AddressInfo).port;
  }
  process.send?.({ port });
  let cpuAtStart = process.cpuUsage();
  process.on("message", (m: string) => {
    if (m === "start") {
      cpuAtStart = process.cpuUsage();
      process.send?.({ started: true });
    } else if (m === "stop") {
      const cpu = process.cpuUsage(cpuAtStart);
      process.send?.({ cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (m === "exit") process.exit(0);
  });
}

async function refuseOnce(mode: Mode, refusals: number, concurrency: number): Promise<{ us: number; frames: number }> {
  const srv = fork(import.meta.filename, ["server", mode]);
  const port = await next(srv, (m) => (m as { port?: number }).port);
  if (mode === "outlast") {
    const held = net.connect(port, "127.0.0.1", () => held.write(HELLO)); // takes the one slot
    await once(held, "data");
  }
  const started = next(srv, (m) => (m as { started?: boolean }).started);
  srv.send("start");
  await started;
  let begun = 0;
  let closed = 0;
  let frames = 0;
  await new Promise<void>((resolve) => {
    const one = (): void => {
      if (begun >= refusals) return;
      begun++;
      const s = net.connect(port, "127.0.0.1", () => s.write(HELLO));
      s.on("data", () => frames++);
      s.on("error", () => {});
      s.on("close", () => {
        if (++closed === refusals) resolve();
        else one();
      });
    };
    for (let i = 0; i < concurrency; i++) one();
  });
  const cpu = next(srv, (m) => (m as { cpuMs?: number }).cpuMs);
  srv.send("stop");
  const cpuMs = await cpu;
  const exited = once(srv, "exit");
  srv.send("exit");
  await exited;
  return { us: (cpuMs * 1000) / refusals, frames };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      refusals: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "50" },
      runs: { type: "string", default: "3" },
      write: { type: "boolean", default: false },
    },
  });
  const refusals = Number(values.refusals);
  const concurrency = Number(values.concurrency);
  const runs = Number(values.runs);
  const text: Record<Mode, string> = {
    outlast: "outlast: ERROR OUTLAST_SERVER_BUSY + FIN, destroyed 2 s later",
    bare: "bare Node `net` (pauseOnConnect): 80-byte frame + FIN, destroyed 2 s later",
    drop: "Node `maxConnections` reached ('drop'): closed without a Socket or a frame",
  };
  const rows: string[] = [];
  for (const mode of ["outlast", "bare", "drop"] as const) {
    const us: number[] = [];
    const loads: string[] = [];
    for (let i = 0; i < runs; i++) {
      loads.push(loadavg()[0]?.toFixed(2) ?? "?");
      const r = await refuseOnce(mode, refusals, concurrency);
      console.error(`[fleet-floor-refusal] ${mode}: ${r.us.toFixed(1)} µs per refusal, frames seen ${r.frames}`);
      us.push(r.us);
    }
    us.sort((a, b) => a - b);
    const median = us[Math.floor(us.length / 2)] as number;
    rows.push(
      `| ${text[mode]} | ${loads.join(", ")} | ${median.toFixed(1)} (${(us[0] as number).toFixed(1)}-${(us[us.length - 1] as number).toFixed(1)}) |`,
    );
  }
  const command = `node dist/bench/fleet-floor-refusal.js --refusals ${refusals} --concurrency ${concurrency} --runs ${runs}`;
  const table = `Server CPU per refusal: ${refusals.toLocaleString("en-US")} connections refused, ${concurrency} in flight at a time, each client saying HELLO
and waiting for the close, on loopback (the server's writes also run the clients' receive path). Median (min-max) of ${runs}
runs, each a new server process. Command: \`${command}\`.

| server | load avg (1 min) at each start | server CPU per refusal (µs) |
|---|---|---|
${rows.join("\n")}
`;
  console.log(table);
  if (values.write) writeBenchmarkSection("fleet-refusal", table);
}

const role = process.argv[2];
if (role === "server") await server(process.argv[3] as Mode);
else await main();
