/**
 * A fleet against one server (issue #11): N real clients with default options, spread over
 * child processes of <= 4,000 each, against outlast (`createServer`, no-op handler, memory
 * state) and, in the same run, Mosquitto with MQTT.js clients. Each server runs in its own
 * process; measured on it:
 * - memory per idle connected client: (RSS, and V8 heap after a full GC, with N clients idle)
 *   minus (the same before any client), / N;
 * - idle CPU over `--idle-s` seconds, as % of one core per 1,000 clients, and the heartbeat
 *   frames it costs (outlast: PINGs answered + beats sent; MQTT.js pings every 60 s by default);
 * - burst: every client sends one message at once (then `--burst-k` pipelined messages each, 10 by
 *   default: a busy fleet's acknowledgements coalesce): time until all are acknowledged, server CPU
 *   per message, the event loop's longest stall (monitorEventLoopDelay; outlast only), split into the
 *   time the server was on a CPU and the time it waited for one (bench/fleet/stall-watch.ts);
 * - restart: SIGKILL, a new server on the same port: time from its start until every client is
 *   open again and has an acknowledgement of a new message, the longest stall meanwhile, and
 *   client `error` events (a lost server is a connection fault, not an error: should be 0);
 * - turning clients away (outlast): a server with maxConnections M holding M idle clients meets
 *   as many more; server CPU per refusal, against the CPU of a connected idle client (a refused
 *   client comes back after the server's jittered hint, busyRetryAfterMs on average: 5 min by default).
 *
 * Run (built): node dist/bench/fleet.js --clients 5000,18000 [--idle-s 20] [--contenders outlast,mosquitto]
 *   [--reject 4000] [--runs N] [--nice-clients] [--write]
 * --contenders outlast-xK: K outlast server processes sharing the fleet by clientId (a probe of what
 *   several event loops would give; not judged against the goals, which are for one server).
 * This machine caps one process at 20,000 open files (hard limit), so a server here holds at
 * most ~19,000 clients; docs/benchmarks.md says which sizes ran.
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Contender, RunningServer, ServerSample } from "./fleet/contenders.js";
import type { StallReport } from "./fleet/stall-watch.js";
import { freePort, mosquitto, outlast, outlastPool, sharded } from "./fleet/contenders.js";
import { next } from "./fleet/next-message.js";
import { SERVER_DEFAULTS } from "../src/server/options.js";
import { writeBenchmarkSection } from "./report.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "5000,18000" },
    "idle-s": { type: "string", default: "20" },
    contenders: { type: "string", default: "outlast,mosquitto" },
    reject: { type: "string", default: "4000" },
    "memory-only": { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
    "node-flags": { type: "string", default: "" },
    "burst-k": { type: "string", default: "10" },
    "nice-clients": { type: "boolean", default: false },
    write: { type: "boolean", default: false },
  },
});
const PER_PROCESS = 4000;
/**
 * --nice-clients: the client processes run at nice 19, so the server gets a core when it needs one,
 * as with robots on their own machines; without it the clients compete with the server for the 2 cores.
 */
const NICED = values["nice-clients"] ? { execPath: "nice", execArgv: ["-n", "19", process.execPath] } : {};
const SETTLE_MS = 5000;
/** A restart that takes longer is reported as such (the goal is 20 s), and the run goes on. */
const RESTART_LIMIT_MS = 60_000;
const idleMs = Number(values["idle-s"]) * 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load = (): string => loadavg()[0]?.toFixed(2) ?? "?";
const log = (line: string): void => console.error(`[fleet ${new Date().toISOString().slice(11, 19)}] ${line}`);

