/**
 * Exponential backoff with full jitter: a pure function of the attempt and a
 * random source. delayMs = random() * min(capMs, baseMs * 2 ** attempt).
 * Full jitter spreads a fleet that lost the same access point at the same
 * moment, so it does not come back in one synchronized wave.
 */

import { invalidOption } from "./outlast-error.js";

export interface BackoffOptions {
  /** Delay scale of the first retry, in ms. */
  readonly baseMs: number;
  /** No delay is ever longer than this, in ms. */
  readonly capMs: number;
  /** Source of randomness in [0, 1); Math.random by default. Inject for tests. */
  readonly random?: () => number;
}

/** The upper bound of the delay before retry number `attempt` (0-based): min(cap, base * 2^attempt). */
export function backoffCeilingMs(attempt: number, baseMs: number, capMs: number): number {
  // 2 ** 1100 is Infinity; min() keeps it at the cap.
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}

/** A full-jitter delay before retry number `attempt` (0-based). */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  return random() * backoffCeilingMs(attempt, options.baseMs, options.capMs);
}

/** Validates backoff options, throwing OUTLAST_INVALID_OPTION naming the bad one. */
export function checkBackoffOptions(options: BackoffOptions, prefix = ""): void {
  if (!Number.isFinite(options.baseMs) || options.baseMs < 0)
    invalidOption(`${prefix}baseMs`, `must be a finite number >= 0, got ${String(options.baseMs)}`);
  if (!Number.isFinite(options.capMs) || options.capMs < options.baseMs)
    invalidOption(`${prefix}capMs`, `must be a finite number >= baseMs, got ${String(options.capMs)}`);
}
