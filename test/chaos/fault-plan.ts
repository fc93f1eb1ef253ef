/**
 * A seeded fault plan: from a seed, which fault happens when and for how long.
 * The same seed and options give the same plan on every machine, so a failing
 * run replays (`OUTLAST_CHAOS_SEED=<n>`). Proxy faults go through the fault
 * proxy; "server-kill" and "client-kill" are SIGKILLs of the child processes.
 */

import type { Direction, ScheduledFault } from "../../src/proxy/index.js";
import { createRandom, type Random } from "../../src/proxy/random.js";

export type PlanFaultKind =
  | "reset"
  | "close"
  | "blackhole"
  | "latency"
  | "bandwidth"
  | "slicer"
  | "limit-data"
  | "refuse"
  | "hold"
  | "server-kill"
  | "client-kill";

export const PLAN_FAULT_KINDS: readonly PlanFaultKind[] = [
  "reset",
  "close",
  "blackhole",
  "latency",
  "bandwidth",
  "slicer",
  "limit-data",
  "refuse",
  "hold",
  "server-kill",
  "client-kill",
];

export type PlannedFault =
  | { readonly kind: "server-kill"; readonly atMs: number; readonly downMs: number }
  | { readonly kind: "client-kill"; readonly atMs: number; readonly downMs: number; readonly client: number }
  | {
      readonly kind: Exclude<PlanFaultKind, "server-kill" | "client-kill">;
      readonly atMs: number;
      readonly durationMs: number;
      readonly fault: ScheduledFault;
    };

export interface PlanOptions {
  readonly seed: number;
  /** How many faults the plan holds. */
  readonly faults: number;
  /** Mean time between fault starts (exponential gaps). */
  readonly meanGapMs: number;
  /** Relative weights; a kind left out (or 0) never happens. */
  readonly weights: Readonly<Partial<Record<PlanFaultKind, number>>>;
  /** Client processes (client-kill picks one). */
  readonly clients: number;
}

/** Default weights: every proxy fault and server kills; client kills only where the outbox is durable. */
export const DEFAULT_WEIGHTS: Readonly<Partial<Record<PlanFaultKind, number>>> = {
  reset: 4,
  close: 2,
  blackhole: 3,
  latency: 2,
  bandwidth: 1,
  slicer: 1,
  "limit-data": 2,
  refuse: 1,
  hold: 1,
  "server-kill": 1,
};

function between(random: Random, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

function direction(random: Random): Direction {
  const r = random();
  return r < 0.5 ? "both" : r < 0.75 ? "upstream" : "downstream";
}

function pickKind(random: Random, weights: PlanOptions["weights"]): PlanFaultKind {
  const entries = PLAN_FAULT_KINDS.map((k) => [k, weights[k] ?? 0] as const).filter(([, w]) => w > 0);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (total <= 0) throw new Error("fault plan: every weight is 0");
  let r = random() * total;
  for (const [kind, w] of entries) {
    r -= w;
    if (r < 0) return kind;
  }
  return entries[entries.length - 1]?.[0] ?? "reset";
}

function plannedFault(random: Random, kind: PlanFaultKind, atMs: number, clients: number): PlannedFault {
  switch (kind) {
    case "server-kill":
      return { kind, atMs, downMs: between(random, 0, 800) };
    case "client-kill":
      return { kind, atMs, downMs: between(random, 0, 500), client: Math.floor(random() * clients) };
    case "reset":
      return { kind, atMs, durationMs: between(random, 0, 200), fault: { kind, direction: direction(random) } };
    case "close":
      return {
        kind,
        atMs,
        durationMs: between(random, 0, 200),
        fault: { kind, direction: random() < 0.5 ? "both" : "downstream" },
      };
    case "blackhole":
      // Long ones outlast the client's heartbeat timeout (the half-open link), short ones are a stall.
      return { kind, atMs, durationMs: between(random, 100, 2500), fault: { kind, direction: direction(random) } };
    case "latency": {
      const latencyMs = between(random, 10, 300);
      return {
        kind,
        atMs,
        durationMs: between(random, 300, 2500),
        fault: { kind, latencyMs, jitterMs: between(random, 0, latencyMs), direction: direction(random) },
      };
    }
    case "bandwidth":
      return {
        kind,
        atMs,
        durationMs: between(random, 300, 2000),
        fault: { kind, bytesPerSecond: between(random, 8, 256) * 1024, direction: direction(random) },
      };
    case "slicer":
      return {
        kind,
        atMs,
        durationMs: between(random, 300, 1500),
        fault: {
          kind,
          averageSizeBytes: between(random, 2, 64),
          sizeVariationBytes: between(random, 0, 1),
          delayMs: between(random, 0, 2),
          direction: direction(random),
        },
      };
    case "limit-data":
      // Small limits cut the handshake itself; larger ones cut mid-frame.
      return {
        kind,
        atMs,
        durationMs: between(random, 100, 1000),
        fault: { kind, bytes: between(random, 1, 32 * 1024), direction: direction(random) },
      };
    case "refuse":
      return { kind, atMs, durationMs: between(random, 100, 1000), fault: { kind } };
    case "hold":
      return { kind, atMs, durationMs: between(random, 100, 2000), fault: { kind } };
    default: {
      const never: never = kind;
      throw new Error(`fault plan: unknown kind ${String(never)}`);
    }
  }
}

/** The plan for a seed: `faults` faults, starts spaced by exponential gaps with mean `meanGapMs`. */
export function createFaultPlan(options: PlanOptions): PlannedFault[] {
  const random = createRandom(options.seed);
  const plan: PlannedFault[] = [];
  let atMs = 0;
  for (let i = 0; i < options.faults; i++) {
    atMs += Math.round(-Math.log(1 - random()) * options.meanGapMs);
    plan.push(plannedFault(random, pickKind(random, options.weights), atMs, options.clients));
  }
  return plan;
}

/** When the last fault of the plan is over. */
export function planEndMs(plan: readonly PlannedFault[]): number {
  return plan.reduce((end, f) => Math.max(end, f.atMs + ("durationMs" in f ? f.durationMs : f.downMs)), 0);
}

/** How many faults of each kind the plan holds. */
export function countByKind(plan: readonly PlannedFault[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of plan) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return counts;
}
