/**
 * Parsing of `outlast proxy` flag values: addresses, durations, sizes, rates,
 * and the fault flags turned into faults. Each bad value is a UsageError.
 */

import type { Direction, Fault, ScheduledFault } from "../../proxy/index.js";
import { UsageError } from "../command.js";

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT" (host 127.0.0.1). */
export function parseHostPort(flag: string, value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${flag} takes HOST:PORT (e.g. 127.0.0.1:9000), not "${value}"`);
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "127.0.0.1" : host, port };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250", "250ms", "1.5s", "2m" -> milliseconds (a bare number is ms). */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(value.trim());
  if (m === null) throw new UsageError(`${flag} takes a duration like 100ms, 5s or 2m, not "${value}"`);
  return Number(m[1]) * (DURATION_UNITS[(m[2] ?? "ms").toLowerCase()] ?? 1);
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1_000_000,
  mib: 1024 * 1024,
  gb: 1_000_000_000,
  gib: 1024 * 1024 * 1024,
};

/** "1000", "64KiB", "1MB" -> bytes (a bare number is bytes). */
export function parseSize(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(value.trim());
  if (m === null) throw new UsageError(`${flag} takes a size like 1000, 64KiB or 1MB, not "${value}"`);
  return Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? "b").toLowerCase()] ?? 1));
}

/** "64KiB/s", "1MB/s", "5000" -> bytes per second. */
export function parseRate(flag: string, value: string): number {
  const rate = parseSize(flag, value.replace(/\/s$/i, ""));
  if (rate <= 0) throw new UsageError(`${flag} must be above 0`);
  return rate;
}

/** "100ms±20", "100ms+-20ms", "1s" -> latency and jitter in ms. */
export function parseLatency(flag: string, value: string): { latencyMs: number; jitterMs: number } {
  const [base, jitter, extra] = value.split(/±|\+-|\+\/-/);
  if (base === undefined || extra !== undefined) throw new UsageError(`${flag} takes LATENCY[±JITTER] like 100ms±20, not "${value}"`);
  return { latencyMs: parseDuration(flag, base), jitterMs: jitter === undefined ? 0 : parseDuration(flag, jitter) };
}

/** "A/B" -> two durations. */
export function parsePair(flag: string, value: string, shape: string): [number, number] {
  const parts = value.split("/");
  if (parts.length !== 2) throw new UsageError(`${flag} takes ${shape}, not "${value}"`);
  return [parseDuration(flag, parts[0] ?? ""), parseDuration(flag, parts[1] ?? "")];
}

/** "16", "16±8", "16±8/2ms" -> slicer settings. */
export function parseSlicer(flag: string, value: string): { averageSizeBytes: number; sizeVariationBytes: number; delayMs: number } {
  const m = /^(\d+)(?:(?:±|\+-)(\d+))?(?:\/(.+))?$/.exec(value.trim());
  if (m === null) throw new UsageError(`${flag} takes SIZE[±VARIATION][/DELAY] like 16±8/1ms, not "${value}"`);
  return {
    averageSizeBytes: Number(m[1]),
    sizeVariationBytes: m[2] === undefined ? 0 : Number(m[2]),
    delayMs: m[3] === undefined ? 1 : parseDuration(flag, m[3]),
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
  if (!(probability >= 0 && probability <= 1)) throw new UsageError(`--probability takes a number from 0 to 1, not "${v.probability}"`);
  const base = { direction, probability };
  const faults: Fault[] = [];
  if (v.latency !== undefined) faults.push({ kind: "latency", ...base, ...parseLatency("--latency", v.latency) });
  if (v.bandwidth !== undefined) faults.push({ kind: "bandwidth", ...base, bytesPerSecond: parseRate("--bandwidth", v.bandwidth) });
  if (v.slicer !== undefined) faults.push({ kind: "slicer", ...base, ...parseSlicer("--slicer", v.slicer) });
  if (v["limit-data"] !== undefined) faults.push({ kind: "limit-data", ...base, bytes: parseSize("--limit-data", v["limit-data"]) });
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
    const everyMs = parseDuration(flag, value);
    if (everyMs <= 0) throw new UsageError(`${flag} must be above 0`);
    faults.push({ kind: "schedule", everyMs, downMs: 0, fault });
  };
  every("--reset-every", v["reset-every"], { kind: "reset", ...base });
  every("--close-every", v["close-every"], { kind: "close", ...base });
  if (v.flap !== undefined) {
    const [meanUpMs, meanDownMs] = parsePair("--flap", v.flap, "UP/DOWN mean durations like 5s/1s");
    if (meanUpMs <= 0) throw new UsageError("--flap: UP must be above 0");
    faults.push({ kind: "schedule", mode: "random", meanUpMs, meanDownMs, fault: { kind: "blackhole", ...base } });
  }
  if (v.refuse === true) faults.push({ kind: "refuse", probability });
  if (v.hold === true) faults.push({ kind: "hold", probability });
  return faults;
}
