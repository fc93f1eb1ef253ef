/**
 * Renders the delivery benchmark's results as the markdown of the
 * `delivery` section of docs/benchmarks.md (the machine lines are added by
 * bench/report.ts), including issue 3's goals for outlast and whether they are met.
 */

import type { BenchCase } from "./measure.js";
import { sizeLabel } from "./measure.js";
import type { BenchResults, CaseSummary, ContenderOutcome } from "./results.js";
import { caseId, summarize } from "./results.js";

export const GOALS = {
  /** Acknowledged msg/s with the memory outbox. */
  minMsgsPerSec: 400_000,
  /** Serial p50 at most this times plain TCP's. */
  maxP50Ratio: 1.3,
  /** Serial p99 at most this times plain TCP's. */
  maxP99Ratio: 1.5,
} as const;

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const one = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const two = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function n0(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "—" : int.format(x);
}
function n1(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "—" : one.format(x);
}
function n2(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "—" : two.format(x);
}
function mib(bytes: number | undefined): string {
  return bytes === undefined ? "—" : one.format(bytes / 1024 ** 2);
}

function find(results: BenchResults, kind: BenchCase["kind"], payloadBytes?: number): BenchCase | undefined {
  return results.cases.find((c) => c.kind === kind && (payloadBytes === undefined || c.payloadBytes === payloadBytes));
}

function summaryOf(c: ContenderOutcome | undefined, bc: BenchCase | undefined): CaseSummary | undefined {
  return c === undefined || bc === undefined ? undefined : summarize(c.cases.get(caseId(bc)));
}

function methodMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  for (const c of r.cases) {
    if (c.kind === "throughput") {
      lines.push(
        `- **${sizeLabel(c.payloadBytes)} throughput**: ${int.format(c.messages)} messages per run, pipelined with at most ${int.format(c.window)} unacknowledged ` +
          `(outlast's default window: 4096 messages / 4 MiB), topped up as acknowledgements arrive; msg/s = acknowledged messages / time from the first send to the last acknowledgement.`,
      );
    } else {
      lines.push(
        `- **serial latency** (${sizeLabel(c.payloadBytes)}): send one, await its acknowledgement, repeat ${int.format(c.messages)} times per run; p50/p99 of each run, then the median over runs.`,
      );
    }
  }
  const first = r.cases[0];
  const runs = first?.runs ?? 0;
  const warm = r.cases
    .map((c) => `${int.format(c.warmupMessages)} for ${c.kind} ${sizeLabel(c.payloadBytes)}`)
    .join(", ");
  lines.push(
    `- Each case of each contender runs in a fresh client child process: a warm-up run (${warm}), then ${runs} measured runs, each on a new connection; the tables show the median of the ${runs} runs.`,
    "- The contenders' runs are interleaved (warm-ups, then run 1 of each contender, run 2 of each, ..., rotating the order), so background noise spreads over all of them.",
    "- Each server runs in its own process (a Node child for plain-tcp and outlast, Mosquitto for mqtt), started once for the whole benchmark, so the client's CPU and RSS are the client's alone.",
    "- **client CPU µs/msg**: `process.cpuUsage()` (user + system) of the client process during a run / acknowledged messages. " +
      "**server CPU µs/msg**: `/proc/<pid>/stat` utime + stime of the server process during a run (10 ms ticks) / messages. " +
      "**client peak RSS**: VmHWM of the client process (Node's own baseline included; the baseline after loading the library is given in parentheses).",
  );
  return lines.join("\n");
}

