/**
 * Shared measurement code of the delivery benchmark: the cases, what one run
 * records, medians and percentiles, the client's CPU time (process.cpuUsage of
 * the client child) and peak RSS (VmHWM of the client child), and the server
 * process's CPU time (/proc/<pid>/stat).
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { BenchClient } from "./contender.js";

export type BenchCase =
  | {
      readonly kind: "throughput";
      readonly payloadBytes: number;
      /** Messages per measured run. */
      readonly messages: number;
      /** Unacknowledged messages kept outstanding. */
      readonly window: number;
      readonly runs: number;
      readonly warmupMessages: number;
    }
  | {
      readonly kind: "serial";
      readonly payloadBytes: number;
      /** Round trips per measured run. */
      readonly messages: number;
      readonly runs: number;
      readonly warmupMessages: number;
    };

export function caseLabel(c: BenchCase): string {
  return c.kind === "throughput" ? `throughput ${sizeLabel(c.payloadBytes)}` : `serial ${sizeLabel(c.payloadBytes)}`;
}

export function sizeLabel(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** One measured run (one connection) of a case. */
export interface RunResult {
  /** Acknowledged messages. */
  readonly acked: number;
  readonly elapsedMs: number;
  /** Client process CPU (user + system) during the run, µs. */
  readonly cpuMicros: number;
  /** Server process CPU during the run, µs (set by the orchestrator; undefined without /proc). */
  readonly serverCpuMicros?: number | undefined;
  /** Serial only: send-to-ack latency percentiles of this run, µs. */
  readonly p50Micros?: number;
  readonly p99Micros?: number;
}

/** One contender's result for one case. */
export interface CaseResult {
  readonly runs: readonly RunResult[];
  /** Peak RSS of the client process over the warm-up and all runs, bytes. */
  readonly peakRssBytes: number;
  /** RSS of the client process after loading the contender, before connecting, bytes. */
  readonly baselineRssBytes: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in (0, 100]) of unsorted samples. */
export function percentile(xs: Float64Array | readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

/** Peak resident set size of this process in bytes (VmHWM on Linux, getrusage maxrss elsewhere). */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m !== null) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS * 1024;
}

let clockTicks: number | undefined;

/** CPU time (user + system) of another process in µs, from /proc/<pid>/stat; undefined where there is no /proc. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which is in parentheses and may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    return ((utime + stime) / clockTicks) * 1e6;
  } catch {
    return undefined;
  }
}

function cpuMicrosSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

/** Rejects if `promise` takes longer than `ms` (a stuck contender must not hang the benchmark). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const RUN_TIMEOUT_MS = 120_000;

async function throughputRun(client: BenchClient, payload: Buffer, count: number, window: number): Promise<RunResult> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const acked = await withTimeout(client.pipelined(payload, count, window), RUN_TIMEOUT_MS, "pipelined run");
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { acked, elapsedMs, cpuMicros: cpuMicrosSince(cpu0) };
}

async function serialRun(client: BenchClient, payload: Buffer, count: number): Promise<RunResult> {
  const latencies = new Float64Array(count);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = performance.now() + RUN_TIMEOUT_MS;
  for (let i = 0; i < count; i++) {
    const s = process.hrtime.bigint();
    await client.roundTrip(payload);
    latencies[i] = Number(process.hrtime.bigint() - s) / 1e3;
    if ((i & 1023) === 0 && performance.now() > deadline)
      throw new Error(`serial run did not finish within ${RUN_TIMEOUT_MS} ms`);
  }
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return {
    acked: count,
    elapsedMs,
    cpuMicros: cpuMicrosSince(cpu0),
    p50Micros: percentile(latencies, 50),
    p99Micros: percentile(latencies, 99),
  };
}

/**
 * Runs one case in this (client) process, one run at a time as the
 * orchestrator asks: run -1 is the warm-up; every run uses a new connection
 * made by `open`.
 */
export class CaseRunner {
  readonly #case: BenchCase;
  readonly #open: (clientId: string) => Promise<BenchClient>;
  readonly #payload: Buffer;
  readonly baselineRssBytes = process.memoryUsage.rss();

  constructor(c: BenchCase, open: (clientId: string) => Promise<BenchClient>) {
    this.#case = c;
    this.#open = open;
    this.#payload = Buffer.alloc(c.payloadBytes, 0x61);
  }

  async run(index: number): Promise<RunResult> {
    const c = this.#case;
    const client = await withTimeout(this.#open(`bench-${process.pid}-${index + 1}`), 30_000, "connect");
    try {
      const count = index < 0 ? c.warmupMessages : c.messages;
      const result =
        c.kind === "throughput"
          ? await throughputRun(client, this.#payload, count, c.window)
          : await serialRun(client, this.#payload, count);
      if (result.acked !== count)
        throw new Error(`run ${index + 1}: ${result.acked} of ${count} messages acknowledged`);
      return result;
    } finally {
      await withTimeout(client.close(), 30_000, "close");
    }
  }
}
