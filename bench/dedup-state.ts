/**
 * The server's file dedup state alone (what `serve --state` adds per message),
 * without sockets: one client's stream through the state as the server drives
 * it (per message: the progress marks and a record; per read of 64 messages:
 * settle and a group commit), with at most 1,000 messages not yet durable (a
 * client's window). Reports msg/s and the process's CPU time per message
 * (steadier than msg/s on a loaded machine).
 *
 * `--tree DIR` loads FileDedupState from another built checkout (for a
 * before/after comparison, e.g. a worktree of an older commit); rounds
 * alternate between this tree and it, medians over rounds.
 *
 * Run (after building): node dist/bench/dedup-state.js [--runs N] [--messages N] [--tree DIR]
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { DedupState } from "../src/server/dedup-state.js";
import { repoRoot } from "./report.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    messages: { type: "string", default: "50000" },
    tree: { type: "string" },
  },
});
const runs = Number(values.runs);
const messages = Number(values.messages);
const WINDOW = 1000;
const READ = 64;

type StateClass = new (dir: string) => DedupState;

async function load(tree: string): Promise<StateClass> {
  const url = pathToFileURL(join(tree, "dist", "src", "server", "file-dedup-state.js")).href;
  return ((await import(url)) as { FileDedupState: StateClass }).FileDedupState;
}

async function oneRun(State: StateClass): Promise<{ perSecond: number; cpuUs: number }> {
  const dir = await mkdtemp(join(tmpdir(), "outlast-state-bench-"));
  const state = new State(join(dir, "state"));
  let durable = 0;
  let wake: (() => void) | undefined;
  state.setListeners(
    (committed) => {
      for (const seq of committed.values()) durable = Math.max(durable, seq);
      wake?.();
    },
    (err) => {
      throw err;
    },
  );
  await state.open();
  const until = (done: () => boolean): Promise<void> | undefined =>
    done() ? undefined : new Promise<void>((r) => (wake = () => done() && r()));
  try {
    const progress = state.progress("robot");
    const cpu = process.cpuUsage();
    const start = performance.now();
    let seq = 0;
    while (seq < messages) {
      await until(() => seq - durable < WINDOW);
      const end = Math.min(messages, seq + READ, durable + WINDOW);
      while (seq < end) {
        seq++;
        progress.starting(seq);
        progress.finished(seq);
        state.record("robot", seq);
      }
      progress.settle();
      state.commit();
      await new Promise((r) => setImmediate(r)); // the next socket read
    }
    await until(() => durable >= messages);
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    return { perSecond: messages / (ms / 1000), cpuUs: (used.user + used.system) / messages };
  } finally {
    await state.close(true);
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const trees = [repoRoot(), ...(values.tree === undefined ? [] : [resolve(values.tree)])];
const classes = await Promise.all(trees.map(load));
const results = trees.map(() => ({ perSecond: [] as number[], cpuUs: [] as number[] }));
for (let round = 0; round < runs; round++) {
  for (let i = 0; i < trees.length; i++) {
    const r = await oneRun(classes[i] as StateClass);
    const out = results[i] as (typeof results)[number];
    out.perSecond.push(r.perSecond);
    out.cpuUs.push(r.cpuUs);
    console.log(`round ${round + 1} ${trees[i]}: ${Math.round(r.perSecond)} msg/s, ${r.cpuUs.toFixed(2)} us CPU/msg`);
  }
}
for (let i = 0; i < trees.length; i++) {
  const out = results[i] as (typeof results)[number];
  console.log(
    `${trees[i]}: median ${Math.round(median(out.perSecond))} msg/s, ${median(out.cpuUs).toFixed(2)} us CPU/msg (${runs} rounds)`,
  );
}
