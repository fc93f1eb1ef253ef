/**
 * The chaos runs' sizes and the seed: OUTLAST_CHAOS_SEED=<n> replays a run,
 * otherwise each run draws a fresh seed (and prints it).
 */

import { randomSeed } from "../../src/proxy/random.js";
import { DEFAULT_WEIGHTS } from "./fault-plan.js";
import type { ChaosRunOptions } from "./run-chaos.js";

export function chaosSeed(): number {
  const text = process.env["OUTLAST_CHAOS_SEED"];
  if (text === undefined || text === "") return randomSeed();
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error(`OUTLAST_CHAOS_SEED must be an integer in 0..4294967295, not ${JSON.stringify(text)}`);
  return seed;
}

export interface ChaosSize extends Omit<ChaosRunOptions, "seed" | "log"> {
  /** A reason to skip the run here, or undefined when it can run. */
  readonly unavailable?: () => string | undefined;
}

/** CI: >= 20,000 messages and >= 100 faults in well under 3 minutes on 2 cores. */
export const CI_RUNS: readonly ChaosSize[] = [
  {
    name: "ci-memory-outbox",
    messages: 20_000,
    clients: 2,
    faults: 110,
    meanGapMs: 400,
  },
  {
    name: "ci-durable-outbox",
    messages: 20_000,
    clients: 2,
    faults: 110,
    meanGapMs: 400,
    durableOutbox: true,
    weights: { ...DEFAULT_WEIGHTS, "server-kill": 2, "client-kill": 3 },
  },
];

/** The bench-size runs (bench/chaos.ts --size bench): 1,000,000 messages, >= 500 faults each. */
export const BENCH_RUNS: readonly ChaosSize[] = [
  {
    name: "bench-memory-outbox",
    messages: 1_000_000,
    clients: 4,
    faults: 520,
    meanGapMs: 400,
    maxQueuedMessages: 20_000,
    settleTimeoutMs: 300_000,
  },
  {
    name: "bench-durable-outbox",
    messages: 1_000_000,
    clients: 4,
    faults: 520,
    meanGapMs: 400,
    durableOutbox: true,
    weights: { ...DEFAULT_WEIGHTS, "server-kill": 2, "client-kill": 3 },
    maxQueuedMessages: 20_000,
    settleTimeoutMs: 300_000,
  },
];

/** The kernel-fault run in network namespaces (test/chaos/netns-chaos.test.ts). */
export const NETNS_RUN = "netns-kernel-faults";
export const NETNS_SIZE = { messages: 6000, clients: 2, faults: 24 } as const;