class Fleet {
  readonly children: ChildProcess[];
  constructor(contender: Contender, port: number, total: number, prefix: string) {
    const procs = Math.ceil(total / PER_PROCESS);
    const per = Math.ceil(total / procs);
    this.children = Array.from({ length: procs }, (_, i) =>
      fork(contender.clientsScript, [contender.url(port), `${prefix}${i}`, String(per)], NICED),
    );
  }
  get size(): number {
    return this.children.length;
  }
  all<T>(pick: (m: unknown) => T | undefined, send?: string): Promise<T[]> {
    return Promise.all(
      this.children.map((c) => {
        const reply = next(c, pick);
        if (send !== undefined) c.send(send);
        return reply;
      }),
    );
  }
  open(timeoutMs?: number): Promise<number[]> {
    return Promise.all(this.children.map((c) => next(c, (m) => (m as { open?: number }).open, timeoutMs)));
  }
  burst(k = 1): Promise<number[]> {
    return this.all((m) => (m as { burst?: number }).burst, k === 1 ? "burst" : `burst:${k}`);
  }
  /** `error` events so far, and (outlast clients) how many of each code. */
  async errors(): Promise<{ count: number; codes: string }> {
    type Stats = { errors: number; codes?: Record<string, number> };
    const stats = await this.all(
      (m) => ((m as Partial<Stats>).errors === undefined ? undefined : (m as Stats)),
      "stats",
    );
    const codes = new Map<string, number>();
    for (const s of stats)
      for (const [code, n] of Object.entries(s.codes ?? {})) codes.set(code, (codes.get(code) ?? 0) + n);
    return {
      count: stats.reduce((a, s) => a + s.errors, 0),
      codes: [...codes].map(([code, n]) => `${code} x ${n}`).join(", "),
    };
  }
  async openNow(): Promise<number> {
    const stats = await this.all((m) => (m as { errors?: number; open?: number }).open, "stats");
    return stats.reduce((a, b) => a + b, 0);
  }
  async close(): Promise<void> {
    const exits = this.children.map((c) => once(c, "exit"));
    for (const c of this.children) c.send("close");
    await Promise.all(exits);
  }
}

interface GoalInputs {
  n: number;
  /** RSS after the idle period (steady state), and 5 s after connecting (young generation still storm-sized). */
  rss: number;
  rssSettle: number;
  heap: number;
  idle: number;
  burstStall: number;
  /** The most the server spent on a CPU between two 5 ms ticks (its own blocking, whatever else ran). */
  burstCpu: number;
  restartS: number;
  restartStall: number;
  restartCpu: number;
  errors: number;
}
/** Per contender and size, one entry per run; goals are judged on the medians. */
const goalInputs = new Map<string, GoalInputs[]>();

function medianOf(runs: GoalInputs[]): GoalInputs {
  const pick = (key: keyof GoalInputs): number => {
    const xs = runs.map((r) => r[key]).sort((a, b) => a - b);
    return xs[Math.floor((xs.length - 1) / 2)] as number;
  };
  const keys = Object.keys(runs[0] as GoalInputs) as (keyof GoalInputs)[];
  return Object.fromEntries(keys.map((k) => [k, pick(k)])) as unknown as GoalInputs;
}
let rejectionRatio: number | undefined;

/** The servers judged against issue #11's goals: outlast in one process, and an outlast pool (not the outlast-xK probe). */
const JUDGED = /^outlast(-pool-\d+)?$/;

/** Issue #11's goals for each judged server, on its largest size (the median of its runs), and the turning-away run. */
function goals(): string {
  const names = [...new Set([...goalInputs.keys()].map((k) => k.slice(0, k.lastIndexOf(" "))))];
  return names
    .filter((name) => JUDGED.test(name))
    .map((name) => goalsOf(name))
    .join("\n");
}

