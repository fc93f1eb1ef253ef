/**
 * Summarizes V8 .cpuprofile files (from `delivery.js --profile DIR`): the
 * functions with the most self time and the most inclusive time, as a share
 * of the non-idle samples.
 * Run: node .build-bench/bench/delivery/profile-summary.js DIR-or-files... [--top N]
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { parseArgs } from "node:util";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function frameName(f: CallFrame): string {
  const name = f.functionName === "" ? "(anonymous)" : f.functionName;
  if (f.url === "") return name;
  const url = f.url.startsWith("file://") ? relative(process.cwd(), new URL(f.url).pathname) : f.url;
  return `${name} ${url}:${f.lineNumber + 1}`;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly self: ReadonlyArray<readonly [string, number]>;
  readonly inclusive: ReadonlyArray<readonly [string, number]>;
}

export function summarizeProfile(p: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(p.samples[i]!);
    if (node === undefined) continue;
    totalMs += ms;
    if (node.callFrame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    const leaf = frameName(node.callFrame);
    self.set(leaf, (self.get(leaf) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const name = frameName(byId.get(id)!.callFrame);
      if (seen.has(name) || name === "(root)") continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { totalMs, idleMs, self: sorted(self), inclusive: sorted(inclusive) };
}

function files(args: readonly string[]): string[] {
  return args.flatMap((a) =>
    statSync(a).isDirectory()
      ? readdirSync(a)
          .filter((f) => f.endsWith(".cpuprofile"))
          .map((f) => join(a, f))
      : [a],
  );
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "25" } },
  });
  const top = Number(values.top);
  for (const file of files(positionals)) {
    const s = summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
    const busy = s.totalMs - s.idleMs;
    const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
    console.log(`\n## ${basename(file)}: ${busy.toFixed(0)} ms busy, ${s.idleMs.toFixed(0)} ms idle`);
    console.log(`\nself time (top ${top}):`);
    for (const [name, ms] of s.self.slice(0, top)) console.log(`  ${pct(ms)} ${ms.toFixed(1).padStart(8)} ms  ${name}`);
    console.log(`\ninclusive time (top ${top}):`);
    for (const [name, ms] of s.inclusive.slice(0, top))
      console.log(`  ${pct(ms)} ${ms.toFixed(1).padStart(8)} ms  ${name}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
