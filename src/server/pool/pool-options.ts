/**
 * createServerPool() options: the public type, defaults and validation (OUTLAST_INVALID_OPTION naming the option).
 */

import { fileURLToPath } from "node:url";
import type { Clock } from "../../errors/clock.js";
import { systemClock } from "../../errors/clock.js";
import { invalidOption } from "../../errors/outlast-error.js";

export interface ServerPoolOptions {
  /** How many worker processes serve connections: an integer >= 1. */
  readonly workers: number;
  /** The worker script (ESM), started with child_process.fork; it calls serveFromPool(). */
  readonly module: string | URL;
  /** The worker script's argv. */
  readonly args?: readonly string[];
  /** Node flags for the workers (default: none, not the primary's). */
  readonly execArgv?: readonly string[];
  /** Extra environment for the workers (OUTLAST_POOL_WORKER=index and OUTLAST_POOL_WORKERS=count are added). */
  readonly env?: NodeJS.ProcessEnv;
  /** How long the primary waits for a socket's first frame before handing it to a worker anyway (round-robin). Default 1000. */
  readonly helloWaitMs?: number;
  /** The retryAfterMs (jittered 0.5-1.5x) for clients that arrive while their worker is restarting. Default 2000. */
  readonly busyRetryAfterMs?: number;
  /** Injected time source (tests). Default: the system clock. */
  readonly clock?: Clock;
}

export interface ResolvedPoolOptions {
  readonly workers: number;
  readonly modulePath: string;
  readonly args: readonly string[];
  readonly execArgv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly helloWaitMs: number;
  readonly busyRetryAfterMs: number;
  readonly clock: Clock;
}

export const SERVER_POOL_DEFAULTS = { helloWaitMs: 1000, busyRetryAfterMs: 2000 } as const;

function durationMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 0x7fff_ffff)
    invalidOption(name, `${String(value)} is not an integer number of milliseconds in [1, 2^31-1]`);
  return value;
}

function strings(name: string, value: readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  const list: readonly unknown[] = Array.isArray(value) ? value : [undefined];
  if (!Array.isArray(value) || list.some((v) => typeof v !== "string"))
    invalidOption(name, "must be an array of strings");
  return list as string[];
}

export function resolvePoolOptions(options: ServerPoolOptions): ResolvedPoolOptions {
  if (typeof options !== "object" || options === null)
    invalidOption("workers", "createServerPool needs an options object");
  const { workers } = options;
  if (typeof workers !== "number" || !Number.isInteger(workers) || workers < 1 || workers > 1024)
    invalidOption("workers", `${String(workers)} is not an integer in [1, 1024]`);
  const mod = options.module;
  let modulePath: string;
  if (mod instanceof URL) {
    if (mod.protocol !== "file:") invalidOption("module", `${mod.href} is not a file: URL`);
    modulePath = fileURLToPath(mod);
  } else if (typeof mod === "string" && mod.length > 0) {
    modulePath = mod.startsWith("file:") ? fileURLToPath(mod) : mod;
  } else {
    invalidOption("module", "must be the worker script's path or file: URL");
  }
  if (options.env !== undefined && (typeof options.env !== "object" || options.env === null))
    invalidOption("env", "must be an object of environment variables");
  return {
    workers,
    modulePath,
    args: strings("args", options.args),
    execArgv: strings("execArgv", options.execArgv),
    env: options.env ?? {},
    helloWaitMs: durationMs("helloWaitMs", options.helloWaitMs, SERVER_POOL_DEFAULTS.helloWaitMs),
    busyRetryAfterMs: durationMs("busyRetryAfterMs", options.busyRetryAfterMs, SERVER_POOL_DEFAULTS.busyRetryAfterMs),
    clock: options.clock ?? systemClock,
  };
}