function goalsOf(name: string): string {
  const sizes = [...goalInputs.entries()].filter(([k]) => k.startsWith(`${name} `)).map(([, v]) => v);
  const largest = sizes.sort((a, b) => (b[0]?.n ?? 0) - (a[0]?.n ?? 0))[0];
  if (largest === undefined || largest.length === 0) return "";
  const big = medianOf(largest);
  const of = largest.length > 1 ? ` (median of ${largest.length} runs)` : "";
  const verdict = (ok: boolean): string => (ok ? "**met**" : "**not met**");
  const at = `at ${big.n.toLocaleString("en-US")} clients${of}`;
  const lines = [
    `- <= 4 KiB RSS per idle client at 15,000+: ${big.rss.toFixed(2)} KiB ${at} after the idle period (${big.rssSettle.toFixed(2)} KiB 5 s after connecting, V8's young generation still storm-sized), ${verdict(big.n >= 15_000 && big.rss <= 4)}`,
    `- <= 1.5 KiB heap per idle client at 15,000+: ${big.heap.toFixed(2)} KiB ${at}, ${verdict(big.n >= 15_000 && big.heap <= 1.5)}`,
    `- <= 0.5% of a core per 1,000 idle clients (defaults: dead link noticed within 10 s): ${big.idle.toFixed(2)}% ${at}, ${verdict(big.idle <= 0.5)}`,
    `- no stall over 100 ms while every client bursts (1 or ${values["burst-k"]} messages each): ${Math.round(big.burstStall)} ms ${at} (the goal says 20,000; this machine holds ~19,000), ${verdict(big.burstStall <= 100)}; the server's own part (the most it spent on a CPU without getting back to its timers): ${Math.round(big.burstCpu)} ms, ${verdict(big.burstCpu <= 100)}`,
    `- restart at 15,000+: all back with a first ACK within 20 s, no client error event, no stall over 100 ms: ${big.restartS.toFixed(1)} s, ${big.errors} error events, stall ${Math.round(big.restartStall)} ms ${at}, ${verdict(big.n >= 15_000 && big.restartS <= 20 && big.errors === 0 && big.restartStall <= 100)}; the server's own part: ${Math.round(big.restartCpu)} ms on a CPU, ${verdict(big.n >= 15_000 && big.restartS <= 20 && big.errors === 0 && big.restartCpu <= 100)}`,
  ];
  if (rejectionRatio !== undefined && name === "outlast")
    lines.push(
      `- turning a client away costs <= 10% of a connected client's CPU: ${(rejectionRatio * 100).toFixed(0)}%, ${verdict(rejectionRatio <= 0.1)}`,
    );
  return `Goals (issue 11), judged on the largest ${name} row${name === "outlast" ? " (one server process)" : ""}:\n\n${lines.join("\n")}\n`;
}

const mib = (bytes: number | undefined): string => (bytes === undefined ? "n/a" : (bytes / 2 ** 20).toFixed(1));
const perClientKiB = (a: number | undefined, b: number | undefined, n: number): string =>
  a === undefined || b === undefined ? "n/a" : ((b - a) / n / 1024).toFixed(2);

