/**
 * The results of one benchmark invocation, as the orchestrator collects them
 * and report-markdown.ts renders them, plus the derived figures (medians).
 */

import type { ContenderName } from "./contender.js";
import type { BenchCase, CaseResult } from "./measure.js";
import { median } from "./measure.js";

export interface CaseOutcome {
  readonly benchCase: BenchCase;
  /** Undefined when the case failed (see `error`). */
  readonly result: CaseResult | undefined;
  readonly error: string | undefined;
}

export interface ContenderOutcome {
  readonly name: ContenderName;
  readonly description: string;
  readonly clientVersion: string;
  readonly serverVersion: string;
  /** Set when the contender could not start at all. */
  readonly error: string | undefined;
  /** Keyed by case id (see caseId). */
  readonly cases: ReadonlyMap<string, CaseOutcome>;
}

export interface BenchResults {
  readonly command: string;
  readonly quick: boolean;
  readonly cases: readonly BenchCase[];
  readonly contenders: readonly ContenderOutcome[];
  readonly startedAt: Date;
  readonly durationMs: number;
  /** 1-minute load average before the benchmark started (other work on the machine skews the figures). */
  readonly loadAverageAtStart: number;
  readonly cores: number;
}

export function caseId(c: BenchCase): string {
  return `${c.kind}-${c.payloadBytes}`;
}

/** Median figures of one case. */
export interface CaseSummary {
  readonly msgsPerSec: number;
  readonly msgsPerSecMin: number;
  readonly msgsPerSecMax: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly clientCpuMicrosPerMessage: number;
  readonly peakRssBytes: number;
  readonly baselineRssBytes: number;
  readonly serverCpuMicrosPerMessage: number | undefined;
}

export function summarize(o: CaseOutcome | undefined): CaseSummary | undefined {
  const r = o?.result;
  if (o === undefined || r === undefined || r.runs.length === 0) return undefined;
  const rates = r.runs.map((x) => (x.acked / x.elapsedMs) * 1000);
  return {
    msgsPerSec: median(rates),
    msgsPerSecMin: Math.min(...rates),
    msgsPerSecMax: Math.max(...rates),
    p50Micros: median(r.runs.map((x) => x.p50Micros ?? NaN)),
    p99Micros: median(r.runs.map((x) => x.p99Micros ?? NaN)),
    clientCpuMicrosPerMessage: median(r.runs.map((x) => x.cpuMicros / x.acked)),
    peakRssBytes: r.peakRssBytes,
    baselineRssBytes: r.baselineRssBytes,
    serverCpuMicrosPerMessage: r.runs.every((x) => x.serverCpuMicros !== undefined)
      ? median(r.runs.map((x) => x.serverCpuMicros! / x.acked))
      : undefined,
  };
}
