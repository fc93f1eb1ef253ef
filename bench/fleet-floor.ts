/**
 * The floor under bench/fleet.ts's burst (issue #11): what one Node event loop costs when N
 * sockets all become readable at once, with nothing of outlast in it. A bare `net` server
 * (its own process) holds N plain client sockets (child processes of <= 4,000 each); every
 * client writes one small frame at once (`--frames K`: K frames in one write); the server's
 * 'data' listener only counts bytes (`--ack`: and writes 8 bytes back per read, unsliced).
 * Measured on the server: the event loop's longest stall over the burst
 * (monitorEventLoopDelay, 10 ms resolution, split into time on a CPU and time waiting for one as in
 * bench/fleet.ts: bench/fleet/stall-watch.ts), its CPU time (user + system)
 * per read, and the reads per poll pass as Node sees them (reads between two turns of the loop).
 *
 * libuv reads every ready socket in one poll pass (uv__io_poll calls epoll_wait again while it
 * gets full batches of 1,024), so a burst is at least N x (Node's cost of one read) of stall,
 * whatever the server does with the bytes afterwards.
 *
 * Run (built): node dist/bench/fleet-floor.js [--clients 5000,18000] [--modes bare,ack,outlast] [--runs 3]
 *   [--frames 1] [--write]
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { FrameDecoder } from "../src/protocol/frame-decoder.js";
import { encodeFrame } from "../src/protocol/frame-encoder.js";
import { PROTOCOL_VERSION } from "../src/protocol/frames.js";
import { createServer } from "../src/server/index.js";
import { writeBenchmarkSection } from "./report.js";
import { next } from "./fleet/next-message.js";
import { StallWatch } from "./fleet/stall-watch.js";

const PER_PROCESS = 4000;
const FRAME = Buffer.from("0123456789abcdef0123456789ab"); // 28 bytes, the size of a small outlast MESSAGE
const role = process.argv[2];

type Mode = "bare" | "ack" | "outlast";

/**
 * The server under test. bare: 'data' only counts bytes; ack: also writes 8 bytes back per
 * read (unsliced); outlast: createServer with a no-op handler and memory state (what
 * bench/fleet.ts runs), so the same raw clients measure what outlast adds to the floor.
 * IPC: "arm" resets the counters; "stop" answers with what was measured since.
 */
