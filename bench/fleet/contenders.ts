/**
 * The servers bench/fleet.ts compares, each in its own process on a fixed loopback port so a
 * restart lands where the clients reconnect: outlast (bench/fleet/server.ts, Node) and
 * Mosquitto (with MQTT.js clients). Both are sampled the same way from outside where they
 * can be: CPU and RSS of the server process; outlast adds V8's heap after a full GC, its
 * ping count and the event loop's longest stall (Mosquitto has no event loop to watch).
 */
import { fork, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOSQUITTO } from "../delivery/mqtt.js";
import { outlastVersion, packageVersion } from "../report.js";
import { next } from "./next-message.js";
import type { StallReport } from "./stall-watch.js";

export interface ServerSample {
  rssBytes: number;
  /** V8 heapUsed after a full GC (outlast only). */
  heapBytes: number | undefined;
  /** The size of V8's young generation (outlast only). */
  newSpaceBytes?: number | undefined;
  cpuMs: number;
  /** PINGs answered since start (outlast only). */
  pings: number | undefined;
  busyRejected: number | undefined;
  atMs: number;
}

export interface RunningServer {
  readonly pid: number;
  /** After a full GC (outlast); `settled`: 1 s after it (V8 returns a shrunk young generation's pages from a background thread). */
  sample(settled?: boolean): Promise<ServerSample>;
  /** Starts / stops watching the event loop's longest stall and its parts (undefined: not measurable). */
  stallStart(): void;
  stallStop(): Promise<StallReport | undefined>;
  kill(): Promise<void>;
}

export interface Contender {
  readonly name: string;
  readonly version: string;
  /** The client process script (built), and the URL clients use for `port`. */
  readonly clientsScript: string;
  url(port: number): string;
  /** `nodeFlags`: extra flags for a Node server process (outlast only). */
  start(port: number, maxConnections?: number, nodeFlags?: readonly string[]): Promise<RunningServer>;
}

const dir = import.meta.dirname;

export async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function exitOf(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}

/** A Node server process of the fleet bench (server.ts or pool-server.ts): started, sampled and killed over IPC. */
async function startNodeServer(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[],
  group = false,
): Promise<RunningServer> {
  // group: the process leads its own process group, so kill() takes its children (a pool's workers) with it.
  const child = fork(join(dir, script), args, { execArgv: ["--expose-gc", ...nodeFlags], detached: group });
  await next(child, (m) => (m as { port?: number }).port);
  const ask = <T>(msg: string, pick: (m: unknown) => T | undefined): Promise<T> => {
    const reply = next(child, pick);
    child.send(msg);
    return reply;
  };
  return {
    pid: child.pid as number,
    async sample(settled = false) {
      const s = await ask(
        settled ? "sample:settled" : "sample",
        (m) => (m as { sample?: Record<string, unknown> }).sample,
      );
      const stats = s["stats"] as { pings: number; beats?: number; busyRejected: number };
      return {
        rssBytes: s["rssBytes"] as number,
        heapBytes: s["heapBytes"] as number,
        newSpaceBytes: s["newSpaceBytes"] as number | undefined,
        cpuMs: s["cpuMs"] as number,
        // Heartbeat frames the server handled: PINGs answered (v1 clients) + beats sent (v2).
        pings: stats.pings + (stats.beats ?? 0),
        busyRejected: stats.busyRejected,
        atMs: s["atMs"] as number,
      };
    },
    stallStart: () => child.send("stall:start"),
    stallStop: () => ask("stall:stop", (m) => (m as { stall?: StallReport }).stall),
    async kill() {
      if (!group) return exitOf(child, "SIGKILL");
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      process.kill(-(child.pid as number), "SIGKILL");
      await exited;
    },
  };
}

export const outlast: Contender = {
  name: "outlast",
  version: `outlast ${outlastVersion()} (createServer, no-op handler, memory state)`,
  clientsScript: join(dir, "clients.js"),
  url: (port) => `tcp://127.0.0.1:${port}`,
  start: (port, maxConnections, nodeFlags = []) =>
    startNodeServer(
      "server.js",
      [String(port), ...(maxConnections === undefined ? [] : [String(maxConnections)])],
      nodeFlags,
    ),
};

/**
 * outlast-pool-K: createServerPool with K workers (pool-server.ts), each what `outlast` runs; one port, a
 * clientId always on the same worker. Memory and CPU are the primary's and the workers' summed; the stall is
 * the worst of the K + 1 event loops. A SIGKILL takes the whole process group.
 */
