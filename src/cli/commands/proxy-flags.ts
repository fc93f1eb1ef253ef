/**
 * Parsing of `outlast proxy` fault flag values (rates, latency±jitter, slicer,
 * DOWN/EVERY pairs) on top of the shared parsers of ../config.ts, and the fault
 * flags turned into faults. Each bad value is a UsageError naming its flag.
 */

import type { Direction, Fault, ScheduledFault } from "../../proxy/index.js";
import { UsageError } from "../command.js";
import { parseDurationMs, parseSizeBytes } from "../config.js";

/** A duration that may be 0 ("0", "0ms"); else as parseDurationMs. */
function parseDurationOrZero(flag: string, value: string): number {
  return /^\s*0+(?:\.0+)?\s*(ms|s|m|h)?\s*$/i.test(value) ? 0 : parseDurationMs(value, flag);
}

/** "64KiB/s", "1MB/s", "5000" -> bytes per second. */
export function parseRate(flag: string, value: string): number {
  return parseSizeBytes(value.replace(/\/s$/i, ""), flag);
}

/** "100ms±20", "100ms+-20ms", "1s" -> latency and jitter in ms. */
export function parseLatency(flag: string, value: string): { latencyMs: number; jitterMs: number } {
  const [base, jitter, extra] = value.split(/±|\+-|\+\/-/);
  if (base === undefined || extra !== undefined)
    throw new UsageError(`${flag} takes LATENCY[±JITTER] like 100ms±20, not "${value}"`);
  return {
    latencyMs: parseDurationOrZero(flag, base),
    jitterMs: jitter === undefined ? 0 : parseDurationOrZero(flag, jitter),
  };
}

/** "A/B" -> two durations. */
export function parsePair(flag: string, value: string, shape: string): [number, number] {
  const parts = value.split("/");
  if (parts.length !== 2) throw new UsageError(`${flag} takes ${shape}, not "${value}"`);
  return [parseDurationOrZero(flag, parts[0] ?? ""), parseDurationMs(parts[1] ?? "", flag)];
}

/** "16", "16±8", "16±8/2ms" -> slicer settings. */
export function parseSlicer(
  flag: string,
  value: string,
): { averageSizeBytes: number; sizeVariationBytes: number; delayMs: number } {
  const m = /^(\d+)(?:(?:±|\+-)(\d+))?(?:\/(.+))?$/.exec(value.trim());
  if (m === null) throw new UsageError(`${flag} takes SIZE[±VARIATION][/DELAY] like 16±8/1ms, not "${value}"`);
  return {
    averageSizeBytes: Number(m[1]),
    sizeVariationBytes: m[2] === undefined ? 0 : Number(m[2]),
    delayMs: m[3] === undefined ? 1 : parseDurationOrZero(flag, m[3]),
  };
}

export interface FaultFlags {
  readonly latency?: string | undefined;
  readonly bandwidth?: string | undefined;
  readonly blackhole?: string | undefined;
  readonly "reset-every"?: string | undefined;
  readonly "close-every"?: string | undefined;
  readonly slicer?: string | undefined;
  readonly "limit-data"?: string | undefined;
  readonly refuse?: boolean | undefined;
  readonly hold?: boolean | undefined;
  readonly flap?: string | undefined;
  readonly direction?: string | undefined;
  readonly probability?: string | undefined;
}

/** The value parseArgs sees for a bare `--blackhole` (always on). */
export const ALWAYS = "always";

/** Turns the fault flags into faults, in a fixed order. */
export function faultsFromFlags(v: FaultFlags): Fault[] {
  const direction = (v.direction ?? "both") as Direction;
  if (!["upstream", "downstream", "both"].includes(direction)) {
    throw new UsageError(`--direction must be upstream, downstream or both, not "${v.direction}"`);
  }
  const probability = v.probability === undefined ? 1 : Number(v.probability);
  if (!(probability >= 0 && probability <= 1))
    throw new UsageError(`--probability takes a number from 0 to 1, not "${v.probability}"`);
  const base = { direction, probability };
  const faults: Fault[] = [];
  if (v.latency !== undefined) faults.push({ kind: "latency", ...base, ...parseLatency("--latency", v.latency) });
  if (v.bandwidth !== undefined)
    faults.push({ kind: "bandwidth", ...base, bytesPerSecond: parseRate("--bandwidth", v.bandwidth) });
  if (v.slicer !== undefined) faults.push({ kind: "slicer", ...base, ...parseSlicer("--slicer", v.slicer) });
  if (v["limit-data"] !== undefined)
    faults.push({ kind: "limit-data", ...base, bytes: parseSizeBytes(v["limit-data"], "--limit-data") });
  if (v.blackhole !== undefined) {
    if (v.blackhole === ALWAYS) {
      faults.push({ kind: "blackhole", ...base });
    } else {
      const [downMs, everyMs] = parsePair("--blackhole", v.blackhole, "DOWN/EVERY like 2s/10s (or nothing: always)");
      if (downMs > everyMs) throw new UsageError(`--blackhole ${v.blackhole}: DOWN must not be longer than EVERY`);
      faults.push({ kind: "schedule", everyMs, downMs, fault: { kind: "blackhole", ...base } });
    }
  }
  const every = (flag: string, value: string | undefined, fault: ScheduledFault): void => {
    if (value === undefined) return;
    const everyMs = parseDurationMs(value, flag);
    faults.push({ kind: "schedule", everyMs, downMs: 0, fault });
  };
  every("--reset-every", v["reset-every"], { kind: "reset", ...base });
  every("--close-every", v["close-every"], { kind: "close", ...base });
  if (v.flap !== undefined) {
    const [meanDownMs, meanUpMs] = parsePair("--flap", v.flap, "DOWN/UP mean durations like 1s/5s");
    faults.push({ kind: "schedule", mode: "random", meanUpMs, meanDownMs, fault: { kind: "blackhole", ...base } });
  }
  if (v.refuse === true) faults.push({ kind: "refuse", probability });
  if (v.hold === true) faults.push({ kind: "hold", probability });
  return faults;
}