async function server(): Promise<void> {
  const mode = process.argv[3] as Mode;
  const reply = Buffer.alloc(8);
  let reads = 0;
  let passes = 0;
  let maxReadsPerPass = 0;
  let readsThisPass = 0;
  let cpuAtStart = process.cpuUsage();
  const stalls = new StallWatch();
  // A pass boundary: the first read of a pass schedules a setImmediate, which runs right after that poll phase.
  const onPassEnd = (): void => {
    passes++;
    if (readsThisPass > maxReadsPerPass) maxReadsPerPass = readsThisPass;
    readsThisPass = 0;
  };
  let expect = Infinity;
  const counted = (): void => {
    if (readsThisPass++ === 0) setImmediate(onPassEnd);
    if (++reads === expect) process.send?.({ reached: true });
  };
  let port: number;
  if (mode === "outlast") {
    // Raw clients do not retry a refused handshake: let every one in.
    const srv = createServer({ onMessage: counted, maxPendingHandshakes: 1_000_000 });
    port = (await srv.listen({ port: 0, host: "127.0.0.1" })).port;
  } else {
    const srv = net.createServer({ noDelay: true }, (socket) => {
      socket.on("data", () => {
        counted();
        if (mode === "ack") socket.write(reply);
      });
      socket.on("error", () => {});
    });
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    port = (srv.address() as AddressInfo).port;
  }
  // --hold-ms: the loop's longest iteration once everything is ready at once, by a setImmediate chain (it spins
  // the loop while it runs, which the CPU figure then includes: a few µs per idle iteration).
  let probing = false;
  let lastCheckMs = 0;
  let maxIterationMs = 0;
  const probe = (): void => {
    const now = performance.now();
    if (now - lastCheckMs > maxIterationMs) maxIterationMs = now - lastCheckMs;
    lastCheckMs = now;
    if (probing) setImmediate(probe);
  };
  process.send?.({ port });
  process.on("message", (m: string | { arm: number } | { hold: number }) => {
    if (typeof m === "object" && "hold" in m) {
      // Asleep (no CPU) while the clients write: every socket is readable when the loop comes back.
      process.send?.({ holding: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, m.hold);
      probing = true;
      maxIterationMs = 0;
      lastCheckMs = performance.now();
      setImmediate(probe);
    } else if (typeof m === "object") {
      expect = m.arm;
      reads = 0;
      passes = 0;
      maxReadsPerPass = 0;
      readsThisPass = 0;
      stalls.start();
      cpuAtStart = process.cpuUsage();
      process.send?.({ armed: true });
    } else if (m === "stop") {
      const cpu = process.cpuUsage(cpuAtStart);
      const stall = stalls.stop();
      probing = false;
      if (readsThisPass > maxReadsPerPass) maxReadsPerPass = readsThisPass;
      process.send?.({
        result: {
          reads,
          cpuMs: (cpu.user + cpu.system) / 1000,
          stallMs: stall.stallMs,
          maxCpuMs: stall.maxCpuMs,
          worstGapWaitMs: stall.worstGapWaitMs,
          passes,
          maxReadsPerPass,
          maxIterationMs,
        },
      });
    } else if (m === "exit") process.exit(0);
  });
}

/**
 * `count` plain sockets (200 per 20 ms); outlast mode: each says HELLO and waits for WELCOME.
 * "burst" -> each writes its frame(s) in one write; { done } once every socket got an answer
 * (ack, outlast: an ACK of its last seq), or at once in bare mode (the server counts).
 */
async function clients(): Promise<void> {
  const port = Number(process.argv[3]);
  const count = Number(process.argv[4]);
  const frames = Number(process.argv[5]);
  const mode = process.argv[6] as Mode;
  const sockets: net.Socket[] = [];
  let open = 0;
  let waiting = 0;
  let seq = 0;
  const payload = (): Buffer =>
    mode === "outlast"
      ? Buffer.concat(
          Array.from({ length: frames }, () =>
            encodeFrame({ type: "message", seq: ++seq, data: FRAME.subarray(0, 16) }),
          ),
        )
      : Buffer.concat(Array.from({ length: frames }, () => FRAME));
  const answered = (): void => {
    if (--waiting === 0) process.send?.({ done: true });
  };
  for (let i = 0; i < count; i += 200) {
    for (let k = i; k < Math.min(count, i + 200); k++) {
      let welcomed = mode !== "outlast";
      let target = Infinity;
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
      const s = net.connect({ port, host: "127.0.0.1", noDelay: true }, () => {
        if (mode === "outlast") {
          s.write(
            encodeFrame({
              type: "hello",
              minVersion: 1,
              maxVersion: PROTOCOL_VERSION,
              clientId: `floor-${process.pid}-${k}`,
              token: new Uint8Array(0),
              heartbeatIntervalMs: 60_000,
              maxFrameBytes: 1 << 20,
            }),
          );
        } else if (++open === count) process.send?.({ open });
      });
      s.on("error", (err) => {
        console.error(`fleet-floor client: ${err.message}`);
        process.exit(1);
      });
      s.on("data", (chunk) => {
        if (mode === "ack") {
          answered();
          return;
        }
        for (const f of decoder.push(chunk)) {
          if (f.type === "welcome" && !welcomed) {
            welcomed = true;
            if (++open === count) process.send?.({ open });
          } else if (f.type === "ack" && f.seq >= target) {
            target = Infinity;
            answered();
          } else if (f.type === "error") {
            console.error(`fleet-floor client: ERROR ${f.code} ${f.message}`);
            process.exit(1);
          }
        }
      });
      (s as net.Socket & { target?: (t: number) => void }).target = (t) => (target = t);
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  process.on("message", (m: string) => {
    if (m === "burst") {
      waiting = mode === "bare" ? 0 : sockets.length;
      for (const s of sockets) {
        const data = payload();
        (s as net.Socket & { target?: (t: number) => void }).target?.(seq);
        s.write(data);
      }
      if (mode === "bare") process.send?.({ done: true });
    }
    if (m === "exit") process.exit(0);
  });
}

interface Result {
  reads: number;
  cpuMs: number;
  stallMs: number;
  /** The most CPU the loop spent between two 5 ms ticks (its own blocking), and the longest gap's wait for a core. */
  maxCpuMs: number;
  worstGapWaitMs: number;
  passes: number;
  maxReadsPerPass: number;
  /** --hold-ms: the longest loop iteration after the hold (all sockets ready at once). */
  maxIterationMs: number;
}

async function burstOnce(mode: Mode, n: number, frames: number): Promise<Result> {
  const self = import.meta.filename;
  const srv = fork(self, ["server", mode], { execArgv: serverFlags });
  const port = await next(srv, (m) => (m as { port?: number }).port);
  const procs = Math.ceil(n / PER_PROCESS);
  const per = Math.ceil(n / procs);
  // --nice-clients: the clients run at nice 19, so the server gets a core when it needs one (as with clients on
  // other machines): the stall is then the server's own work, not its waits for the CPU behind its clients.
  const niced = niceClients ? { execPath: "nice", execArgv: ["-n", "19", process.execPath] } : {};
  const children = Array.from({ length: procs }, () =>
    fork(self, ["clients", String(port), String(per), String(frames), mode], niced),
  );
  await Promise.all(children.map((c) => next(c, (m) => (m as { open?: number }).open)));
  await new Promise((r) => setTimeout(r, 2000)); // the connection wave settles
  const armed = next(srv, (m) => (m as { armed?: boolean }).armed);
  srv.send({ arm: per * procs * (mode === "outlast" ? frames : 1) });
  await armed;
  const reached = next(srv, (m) => (m as { reached?: boolean }).reached);
  const done = children.map((c) => next(c, (m) => (m as { done?: boolean }).done));
  if (holdMs > 0) {
    const holding = next(srv, (m) => (m as { holding?: boolean }).holding);
    srv.send({ hold: holdMs });
    await holding;
  }
  for (const c of children) c.send("burst");
  await Promise.all([reached, ...done]);
  const result = next(srv, (m) => (m as { result?: Result }).result);
  srv.send("stop");
  const r = await result;
  for (const c of [...children, srv]) {
    const exited = once(c, "exit");
    c.send("exit");
    await exited;
  }
  return r;
}

let niceClients = false;
let holdMs = 0;

/** Extra Node flags for the server process (e.g. --cpu-prof), from FLOOR_SERVER_FLAGS. */
const serverFlags = (process.env["FLOOR_SERVER_FLAGS"] ?? "").split(" ").filter((f) => f !== "");

const MODE_TEXT: Record<Mode, string> = {
  bare: "bare `net`: 'data' counts",
  ack: "bare `net` + 8-byte reply per read",
  outlast: "outlast createServer, no-op handler",
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      clients: { type: "string", default: "5000,18000" },
      modes: { type: "string", default: "bare,ack,outlast" },
      runs: { type: "string", default: "3" },
      frames: { type: "string", default: "1" },
      "nice-clients": { type: "boolean", default: false },
      "hold-ms": { type: "string", default: "0" },
      write: { type: "boolean", default: false },
    },
  });
  niceClients = values["nice-clients"] === true;
  holdMs = Number(values["hold-ms"]);
  const sizes = (values.clients ?? "").split(",").map(Number);
  const modes = (values.modes ?? "").split(",").map((m) => {
    if (m === "bare" || m === "ack" || m === "outlast") return m;
    throw new Error(`--modes: unknown ${JSON.stringify(m)} (bare, ack, outlast)`);
  });
  const runs = Number(values.runs);
  const frames = Number(values.frames);
  const rows: string[] = [];
  for (const n of sizes)
    for (const mode of modes) {
      const results: Result[] = [];
      const loads: string[] = [];
      for (let i = 0; i < runs; i++) {
        loads.push(loadavg()[0]?.toFixed(2) ?? "?");
        const r = await burstOnce(mode, n, frames);
        console.error(`[fleet-floor] ${mode} ${n}: ${JSON.stringify(r)}`);
        results.push(r);
      }
      const sorted = (f: (r: Result) => number): number[] => results.map(f).sort((a, b) => a - b);
      const median = (f: (r: Result) => number): number => sorted(f)[Math.floor(results.length / 2)] as number;
      const range = (f: (r: Result) => number, digits: number): string => {
        const xs = sorted(f);
        return `${median(f).toFixed(digits)} (${(xs[0] as number).toFixed(digits)}-${(xs[xs.length - 1] as number).toFixed(digits)})`;
      };
      const passes = mode === "outlast" ? "n/a" : String(median((r) => r.passes));
      const most = mode === "outlast" ? "n/a" : String(median((r) => r.maxReadsPerPass));
      rows.push(
        `| ${MODE_TEXT[mode]} | ${n.toLocaleString("en-US")} | ${loads.join(", ")} | ${range((r) => (holdMs > 0 ? r.maxIterationMs : r.stallMs), 0)} | ${range((r) => r.maxCpuMs, 0)} | ${range((r) => r.worstGapWaitMs, 0)} | ${range((r) => (r.cpuMs * 1000) / (mode === "outlast" ? r.reads / frames : r.reads), 1)} | ${passes} | ${most} |`,
      );
    }
  const command = `node dist/bench/fleet-floor.js --clients ${values.clients} --modes ${values.modes} --runs ${runs} --frames ${frames}${niceClients ? " --nice-clients" : ""}${holdMs > 0 ? ` --hold-ms ${holdMs}` : ""}`;
  const table = `The floor under the fleet burst: N plain sockets (child processes of <= ${PER_PROCESS.toLocaleString("en-US")}) each write ${frames} small frame${frames === 1 ? "" : "s"}
at once (one write per socket) to one server process: a bare Node \`net\` server (its 'data' listener only counts; "+ reply": it also
writes 8 bytes back per read, unsliced), and outlast's server (no-op handler, memory state; the raw clients said HELLO first and
wait for the ACK). Measured on the server over the burst: the longest event-loop stall (${holdMs > 0 ? `with --hold-ms: the server's loop sleeps ${holdMs} ms while the clients write, so every socket is readable at once when it wakes, and the stall is its longest loop iteration after that` : "monitorEventLoopDelay, 10 ms resolution"}),
split as in bench/fleet.ts (bench/fleet/stall-watch.ts: the most the server's main thread spent on a CPU between two 5 ms ticks, its own
blocking, and how long it waited for a core in the longest gap, while the kernel ran the clients),
CPU (user + system) per client, the poll passes with reads and the most reads Node handled in one pass (bare only). Median (min-max)
of ${runs} runs, each with a new server${niceClients ? "; the clients ran at nice 19 (the server's stall is its own work, not waits for a core)" : "; the clients compete with the server for the 2 cores"}. Command: \`${command}\`.

| server | clients | load avg (1 min) at each start | longest stall (ms) | most on a CPU between two 5 ms ticks (ms) | longest gap's wait for a core (ms) | server CPU per client (µs) | passes with reads | most reads in one pass |
|---|---|---|---|---|---|---|---|---|
${rows.join("\n")}
`;
  console.log(table);
  if (values.write) writeBenchmarkSection(holdMs > 0 ? "fleet-floor-at-once" : "fleet-floor", table);
}

if (role === "server") await server();
else if (role === "clients") await clients();
else await main();
