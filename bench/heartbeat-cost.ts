/**
 * What a heartbeat costs a server, by shape (issue #11, idle CPU; docs/protocol.md §5): N idle
 * TCP connections on loopback, a plain `node:net` server in its own process, clients in another.
 * - read: each client writes a 13-byte frame every `--period-ms` (its own timer, jittered
 *   0.9-1.1x, as outlast clients ping), the server only reads: reads arrive one by one;
 * - write: the server writes a 13-byte frame to each connection it has written nothing to for
 *   `--period-ms`, from one timer every 500 ms (as the v2 beat sweep does): writes go out in batches;
 * - pingpong: each client writes a PING every `--period-ms` (own timer), the server answers:
 *   protocol v1's round, one wake-up per round.
 * Server CPU (user + system) over `--seconds` per event, after a period to settle; each shape
 * `--runs` times, interleaved; "none" (the same connections, silent) is the floor.
 *
 * Run (built): node dist/bench/heartbeat-cost.js [--clients 16000] [--period-ms 6000] [--seconds 10] [--runs 2]
 */
import { fork } from "node:child_process";
import net from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { encodeFrame } from "../src/protocol/frame-encoder.js";
import { next } from "./fleet/next-message.js";

type Mode = "none" | "read" | "write" | "pingpong";
const MODES: readonly Mode[] = ["none", "read", "write", "pingpong"];
const SWEEP_MS = 500;
const PING = encodeFrame({ type: "ping", nonce: 1 });
const PONG = encodeFrame({ type: "pong", nonce: 1 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Setting {
  mode: Mode;
  periodMs: number;
}

function serverRole(): void {
  const sockets: { socket: Socket; lastWriteMs: number }[] = [];
  let setting: Setting = { mode: "none", periodMs: 6000 };
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.push({ socket, lastWriteMs: 0 });
    socket.on("data", () => {
      if (setting.mode === "pingpong") socket.write(PONG);
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => process.send?.({ port: (server.address() as AddressInfo).port }));
  setInterval(() => {
    if (setting.mode !== "write") return;
    const now = Date.now();
    for (const s of sockets) {
      if (now - s.lastWriteMs < setting.periodMs) continue;
      // Spread the first round over one sweep, as a fleet's own writes would.
      s.lastWriteMs = now - Math.floor(Math.random() * SWEEP_MS);
      s.socket.write(PONG);
    }
  }, SWEEP_MS);
  process.on("message", (m: { setting?: Setting } | "cpu") => {
    if (m === "cpu") {
      const cpu = process.cpuUsage();
      process.send?.({ cpu: { ms: (cpu.user + cpu.system) / 1000, atMs: performance.now() } });
      return;
    }
    if (m.setting !== undefined) setting = m.setting;
    process.send?.({ ok: true });
  });
}

async function clientsRole(port: number, n: number): Promise<void> {
  let setting: Setting = { mode: "none", periodMs: 6000 };
  const tick = (socket: Socket): void => {
    if (setting.mode === "read") socket.write(PONG);
    else if (setting.mode === "pingpong") socket.write(PING);
    setTimeout(tick, setting.periodMs * (0.9 + 0.2 * Math.random()), socket);
  };
  let open = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const socket = net.connect(port, "127.0.0.1", () => {
      if (++open === n) process.send?.({ open });
    });
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("data", () => {});
    sockets.push(socket);
    if (i % 200 === 199) await sleep(30);
  }
  for (const socket of sockets) setTimeout(tick, setting.periodMs * Math.random(), socket);
  process.on("message", (m: { setting: Setting }) => {
    setting = m.setting;
    process.send?.({ ok: true });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "16000" },
      "period-ms": { type: "string", default: "6000" },
      seconds: { type: "string", default: "10" },
      runs: { type: "string", default: "2" },
    },
  });
  const n = Number(values.clients);
  const periodMs = Number(values["period-ms"]);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const self = new URL(import.meta.url).pathname;
  const server = fork(self, ["server"]);
  const port = await next(server, (m) => (m as { port?: number }).port);
  const clients = fork(self, ["clients", String(port), String(n)]);
  await next(clients, (m) => (m as { open?: number }).open);
  const results = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  console.log(`${n} idle connections, a frame every ${periodMs} ms each; load average ${loadavg()[0]?.toFixed(2)}`);
  for (let run = 0; run < runs; run++)
    for (const mode of MODES) {
      const setting: Setting = { mode, periodMs };
      server.send({ setting });
      await next(server, (m) => (m as { ok?: boolean }).ok);
      clients.send({ setting });
      await next(clients, (m) => (m as { ok?: boolean }).ok);
      await sleep(periodMs + 1000);
      const cpu = (): Promise<{ ms: number; atMs: number }> => {
        const reply = next(server, (m) => (m as { cpu?: { ms: number; atMs: number } }).cpu);
        server.send("cpu");
        return reply;
      };
      const a = await cpu();
      await sleep(seconds * 1000);
      const b = await cpu();
      const events = (n * (b.atMs - a.atMs)) / periodMs;
      const pct = ((b.ms - a.ms) / (b.atMs - a.atMs)) * 100;
      const us = ((b.ms - a.ms) * 1000) / events;
      results.get(mode)?.push(mode === "none" ? pct : us);
      console.log(
        `run ${run + 1} ${mode.padEnd(8)} server CPU ${pct.toFixed(2)}% of a core${mode === "none" ? "" : `, ${us.toFixed(1)} µs per event (floor included)`}`,
      );
    }
  server.kill();
  clients.kill();
  console.log("\n| shape | server CPU per event (µs), each run |\n|---|---|");
  for (const mode of MODES.filter((m) => m !== "none"))
    console.log(`| ${mode} | ${(results.get(mode) ?? []).map((x) => x.toFixed(1)).join(", ")} |`);
}

const role = process.argv[2];
if (role === "server") serverRole();
else if (role === "clients") await clientsRole(Number(process.argv[3]), Number(process.argv[4]));
else await main();