export function outlastPool(k: number): Contender {
  return {
    name: `outlast-pool-${k}`,
    version: `outlast ${outlastVersion()} (createServerPool, ${k} workers, each createServer with a no-op handler and memory state)`,
    clientsScript: join(dir, "clients.js"),
    url: (port) => outlast.url(port),
    start: (port, _maxConnections, nodeFlags = []) =>
      startNodeServer("pool-server.js", [String(port), String(k)], nodeFlags, true),
  };
}

/** CPU time of a single-threaded process's main thread, in ms (/proc/PID/schedstat: ns on the CPU). */
function procCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
}

function procRssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

function mosquittoVersion(): string {
  const out = spawnSync(MOSQUITTO, ["-h"], { encoding: "utf8" });
  const version = /mosquitto version (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? "?";
  return `mosquitto ${version}, mqtt (MQTT.js) ${packageVersion("mqtt")}`;
}

export const mosquitto: Contender = {
  name: "Mosquitto + MQTT.js",
  version: mosquittoVersion(),
  clientsScript: join(dir, "mqtt-clients.js"),
  url: (port) => `mqtt://127.0.0.1:${port}`,
  async start(port) {
    const confDir = mkdtempSync(join(tmpdir(), "outlast-fleet-mosquitto-"));
    const conf = join(confDir, "mosquitto.conf");
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", ""].join("\n"));
    const child = spawn(MOSQUITTO, ["-c", conf], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect({ port, host: "127.0.0.1" }, () => {
          s.destroy();
          resolve(true);
        });
        s.on("error", () => resolve(false));
      });
      if (up) break;
      if (i > 500 || child.exitCode !== null) throw new Error("fleet bench: mosquitto did not start");
      await new Promise((r) => setTimeout(r, 20));
    }
    const pid = child.pid as number;
    return {
      pid,
      sample: () =>
        Promise.resolve({
          rssBytes: procRssBytes(pid),
          heapBytes: undefined,
          cpuMs: procCpuMs(pid),
          pings: undefined,
          busyRejected: undefined,
          atMs: performance.now(),
        }),
      stallStart: () => {},
      stallStop: () => Promise.resolve(undefined),
      async kill() {
        await exitOf(child, "SIGKILL");
        rmSync(confDir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * outlast-xK: K outlast server processes (as `outlast`), each on its own port, the clients spread over
 * them by index, so a clientId always reaches the same one. What K event loops sharing a fleet would
 * give, with a perfect hand-off at no cost (outlast has no multi-process server): memory, CPU and
 * heartbeats are summed over the K processes, the stall is the worst of them.
 */
export function sharded(k: number): Contender {
  const ports: number[] = [];
  return {
    name: `outlast-x${k}`,
    version: `outlast-x${k}: ${k} outlast server processes, the clients spread over them by index`,
    clientsScript: join(dir, "clients.js"),
    url: () => ports.map((p) => outlast.url(p)).join("|"),
    async start(port, maxConnections, nodeFlags = []) {
      if (ports.length === 0) {
        ports.push(port);
        while (ports.length < k) ports.push(await freePort());
      }
      const servers = await Promise.all(ports.map((p) => outlast.start(p, maxConnections, nodeFlags)));
      const sum = (samples: ServerSample[], pick: (s: ServerSample) => number | undefined): number =>
        samples.reduce((total, s) => total + (pick(s) ?? 0), 0);
      return {
        pid: servers[0]?.pid ?? 0,
        async sample(settled) {
          const samples = await Promise.all(servers.map((s) => s.sample(settled)));
          return {
            rssBytes: sum(samples, (s) => s.rssBytes),
            heapBytes: sum(samples, (s) => s.heapBytes),
            newSpaceBytes: sum(samples, (s) => s.newSpaceBytes),
            cpuMs: sum(samples, (s) => s.cpuMs),
            pings: sum(samples, (s) => s.pings),
            busyRejected: sum(samples, (s) => s.busyRejected),
            atMs: samples[0]?.atMs ?? performance.now(),
          };
        },
        stallStart: () => {
          for (const s of servers) s.stallStart();
        },
        async stallStop() {
          const reports = (await Promise.all(servers.map((s) => s.stallStop()))).filter((r) => r !== undefined);
          const worst = reports.sort((a, b) => b.stallMs - a.stallMs)[0];
          if (worst === undefined) return undefined;
          return { ...worst, maxCpuMs: Math.max(...reports.map((r) => r.maxCpuMs)) };
        },
        async kill() {
          await Promise.all(servers.map((s) => s.kill()));
        },
      };
    },
  };
}
