/**
 * Delivery benchmark (issue 3): acknowledged messages/s for 256 B and 4 KiB
 * payloads, serial send-to-ack latency p50/p99, client CPU per message and
 * client peak RSS, for outlast, plain Node TCP with outlast's framing (the
 * limit) and MQTT.js QoS 1 to Mosquitto, all in the same run. Writes the
 * `delivery` section of docs/benchmarks.md.
 *
 * Build and run:
 *   npx tsc -p tsconfig.json --outDir .build-bench && node .build-bench/bench/delivery.js
 * Options:
 *   --quick            short run (3 runs of 20,000 messages, 1,000 round trips); does not write docs unless --write
 *   --runs N           measured runs per case (default 5)
 *   --messages N       messages per throughput run (default 100,000)
 *   --round-trips N    round trips per serial run (default 5,000)
 *   --only a,b         contenders to run (plain-tcp, outlast, mqtt)
 *   --cases a,b        cases to run (throughput-256, throughput-4096, serial-256; default all)
 *   --window N         most unacknowledged messages in the throughput cases (default 4096, and at most 4 MiB of payload)
 *   --write / --no-write  write docs/benchmarks.md (default: write unless --quick or --profile)
 *   --profile DIR      run outlast's client and server under --cpu-prof: profiles in DIR/outlast-server, DIR/outlast-client-<case>
 *                      (summarize: node .build-bench/bench/delivery/profile-summary.js DIR/outlast-server ...)
 */

import { mkdirSync } from "node:fs";
import os from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { ClientProcess } from "./delivery/client-process.js";
import type { ContenderName, RunningServer } from "./delivery/contender.js";
import { CONTENDER_NAMES, isContenderName, loadContender } from "./delivery/contender.js";
import type { BenchCase, RunResult } from "./delivery/measure.js";
import { caseLabel, processCpuMicros } from "./delivery/measure.js";
import { resultsMarkdown } from "./delivery/report-markdown.js";
import type { CaseOutcome, ContenderOutcome } from "./delivery/results.js";
import { caseId } from "./delivery/results.js";
import { repoRoot, writeBenchmarkSection } from "./report.js";

/** outlast's default in-flight window: every contender gets the same one. */
const WINDOW_MESSAGES = 4096;
const WINDOW_BYTES = 4 * 1024 * 1024;
const RUN_TIMEOUT_MS = 150_000;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    messages: { type: "string" },
    "round-trips": { type: "string" },
    only: { type: "string" },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    profile: { type: "string" },
    window: { type: "string" },
    cases: { type: "string" },
  },
});

const quick = values.quick === true;
const runs = positive("runs", values.runs, quick ? 3 : 5);
const messages = positive("messages", values.messages, quick ? 20_000 : 100_000);
const roundTrips = positive("round-trips", values["round-trips"], quick ? 1_000 : 5_000);
const windowMessages = positive("window", values.window, WINDOW_MESSAGES);
// A quick or profiled run is not the figure to publish: it writes docs only when asked to.
const write = values["no-write"] === true ? false : (values.write ?? (!quick && values.profile === undefined));
const only = (values.only ?? CONTENDER_NAMES.join(",")).split(",").map((s) => s.trim());
for (const name of only)
  if (!isContenderName(name))
    throw new Error(`--only: unknown contender ${name} (known: ${CONTENDER_NAMES.join(", ")})`);
const selected = CONTENDER_NAMES.filter((n) => only.includes(n));
const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });

function throughputCase(payloadBytes: number): BenchCase {
  return {
    kind: "throughput",
    payloadBytes,
    messages,
    window: Math.min(windowMessages, Math.floor(WINDOW_BYTES / payloadBytes)),
    runs,
    warmupMessages: Math.min(messages, 20_000),
  };
}

const allCases: BenchCase[] = [
  throughputCase(256),
  throughputCase(4096),
  { kind: "serial", payloadBytes: 256, messages: roundTrips, runs, warmupMessages: Math.min(roundTrips, 500) },
];
const caseFilter = values.cases?.split(",").map((s) => s.trim());
for (const id of caseFilter ?? []) {
  if (!allCases.some((c) => caseId(c) === id))
    throw new Error(`--cases: unknown case ${id} (known: ${allCases.map(caseId).join(", ")})`);
}
const cases = allCases.filter((c) => caseFilter === undefined || caseFilter.includes(caseId(c)));