async function run(contender: Contender, total: number): Promise<Record<string, string>> {
  const loadAtStart = load();
  const port = await freePort();
  let server: RunningServer = await contender.start(port, undefined, nodeFlags);
  const base = await server.sample();
  const fleet = new Fleet(contender, port, total, "f");
  const n = Math.ceil(total / fleet.size) * fleet.size;
  log(`${contender.name} ${n}: connecting (${fleet.size} client processes)`);
  await fleet.open();
  await sleep(SETTLE_MS);
  const idleStart = await server.sample();
  log(`${contender.name} ${n}: open; idle ${idleMs} ms`);
  await sleep(idleMs);
  // RSS 1 s after a full GC: a GC at low allocation throughput shrinks V8's young generation (as an idle server's own
  // next scavenge does); its pages go back to the OS from a background thread.
  const idleEnd = await server.sample(true);
  log(`${contender.name} ${n}: young generation ${mib(idleStart.newSpaceBytes)} -> ${mib(idleEnd.newSpaceBytes)} MiB`);
  if (values["memory-only"]) {
    await fleet.close();
    await server.kill();
    return {
      server: contender.name,
      clients: n.toLocaleString("en-US"),
      rss: perClientKiB(base.rssBytes, idleStart.rssBytes, n),
      rssIdle: perClientKiB(base.rssBytes, idleEnd.rssBytes, n),
      heap: perClientKiB(base.heapBytes, idleEnd.heapBytes, n),
    };
  }
  const idleSpanMs = idleEnd.atMs - idleStart.atMs;
  const idlePct = ((idleEnd.cpuMs - idleStart.cpuMs) / idleSpanMs) * 100 * (1000 / n);
  const pings =
    idleEnd.pings === undefined || idleStart.pings === undefined
      ? "60 s keepalive"
      : (((idleEnd.pings - idleStart.pings) / (idleSpanMs / 1000)) * (1000 / n)).toFixed(0);

  log(`${contender.name} ${n}: burst`);
  server.stallStart();
  const burstCpu = (await server.sample()).cpuMs;
  const burstStart = performance.now();
  await fleet.burst();
  const burstMs = performance.now() - burstStart;
  const burstUs = (((await server.sample()).cpuMs - burstCpu) * 1000) / n;
  const burstStall = await server.stallStop();
  const k = Number(values["burst-k"]);
  log(`${contender.name} ${n}: burst of ${k} messages each`);
  server.stallStart();
  const burstKCpu = (await server.sample()).cpuMs;
  const burstKStart = performance.now();
  await fleet.burst(k);
  const burstKMs = performance.now() - burstKStart;
  const burstKUs = (((await server.sample()).cpuMs - burstKCpu) * 1000) / (n * k);
  const burstKStall = await server.stallStop();

  log(`${contender.name} ${n}: SIGKILL + restart`);
  await server.kill();
  const reopened = fleet.open(RESTART_LIMIT_MS);
  server = await contender.start(port, undefined, nodeFlags);
  const restartAt = performance.now();
  server.stallStart();
  let restartMs = NaN;
  let restart: string;
  try {
    await reopened;
    await Promise.race([fleet.burst(), sleep(RESTART_LIMIT_MS).then(() => Promise.reject(new Error("burst")))]);
    restartMs = performance.now() - restartAt;
    restart = `${(restartMs / 1000).toFixed(1)} s`;
  } catch {
    restart = `**not all back within ${RESTART_LIMIT_MS / 1000} s** (${(await fleet.openNow()).toLocaleString("en-US")} open)`;
  }
  const restartStall = await server.stallStop();
  const { count: errors, codes: errorCodes } = await fleet.errors();
  await fleet.close();
  await server.kill();
  const stall = (r: StallReport | undefined): string =>
    r === undefined
      ? "n/a"
      : `${Math.round(r.stallMs)} ms (longest gap ${Math.round(r.worstGapMs)} ms: ${Math.round(r.worstGapCpuMs)} on CPU, ${Math.round(r.worstGapWaitMs)} waiting for a core; most on CPU between ticks ${Math.round(r.maxCpuMs)} ms)`;
  const key = `${contender.name} ${n}`;
  goalInputs.set(key, [
    ...(goalInputs.get(key) ?? []),
    {
      n,
      rss: Number(perClientKiB(base.rssBytes, idleEnd.rssBytes, n)),
      rssSettle: Number(perClientKiB(base.rssBytes, idleStart.rssBytes, n)),
      heap: Number(perClientKiB(base.heapBytes, idleEnd.heapBytes, n)),
      idle: idlePct,
      burstStall: Math.max(burstStall?.stallMs ?? NaN, burstKStall?.stallMs ?? NaN),
      burstCpu: Math.max(burstStall?.maxCpuMs ?? NaN, burstKStall?.maxCpuMs ?? NaN),
      restartS: restartMs / 1000,
      restartStall: restartStall?.stallMs ?? NaN,
      restartCpu: restartStall?.maxCpuMs ?? NaN,
      errors,
    },
  ]);
  const row = {
    server: contender.name,
    clients: n.toLocaleString("en-US"),
    processes: String(fleet.size),
    load: loadAtStart,
    rss: `${perClientKiB(base.rssBytes, idleStart.rssBytes, n)} / ${perClientKiB(base.rssBytes, idleEnd.rssBytes, n)}`,
    heap: perClientKiB(base.heapBytes, idleEnd.heapBytes, n),
    idle: idlePct.toFixed(2),
    pings,
    burst: `${Math.round(burstMs)} ms, ${burstUs.toFixed(1)} µs/msg, stall ${stall(burstStall)}`,
    burstK: `${Math.round(burstKMs)} ms, ${burstKUs.toFixed(1)} µs/msg, stall ${stall(burstKStall)}`,
    restart: `${restart}, stall ${stall(restartStall)}, ${errors} error events${errors > 0 && errorCodes !== "" ? ` (${errorCodes})` : ""}`,
  };
  log(JSON.stringify(row));
  return row;
}

