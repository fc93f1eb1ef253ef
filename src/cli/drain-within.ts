/**
 * The SIGTERM drain of `outlast serve`, plain or gateway: say how many clients are sent
 * elsewhere and over what window, drain, and stop at once (destroy) when the drain does
 * not finish within --drain-timeout. One copy for both modes.
 */

import type { Log } from "./observe/log.js";

/** What both a Server and a Gateway offer for a drain. */
export interface Drainable {
  stats(): { readonly connections: number };
  drain(options: { windowMs: number }): Promise<unknown>;
  destroy(): Promise<unknown>;
}

export interface DrainPlan {
  /** What asked for it: the signal's name, or "stop". */
  readonly cause: string;
  readonly signal: string | undefined;
  readonly windowMs: number;
  readonly timeoutMs: number;
  /** Appended to the "draining" line (e.g. how to stop at once). */
  readonly hint?: string;
}

/** Resolves true when `p` settles within `ms`, false otherwise (the timer is cleared either way). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Drains `target`; true when it finished within the timeout, false when it was destroyed instead. */
export async function drainWithin(target: Drainable, log: Log, plan: DrainPlan): Promise<boolean> {
  const connections = target.stats().connections;
  log.info(
    `${plan.cause}: draining connections: ${connections} clients sent elsewhere over ${plan.windowMs} ms, at most ${plan.timeoutMs} ms${plan.hint ?? ""}`,
    { event: "serve.draining", signal: plan.signal, connections, windowMs: plan.windowMs },
  );
  if (await settlesWithin(target.drain({ windowMs: plan.windowMs }), plan.timeoutMs)) return true;
  log.error(
    `the drain did not finish within --drain-timeout ${plan.timeoutMs} ms; stopping at once (unacknowledged messages will be resent by their clients)`,
    { event: "serve.drainTimeout", connections: target.stats().connections },
  );
  await target.destroy();
  return false;
}
