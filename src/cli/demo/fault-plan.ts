/**
 * The demo's fault timeline: a pure function of the seed, the length of the
 * send phase and the fault rate, so a run is replayed with `--seed`.
 *
 * Faults run one after another (never two at once), so each recovery is
 * visible; between them the link is healthy for an exponential gap. Besides
 * the random network faults, a run with faults has one server crash (no drain;
 * restarted on its state directory) and one client crash (restarted on its
 * durable outbox) when its send phase leaves room for them: always from
 * CRASHES_CERTAIN_FROM_MS on; a shorter run may skip one or both, and its
 * report says so (missingCrashes).
 */

import { createRandom, deriveSeed } from "../../proxy/random.js";

export type DemoFaultKind =
  | "reset" // RST to both sides of every open connection
  | "blackhole" // the link goes silent; the client's heartbeat notices
  | "latency" // slow link for a while (no reconnect needed)
  | "close" // FIN to both sides of every open connection
  | "refuse" // reset every open connection, and new ones for a while
  | "hold" // new connections are accepted but never answered (connect timeout)
  | "server-crash" // the server stops at once and restarts on its state directory
  | "server-restart" // the server drains, says GOODBYE, and restarts
  | "client-crash"; // the client stops at once and a new one opens its durable outbox

export const DEMO_FAULT_KINDS: readonly DemoFaultKind[] = [
  "reset",
  "blackhole",
  "latency",
  "close",
  "refuse",
  "hold",
  "server-crash",
  "server-restart",
  "client-crash",
];

export interface FaultStep {
  /** Start, from the beginning of the send phase (ms). */
  readonly atMs: number;
  readonly kind: DemoFaultKind;
  /** How long it lasts (ms): the blackhole, the latency, the refused window, the server's downtime. */
  readonly forMs: number;
  /** For latency: the added delay and its jitter (ms). */
  readonly latencyMs?: number;
  readonly jitterMs?: number;
}

/**
 * From this send phase on, a run with faults always has both crashes. The client crash is due
 * by 75% of the phase; a network fault begun just before may push it back by its longest
 * (a 1.8 s blackhole) plus 150 ms, and it must start by 300 ms before the end:
 * 0.75 d + 1.95 s <= d - 0.3 s, so d >= 9 s. (The server crash, due by 45% and lasting up to
 * 0.8 s, needs d >= 5.8 s.)
 */
export const CRASHES_CERTAIN_FROM_MS = 9000;

/** The crashes a plan with faults is meant to hold, but that a short send phase had no room for. */
export function missingCrashes(plan: readonly FaultStep[], faultRate: number): DemoFaultKind[] {
  if (faultRate <= 0) return [];
  return (["server-crash", "client-crash"] as const).filter((kind) => !plan.some((s) => s.kind === kind));
}

/** Random network faults and their weights. */
const WEIGHTS: readonly [DemoFaultKind, number][] = [
  ["reset", 4],
  ["blackhole", 2],
  ["latency", 2],
  ["close", 1],
  ["refuse", 1],
  ["hold", 1],
  ["server-restart", 1],
];

function pick(r: number): DemoFaultKind {
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let x = r * total;
  for (const [kind, w] of WEIGHTS) {
    if (x < w) return kind;
    x -= w;
  }
  return "reset";
}

function step(kind: DemoFaultKind, atMs: number, random: () => number): FaultStep {
  const between = (lo: number, hi: number): number => Math.round(lo + random() * (hi - lo));
  switch (kind) {
    case "reset":
    case "close":
    case "client-crash":
      return { atMs, kind, forMs: 0 };
    case "blackhole":
      return { atMs, kind, forMs: between(900, 1800) };
    case "latency":
      return { atMs, kind, forMs: between(800, 1600), latencyMs: between(60, 250), jitterMs: between(10, 50) };
    case "refuse":
      return { atMs, kind, forMs: between(300, 900) };
    case "hold":
      return { atMs, kind, forMs: between(900, 1500) };
    case "server-crash":
    case "server-restart":
      return { atMs, kind, forMs: between(300, 800) };
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/**
 * The timeline for a send phase of `sendMs`, about `ratePerSecond` faults a
 * second (0: none). Deterministic in `seed`.
 */
export function planFaults(seed: number, sendMs: number, ratePerSecond: number): FaultStep[] {
  if (ratePerSecond <= 0 || sendMs <= 0) return [];
  const random = createRandom(deriveSeed(seed, 0x6661756c)); // "faul"
  const steps: FaultStep[] = [];
  // The two crashes: the server's near 40% of the run, the client's near 70%.
  const fixed = [
    { at: sendMs * (0.35 + random() * 0.1), kind: "server-crash" as const },
    { at: sendMs * (0.65 + random() * 0.1), kind: "client-crash" as const },
  ];
  const meanGapMs = 1000 / ratePerSecond;
  const endMs = sendMs - 300;
  let t = Math.min(400, sendMs * 0.05);
  let prevEndMs = 0;
  for (;;) {
    const due = fixed[0];
    let s: FaultStep;
    if (due !== undefined && (due.at <= t || t >= endMs)) {
      // A crash falls in this gap: it happens at its own time (after the previous fault).
      fixed.shift();
      s = step(due.kind, Math.round(Math.max(due.at, prevEndMs + 150)), random);
      if (s.atMs + s.forMs > endMs) continue;
    } else if (t < endMs) {
      s = step(pick(random()), Math.round(t), random);
      if (s.atMs + s.forMs > endMs) {
        t = endMs;
        continue;
      }
    } else {
      break;
    }
    steps.push(s);
    prevEndMs = s.atMs + s.forMs;
    // Exponential gaps (a Poisson process), at least 150 ms of healthy link after each fault.
    t = prevEndMs + Math.max(150, -Math.log(1 - random()) * meanGapMs);
  }
  return steps;
}
