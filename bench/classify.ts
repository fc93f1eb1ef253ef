/**
 * bench/classify: classifications per second over a mix of REAL error
 * objects (bench/real-errors.ts), beside is-retry-allowed and @smithy's
 * isTransientError in the same run on the same objects, plus a table of what
 * each library says about each error against what issue 2 asks for.
 *
 * Run: npm run bench:classify   (or: node dist/bench/classify.js)
 * Writes the "classify" section of docs/benchmarks.md.
 */

import { isTransientError } from "@smithy/service-error-classification";
import isRetryAllowed from "is-retry-allowed";
import { classify } from "../src/errors/classify.js";
import { makeRealErrors } from "./real-errors.js";
import type { Sample } from "./real-errors.js";
import { outlastVersion, packageVersion, writeBenchmarkSection } from "./report.js";

const RUNS = 5;
const RUN_MS = 200;
const PLAIN_GOAL_PER_S = 1_000_000;
const WRAPPED_GOAL_NS = 5_000; // "a few µs at most"

interface Judge {
  readonly name: string;
  readonly version: string;
  /** Is this error worth a retry / a transient one, per the library. */
  readonly retry: (err: unknown) => boolean;
}

const smithyTransient = isTransientError as (err: unknown) => boolean;

const JUDGES: readonly Judge[] = [
  { name: "outlast classify()", version: `${outlastVersion()}, this tree`, retry: (e) => classify(e).connection },
  {
    name: "is-retry-allowed",
    version: packageVersion("is-retry-allowed"),
    retry: (e) => isRetryAllowed(e as Error),
  },
  {
    name: "@smithy isTransientError",
    version: packageVersion("@smithy/service-error-classification"),
    retry: (e) => {
      try {
        return smithyTransient(e);
      } catch {
        return false; // it throws on some inputs; count that as "no"
      }
    },
  },
];

let sink = 0; // keeps results alive so the loops are not optimized away

/** Nanoseconds per call of `fn` over `passes` passes of `errors`. */
function timePasses(fn: (e: unknown) => boolean, errors: readonly unknown[], passes: number): number {
  let hits = 0;
  const start = process.hrtime.bigint();
  for (let p = 0; p < passes; p++) for (let i = 0; i < errors.length; i++) if (fn(errors[i])) hits++;
  const ns = Number(process.hrtime.bigint() - start);
  sink += hits;
  return ns / (passes * errors.length);
}