/** Turning clients away: M connected to a server with maxConnections M, then M more. */
async function rejection(m: number): Promise<string> {
  const loadAtStart = load();
  const port = await freePort();
  const server = await outlast.start(port, m);
  const held = new Fleet(outlast, port, m, "held");
  await held.open();
  await sleep(SETTLE_MS);
  const a = await server.sample();
  await sleep(idleMs);
  const b = await server.sample();
  const idleRate = (b.cpuMs - a.cpuMs) / (b.atMs - a.atMs); // ms of CPU per ms
  const refused = new Fleet(outlast, port, m, "extra");
  const excess = Math.ceil(m / refused.size) * refused.size;
  let c: ServerSample = b;
  while ((c.busyRejected ?? 0) < excess) {
    await sleep(250);
    c = await server.sample();
  }
  await sleep(2500); // the refused sockets' linger ends
  const d = await server.sample();
  const refusals = d.busyRejected ?? 0;
  const perRefusalUs = ((d.cpuMs - b.cpuMs - idleRate * (d.atMs - b.atMs)) * 1000) / refusals;
  const connectedUsPerS = (idleRate * 1e6) / m;
  // A refused client comes back after busyRetryAfterMs on average (jittered 0.5-1.5 x).
  const hintS = SERVER_DEFAULTS.busyRetryAfterMs / 1000;
  const refusedUsPerS = perRefusalUs / hintS;
  rejectionRatio = refusedUsPerS / connectedUsPerS;
  await held.close();
  await refused.close();
  await server.kill();
  const line =
    `Turning clients away (load average ${loadAtStart} at start): a server with \`maxConnections\` ${m.toLocaleString("en-US")} ` +
    `holding as many idle clients met ${refusals.toLocaleString("en-US")} more: **${perRefusalUs.toFixed(0)} µs** of server CPU per refusal ` +
    `(the connected clients' idle CPU over the same time taken out). A refused client is told to come back in ${hintS / 2}-${hintS * 1.5} s ` +
    `(\`busyRetryAfterMs\` ${hintS} s by default, jittered 0.5-1.5x), so it costs ~${refusedUsPerS.toFixed(2)} µs of CPU per second, against ` +
    `${connectedUsPerS.toFixed(2)} µs/s for a connected idle client here: **${((refusedUsPerS / connectedUsPerS) * 100).toFixed(0)}%** (goal <= 10%).`;
  log(line);
  return line;
}

const contenders = (values.contenders ?? "").split(",").map((name) => {
  if (name === "outlast") return outlast;
  if (name === "mosquitto") return mosquitto;
  const k = /^outlast-x([1-9]\d*)$/.exec(name)?.[1];
  if (k !== undefined) return sharded(Number(k));
  const workers = /^outlast-pool-([1-9]\d*)$/.exec(name)?.[1];
  if (workers !== undefined) return outlastPool(Number(workers));
  throw new Error(`--contenders: unknown ${JSON.stringify(name)} (outlast, outlast-pool-K, mosquitto, outlast-xK)`);
});
const sizes = (values.clients ?? "")
  .split(",")
  .filter((c) => c !== "")
  .map(Number); // "": only --reject
const nodeFlags = (values["node-flags"] ?? "").split(" ").filter((f) => f !== "");
const rows: Record<string, string>[] = [];
/** --runs: memory-only rows are the median (min-max) of the runs; full rows are one per run (goals: medians). */
const runCount = Math.max(1, Number(values.runs));
for (const size of sizes)
  for (const contender of contenders) {
    const runs: Record<string, string>[] = [];
    for (let i = 0; i < runCount; i++) runs.push(await run(contender, size));
    if (values["memory-only"]) rows.push(runCount === 1 ? (runs[0] as Record<string, string>) : spread(runs));
    else rows.push(...runs);
  }

