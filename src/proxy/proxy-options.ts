/** The fault proxy's options, checked: where it listens, where it forwards, its seed and clock. */

import type { Clock } from "../errors/clock.js";
import { invalidOption } from "../errors/outlast-error.js";
import type { Fault } from "./faults/catalog.js";

export interface ProxyOptions {
  /** Where the proxy listens. Default host "127.0.0.1", port 0 (any free port: read it from listen()). */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Where it forwards to. */
  readonly upstream: { readonly host: string; readonly port: number };
  /** Seed of every random choice (probability, jitter, slicer sizes, random schedules). Default: a random seed, see `seed`. */
  readonly seed?: number;
  /** Default systemClock; a ManualClock drives schedules and timed faults in tests. */
  readonly clock?: Clock;
  /** Faults to add at once (same as calling addFault for each). */
  readonly faults?: readonly Fault[];
}

export interface ProxyAddress {
  readonly host: string;
  readonly port: number;
}

export function checkPort(option: string, port: unknown, allowZero: boolean): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    invalidOption(option, `must be an integer port ${allowZero ? "0" : "1"}..65535, not ${JSON.stringify(port)}`);
  }
  return port;
}

export function checkHost(option: string, host: unknown): string {
  if (typeof host !== "string" || host === "")
    invalidOption(option, `must be a host name or address, not ${JSON.stringify(host)}`);
  return host;
}

/** Checks the seed option: an unsigned 32-bit integer. Throws OUTLAST_INVALID_OPTION. */
export function checkSeed(seed: number | undefined): number | undefined {
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff))
    invalidOption("seed", `must be an integer 0..4294967295, not ${String(seed)}`);
  return seed;
}