/** Passes that take about `ms` (found by doubling; this also warms the function up). */
function calibrate(fn: (e: unknown) => boolean, errors: readonly unknown[], ms: number): number {
  let passes = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    timePasses(fn, errors, passes);
    const took = Number(process.hrtime.bigint() - start) / 1e6;
    if (took >= ms / 4) return Math.max(1, Math.round((passes * ms) / took));
    passes *= 2;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Median ns/op of RUNS runs per judge, the judges interleaved run by run so drift hits all alike. */
function measureGroup(errors: readonly unknown[]): Map<Judge, number> {
  const passes = new Map<Judge, number>();
  for (const j of JUDGES) {
    passes.set(j, calibrate(j.retry, errors, RUN_MS));
    timePasses(j.retry, errors, passes.get(j) ?? 1); // one more warm-up run at full length
  }
  const runs = new Map<Judge, number[]>(JUDGES.map((j) => [j, []]));
  for (let r = 0; r < RUNS; r++)
    for (const j of JUDGES) runs.get(j)?.push(timePasses(j.retry, errors, passes.get(j) ?? 1));
  return new Map(JUDGES.map((j) => [j, median(runs.get(j) ?? [])]));
}

/** Median ns of one classify() of one error. */
function measureOne(error: unknown): number {
  const fn = (e: unknown): boolean => classify(e).connection;
  const passes = calibrate(fn, [error], 20);
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(timePasses(fn, [error], passes));
  return median(runs);
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const fmtNs = (n: number): string => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : fmtInt(n));
const yesNo = (b: boolean | null): string => (b === null ? "—" : b ? "retry" : "no");

function verdictCell(said: boolean, expected: boolean | null): string {
  return expected === null || said === expected ? yesNo(said) : `**${yesNo(said)}** ✗`;
}

async function main(): Promise<void> {
  const samples = await makeRealErrors();
  const plain = samples.filter((s) => s.group === "plain");
  const wrapped = samples.filter((s) => s.group === "wrapped");
  process.stderr.write(`classify bench: ${plain.length} plain and ${wrapped.length} wrapped real errors\n`);

  const byGroup = {
    plain: measureGroup(plain.map((s) => s.error)),
    wrapped: measureGroup(wrapped.map((s) => s.error)),
  };
  const perSampleNs = new Map<Sample, number>(samples.map((s) => [s, measureOne(s.error)]));

  const lines: string[] = [];
  lines.push(
    "Run: `npm run bench:classify` (source: `bench/classify.ts`, errors made by `bench/real-errors.ts`).",
    `${samples.length} real error objects, made by really failing on loopback (${plain.length} "plain": the verdict is in the top-level object; ${wrapped.length} "wrapped": behind \`cause\` chains or inside an AggregateError).`,
    `Libraries: ${JUDGES.map((j) => `${j.name} (${j.version})`).join(", ")}. Median of ${RUNS} runs of ~${RUN_MS} ms each after a warm-up, all three in the same process on the same objects.`,
    "",
    "### Throughput",
    "",
    "| library | plain: calls/s | plain: ns/call | wrapped: calls/s | wrapped: ns/call |",
    "| --- | ---: | ---: | ---: | ---: |",
  );
  for (const j of JUDGES) {
    const p = byGroup.plain.get(j) ?? NaN;
    const w = byGroup.wrapped.get(j) ?? NaN;
    lines.push(`| ${j.name} | ${fmtInt(1e9 / p)} | ${fmtNs(p)} | ${fmtInt(1e9 / w)} | ${fmtNs(w)} |`);
  }
  const outlast = JUDGES[0];
  const plainRate = 1e9 / (outlast === undefined ? NaN : (byGroup.plain.get(outlast) ?? NaN));
  const worstWrapped = Math.max(...wrapped.map((s) => perSampleNs.get(s) ?? NaN));
  const worstAny = Math.max(...samples.map((s) => perSampleNs.get(s) ?? NaN));
  lines.push(
    "",
    `Goal (issue 2): >= ${fmtInt(PLAIN_GOAL_PER_S)} classifications/s for plain errors: **${fmtInt(plainRate)}/s, ${plainRate >= PLAIN_GOAL_PER_S ? "met" : "MISSED"}**; ` +
      `at most a few µs (${WRAPPED_GOAL_NS / 1000} µs) for a wrapped one: **slowest wrapped ${fmtNs(worstWrapped)} ns, ${worstWrapped <= WRAPPED_GOAL_NS ? "met" : "MISSED"}** (slowest of all: ${fmtNs(worstAny)} ns).`,
    "",
    "### Verdicts on the same objects",
    "",
    'What each library says (retry / no) next to what issue 2 asks for; **bold ✗** marks a wrong answer. "—": the issue does not say. The last column is one `classify()` of that error alone.',
    "",
    `| error | group | issue 2 | outlast (kind) | ${JUDGES.slice(1)
      .map((j) => j.name)
      .join(" | ")} | outlast ns |`,
    `| --- | --- | --- | --- | ${JUDGES.slice(1)
      .map(() => "---")
      .join(" | ")} | ---: |`,
  );
  for (const s of samples) {
    const c = classify(s.error);
    const others = JUDGES.slice(1).map((j) => verdictCell(j.retry(s.error), s.expected));
    lines.push(
      `| ${s.label} | ${s.group} | ${yesNo(s.expected)} | ${verdictCell(c.connection, s.expected)} (${c.kind}) | ${others.join(" | ")} | ${fmtNs(perSampleNs.get(s) ?? NaN)} |`,
    );
  }

  const scored = samples.filter((s) => s.expected !== null);
  lines.push(
    "",
    "### Agreement",
    "",
    `Out of ${samples.length} errors (${scored.length} with a verdict in issue 2).`,
    "",
    "| library | says retry | right per issue 2 | retries a non-connection error | misses a connection error | agrees with outlast |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const j of JUDGES) {
    const said = new Map(samples.map((s) => [s, j.retry(s.error)]));
    const count = (pred: (s: Sample) => boolean, from: readonly Sample[] = samples): number => from.filter(pred).length;
    lines.push(
      `| ${j.name} | ${count((s) => said.get(s) === true)} | ${count((s) => said.get(s) === s.expected, scored)} of ${scored.length}` +
        ` | ${count((s) => said.get(s) === true && s.expected === false)} | ${count((s) => said.get(s) === false && s.expected === true)}` +
        ` | ${count((s) => said.get(s) === classify(s.error).connection)} of ${samples.length} |`,
    );
  }

  const markdown = lines.join("\n");
  process.stdout.write(`${markdown}\n`);
  const file = writeBenchmarkSection("classify", markdown);
  process.stderr.write(`classify bench: wrote ${file} (sink ${sink})\n`);
}

main().then(
  () => process.exit(0), // undici keep-alive sockets must not hold the process
  (err: unknown) => {
    process.stderr.write(`classify bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