/** Median (min-max) of the memory columns over runs. */
function spread(runs: Record<string, string>[]): Record<string, string> {
  const col = (key: string): string => {
    const xs = runs.map((r) => Number(r[key])).filter((x) => Number.isFinite(x));
    if (xs.length === 0) return "n/a";
    xs.sort((a, b) => a - b);
    const median = xs[Math.floor(xs.length / 2)] as number;
    return `${median.toFixed(2)} (${(xs[0] as number).toFixed(2)}-${(xs[xs.length - 1] as number).toFixed(2)})`;
  };
  return { ...(runs[0] as Record<string, string>), rss: col("rss"), rssIdle: col("rssIdle"), heap: col("heap") };
}
if (values["memory-only"]) {
  const flags = nodeFlags.length === 0 ? "Node's defaults" : `\`node ${nodeFlags.join(" ")}\``;
  const memory = `Memory only, outlast's server run with ${flags}: N real clients (default options) connect (200 per 50 ms per
client process, <= ${PER_PROCESS.toLocaleString("en-US")} per process), ${SETTLE_MS / 1000} s to settle, then RSS minus the same before any client, / N
(after a full GC); again after ${idleMs / 1000} s more of idling (RSS 1 s after a full GC, and V8's heap), when a GC shrinks
V8's young generation, grown to its 32 MiB cap by the connect storm, if the server allocates little (see the fleet notes); ${runCount > 1 ? `median (min-max) of ${runCount} runs, each a new server` : "one run"}. Command: \`node dist/bench/fleet.js --memory-only --runs ${runCount} --contenders ${values.contenders} --clients ${values.clients} --idle-s ${values["idle-s"]}${nodeFlags.length > 0 ? ` --node-flags="${nodeFlags.join(" ")}"` : ""}\`. Memory does not depend on the machine's load.

| server | clients | RSS / idle client (KiB), ${SETTLE_MS / 1000} s after connecting | RSS / idle client (KiB), after ${idleMs / 1000} s more idle | heap / idle client (KiB) |
|---|---|---|---|---|
${rows.map((r) => `| ${r["server"]} | ${r["clients"]} | ${r["rss"]} | ${r["rssIdle"]} | ${r["heap"]} |`).join("\n")}
`;
  console.log(memory);
  if (values.write) writeBenchmarkSection(nodeFlags.length === 0 ? "fleet-memory" : "fleet-memory-tuned", memory);
  process.exit(0);
}
const rejectM = Number(values.reject);
const rejectLine = rejectM > 0 ? await rejection(rejectM) : "";

const table = `Real clients with default options (outlast: \`connect()\`, protocol v2: the server beats after 6-7 s of silence, dead at 10 s; MQTT.js: keepalive 60 s,
reconnect every 1 s), created 200 per 50 ms in child processes of <= ${PER_PROCESS.toLocaleString("en-US")}, against one server
process on loopback: ${contenders.map((c) => c.version).join("; ")}. The clients run on the same 2 cores${values["nice-clients"] ? " at nice 19 (the server gets a core when it needs one, as with robots on their own machines)" : ", so their CPU\ncompetes with the server's"}. One process may hold at most 20,000 open files on this machine (a hard limit), so no size here
reaches 20,000 clients. Command: \`node dist/bench/fleet.js --clients ${values.clients} --idle-s ${values["idle-s"]} --contenders ${values.contenders} --reject ${values.reject} --burst-k ${values["burst-k"]}${values["nice-clients"] ? " --nice-clients" : ""}${runCount > 1 ? ` --runs ${runCount}` : ""}\`. One run per row. A stall is split into the time the server's main thread was on a CPU and the time it was runnable but waiting for one (the kernel ran the clients), over the longest gap between two 5 ms ticks (/proc/thread-self/schedstat); "most on CPU between ticks" is the longest the server kept a core without getting back to its timers: its own blocking.

| server | clients | client processes | load avg (1 min) at start | RSS / idle client (KiB): ${SETTLE_MS / 1000} s after connecting / after the idle period | heap / idle client (KiB) | idle CPU, % of a core per 1,000 | heartbeat frames/s per 1,000 (pings answered + beats sent) | burst (1 msg each): all acked, server CPU, longest stall | burst (${values["burst-k"]} msgs each, pipelined): all acked, server CPU, longest stall | SIGKILL + restart: all open + first ack, longest stall, client error events |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r["server"]} | ${r["clients"]} | ${r["processes"]} | ${r["load"]} | ${r["rss"]} | ${r["heap"]} | ${r["idle"]} | ${r["pings"]} | ${r["burst"]} | ${r["burstK"]} | ${r["restart"]} |`).join("\n")}

${rejectLine}

${goals()}`;
console.log(table);
if (values.write) writeBenchmarkSection(values["nice-clients"] ? "fleet-nice-clients" : "fleet", table);