function contendersMarkdown(r: BenchResults): string {
  const rows = r.contenders.map((c) => `| ${c.name} | ${c.description} | ${c.clientVersion} | ${c.serverVersion} |`);
  return ["| contender | what | client | server |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

function headlineMarkdown(r: BenchResults): string {
  const t256 = find(r, "throughput", 256);
  const t4k = find(r, "throughput", 4096);
  const serial = find(r, "serial");
  const plain = r.contenders.find((c) => c.name === "plain-tcp");
  const p256 = summaryOf(plain, t256);
  const p4k = summaryOf(plain, t4k);
  const pser = summaryOf(plain, serial);
  const head =
    "| contender | 256 B msg/s | vs plain | 4 KiB msg/s | 4 KiB MiB/s | vs plain | serial p50 µs | vs plain | serial p99 µs | vs plain |\n" +
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |";
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? "—" : `${n2(a / b)}x`;
  const rows = r.contenders.map((c) => {
    if (c.error !== undefined) return `| ${c.name} | failed to start | | | | | | | | |`;
    const a = summaryOf(c, t256);
    const b = summaryOf(c, t4k);
    const s = summaryOf(c, serial);
    const mibPerSec = b === undefined || t4k === undefined ? undefined : (b.msgsPerSec * t4k.payloadBytes) / 1024 ** 2;
    return (
      `| ${c.name} | ${n0(a?.msgsPerSec)} | ${ratio(a?.msgsPerSec, p256?.msgsPerSec)} | ${n0(b?.msgsPerSec)} | ${n0(mibPerSec)} | ` +
      `${ratio(b?.msgsPerSec, p4k?.msgsPerSec)} | ${n1(s?.p50Micros)} | ${ratio(s?.p50Micros, pser?.p50Micros)} | ${n1(s?.p99Micros)} | ${ratio(s?.p99Micros, pser?.p99Micros)} |`
    );
  });
  return [head, ...rows].join("\n");
}

function costMarkdown(r: BenchResults): string {
  const head =
    "| contender | case | msg/s (min–max of runs) | client CPU µs/msg | server CPU µs/msg | client peak RSS MiB (baseline) |\n" +
    "| --- | --- | ---: | ---: | ---: | ---: |";
  const rows: string[] = [];
  for (const c of r.contenders) {
    for (const bc of r.cases) {
      const label = `${bc.kind} ${sizeLabel(bc.payloadBytes)}`;
      const outcome = c.cases.get(caseId(bc));
      const s = summarize(outcome);
      if (s === undefined) {
        const why = (c.error ?? outcome?.error ?? "not run").split("\n")[0]!.replaceAll("|", "\\|");
        rows.push(`| ${c.name} | ${label} | failed: ${why} | | | |`);
        continue;
      }
      rows.push(
        `| ${c.name} | ${label} | ${n0(s.msgsPerSec)} (${n0(s.msgsPerSecMin)}–${n0(s.msgsPerSecMax)}) | ${n2(s.clientCpuMicrosPerMessage)} | ` +
          `${n2(s.serverCpuMicrosPerMessage)} | ${mib(s.peakRssBytes)} (${mib(s.baselineRssBytes)}) |`,
      );
    }
  }
  return [head, ...rows].join("\n");
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "**not measured**" : ok ? "**met**" : "**MISSED**";
}

/** The goals of issue 3 for outlast, each with its figure and verdict. */
export function goalsMarkdown(r: BenchResults): string {
  const outlast = r.contenders.find((c) => c.name === "outlast");
  const plain = r.contenders.find((c) => c.name === "plain-tcp");
  const t256 = summaryOf(outlast, find(r, "throughput", 256));
  const t4k = summaryOf(outlast, find(r, "throughput", 4096));
  const s = summaryOf(outlast, find(r, "serial"));
  const ps = summaryOf(plain, find(r, "serial"));
  const p50Ratio = s === undefined || ps === undefined ? undefined : s.p50Micros / ps.p50Micros;
  const p99Ratio = s === undefined || ps === undefined ? undefined : s.p99Micros / ps.p99Micros;
  const pt256 = summaryOf(plain, find(r, "throughput", 256));
  const t256Ratio = t256 === undefined || pt256 === undefined ? undefined : t256.msgsPerSec / pt256.msgsPerSec;
  const lines = [
    `- >= ${int.format(GOALS.minMsgsPerSec)} acknowledged msg/s with the memory outbox (256 B): ` +
      `${t256 === undefined ? "—" : `${n0(t256.msgsPerSec)}/s`}, ${verdict(t256 === undefined ? undefined : t256.msgsPerSec >= GOALS.minMsgsPerSec)}` +
      (t4k === undefined
        ? ""
        : ` (4 KiB: ${n0(t4k.msgsPerSec)}/s, ${t4k.msgsPerSec >= GOALS.minMsgsPerSec ? "also above" : "below"} the goal)`),
    `- serial p50 within ${GOALS.maxP50Ratio}x of plain TCP: ${n1(s?.p50Micros)} µs vs ${n1(ps?.p50Micros)} µs = ${n2(p50Ratio)}x, ` +
      `${verdict(p50Ratio === undefined ? undefined : p50Ratio <= GOALS.maxP50Ratio)}`,
    `- serial p99 within ${GOALS.maxP99Ratio}x of plain TCP (issues 3 and 11): ${n1(s?.p99Micros)} µs vs ${n1(ps?.p99Micros)} µs = ${n2(p99Ratio)}x, ` +
      `${verdict(p99Ratio === undefined ? undefined : p99Ratio <= GOALS.maxP99Ratio)}`,
    `- acknowledged 256 B throughput >= 30% of plain TCP's (issue 11): ${n0(t256?.msgsPerSec)}/s vs ${n0(pt256?.msgsPerSec)}/s = ` +
      `${t256Ratio === undefined ? "—" : `${Math.round(t256Ratio * 100)}%`}, ${verdict(t256Ratio === undefined ? undefined : t256Ratio >= 0.3)}`,
  ];
  return lines.join("\n");
}

export function resultsMarkdown(r: BenchResults): string {
  return [
    `Run: \`${r.command}\` (source: \`bench/delivery.ts\` and \`bench/delivery/\`; \`--quick\` for a short run). ` +
      `${r.quick ? "**Quick run** (fewer, shorter runs: indicative only). " : ""}Took ${one.format(r.durationMs / 1000)} s; all contenders in the same run, on loopback (127.0.0.1). ` +
      `Load average (1 min) before the run: ${two.format(r.loadAverageAtStart)} on ${r.cores} cores` +
      (r.loadAverageAtStart > r.cores / 2
        ? " — **the machine was busy with other work: absolute figures are low and noisy; compare the contenders (same run, interleaved), not the absolute numbers.**"
        : "."),
    "",
    contendersMarkdown(r),
    "",
    "### Method",
    "",
    methodMarkdown(r),
    "",
    "### Acknowledged throughput and serial latency (medians)",
    "",
    headlineMarkdown(r),
    "",
    "### Cost per case (medians)",
    "",
    costMarkdown(r),
    "",
    "### Goals for outlast (issues 3 and 11)",
    "",
    goalsMarkdown(r),
  ].join("\n");
}