function execArgvFor(name: ContenderName, role: string): string[] {
  if (profileDir === undefined || name !== "outlast") return [];
  // One folder per process role: Node 20's --cpu-prof-name has no pid placeholder.
  return ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, `${name}-${role}`)}`];
}

function log(msg: string): void {
  process.stderr.write(`[delivery] ${msg}\n`);
}

interface Entry {
  name: ContenderName;
  description: string;
  clientVersion: string;
  server: RunningServer | undefined;
  error: string | undefined;
  cases: Map<string, CaseOutcome>;
}

/** Runs one case for every started contender, interleaving their runs (rotating the order each round). */
async function runCaseInterleaved(benchCase: BenchCase, entries: readonly Entry[]): Promise<void> {
  const procs = new Map<Entry, ClientProcess>();
  const runsOf = new Map<Entry, RunResult[]>();
  const failed = new Map<Entry, string>();
  const fail = (e: Entry, err: unknown) => {
    const error = err instanceof Error ? err.message : String(err);
    failed.set(e, error);
    procs.get(e)?.kill();
    log(`${e.name} ${caseLabel(benchCase)}: FAILED: ${error}`);
  };
  const active = entries.filter((e) => e.server !== undefined);
  for (const e of active) {
    try {
      const p = new ClientProcess(execArgvFor(e.name, `client-${caseId(benchCase)}`));
      procs.set(e, p);
      runsOf.set(e, []);
      await p.request(
        { type: "job", contender: e.name, port: e.server!.port, benchCase },
        30_000,
        `${e.name} client start`,
      );
    } catch (err) {
      fail(e, err);
    }
  }
  log(
    `${caseLabel(benchCase)}: warm-up, then ${benchCase.runs} runs of ${benchCase.messages} messages per contender, interleaved`,
  );
  for (let index = -1; index < benchCase.runs; index++) {
    for (let k = 0; k < active.length; k++) {
      const e = active[(k + index + 1) % active.length]!;
      const p = procs.get(e);
      if (p === undefined || failed.has(e)) continue;
      try {
        const cpu0 = processCpuMicros(e.server!.pid);
        const answer = await p.request(
          { type: "run", index },
          RUN_TIMEOUT_MS,
          `${e.name} ${caseLabel(benchCase)} run ${index + 1}`,
        );
        const cpu1 = processCpuMicros(e.server!.pid);
        if (answer.type !== "run") throw new Error(`unexpected answer ${answer.type}`);
        const result: RunResult = {
          ...answer.result,
          serverCpuMicros: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
        };
        if (index >= 0) runsOf.get(e)!.push(result);
        const rate = Math.round((result.acked / result.elapsedMs) * 1000);
        const lat =
          result.p50Micros === undefined
            ? ""
            : `, p50 ${result.p50Micros.toFixed(1)} µs, p99 ${result.p99Micros?.toFixed(1)} µs`;
        log(`  ${e.name} ${index < 0 ? "warm-up" : `run ${index + 1}`}: ${rate} msg/s${lat}`);
      } catch (err) {
        fail(e, err);
      }
    }
  }
  for (const e of active) {
    const p = procs.get(e);
    const error = failed.get(e);
    if (p === undefined || error !== undefined) {
      e.cases.set(caseId(benchCase), { benchCase, result: undefined, error: error ?? "not started" });
      await p?.exited();
      continue;
    }
    try {
      const end = await p.request({ type: "end" }, 30_000, `${e.name} client end`);
      if (end.type !== "end") throw new Error(`unexpected answer ${end.type}`);
      const result = { runs: runsOf.get(e)!, peakRssBytes: end.peakRssBytes, baselineRssBytes: end.baselineRssBytes };
      e.cases.set(caseId(benchCase), { benchCase, result, error: undefined });
    } catch (err) {
      e.cases.set(caseId(benchCase), {
        benchCase,
        result: undefined,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    await p.exited();
  }
}

const startedAt = new Date();
const loadAverageAtStart = os.loadavg()[0] ?? 0;
const t0 = performance.now();
const entries: Entry[] = [];
try {
  for (const name of selected) {
    const entry: Entry = {
      name,
      description: name,
      clientVersion: "?",
      server: undefined,
      error: undefined,
      cases: new Map(),
    };
    entries.push(entry);
    try {
      const contender = await loadContender(name);
      entry.description = contender.description;
      entry.clientVersion = contender.clientVersion();
      entry.server = await contender.startServer({ execArgv: execArgvFor(name, "server") });
      log(`${name}: server ${entry.server.version} on 127.0.0.1:${entry.server.port} (pid ${entry.server.pid})`);
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
      log(`${name}: cannot start: ${entry.error}`);
    }
  }
  for (const benchCase of cases) await runCaseInterleaved(benchCase, entries);
} finally {
  for (const entry of entries)
    await entry.server?.stop().catch((err: unknown) => log(`${entry.name}: stop failed: ${String(err)}`));
}

const argv = process.argv.slice(2);
// The command as it was run: the build into the folder this script was compiled to, then this script.
const script = relative(repoRoot(), process.argv[1] ?? "bench/delivery.js");
const outDir = script.split(sep)[0] ?? "dist";
const build = outDir === "dist" ? "npm run build" : `npx tsc -p tsconfig.json --outDir ${outDir}`;
const command = `${build} && node ${script}${argv.length > 0 ? ` ${argv.join(" ")}` : ""}`;
const contenders: ContenderOutcome[] = entries.map((e) => ({
  name: e.name,
  description: e.description,
  clientVersion: e.clientVersion,
  serverVersion: e.server?.version ?? "—",
  error: e.error,
  cases: e.cases,
}));
const markdown = resultsMarkdown({
  command,
  quick,
  cases,
  contenders,
  startedAt,
  durationMs: performance.now() - t0,
  loadAverageAtStart,
  cores: os.availableParallelism(),
});
console.log(markdown);
if (write) log(`wrote ${writeBenchmarkSection("delivery", markdown)}`);
else log("docs/benchmarks.md not written (--quick, --profile or --no-write; pass --write to write it)");
if (profileDir !== undefined) log(`profiles in ${profileDir}`);
