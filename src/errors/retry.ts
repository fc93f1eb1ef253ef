/**
 * retry(): call a function again after a connection error, with exponential
 * backoff and full jitter, an attempts limit, a total-time limit and an
 * AbortSignal. Only connection errors are retried (as `classify()` judges
 * them), unless the caller's `shouldRetry` predicate decides instead: a bug
 * retried is a bug repeated five times, slower.
 *
 * When retry gives up (attempts or time ran out, or the error is not
 * retryable) it rejects with the last error ITSELF, not wrapped, so callers
 * keep their `instanceof` checks and error codes. Only an abort is reported
 * with an error of ours: OUTLAST_RETRY_ABORTED, whose `cause` is the signal's
 * reason.
 */

import { debuglog } from "node:util";
import { backoffCeilingMs, backoffDelayMs, checkBackoffOptions } from "./backoff.js";
import type { Classification } from "./classification.js";
import { classify } from "./classify.js";
import { systemClock } from "./clock.js";
import type { Clock } from "./clock.js";
import { invalidOption, OutlastError } from "./outlast-error.js";

const debug = debuglog("outlast");

/** What `fn` is given on each call. */
export interface RetryAttempt {
  /** 1 on the first call, 2 on the first retry, ... */
  readonly attempt: number;
  /** Aborted when the caller's `signal` aborts; pass it on to sockets, fetch, timers. */
  readonly signal: AbortSignal;
}

/** What `onRetry` is told before each wait. */
export interface RetryEvent {
  /** The error the attempt failed with. */
  readonly error: unknown;
  /** `classify(error)`. */
  readonly classification: Classification;
  /** The attempt that failed (1-based); the next call is attempt + 1. */
  readonly attempt: number;
  /** How long retry now waits before the next attempt. */
  readonly delayMs: number;
}

export interface RetryOptions {
  /** Most calls of `fn` in all, first included. Default 5; Infinity allowed. */
  readonly attempts?: number;
  /** Total-time limit from the call of retry(); a wait that would pass it is not started. Default Infinity. */
  readonly maxElapsedMs?: number;
  /** Delay scale of the first retry. Default 100. */
  readonly baseMs?: number;
  /** No wait is longer than this. Default 10_000. */
  readonly capMs?: number;
  /** Source of randomness in [0, 1) for the jitter. Default Math.random. */
  readonly random?: () => number;
  /** Where time comes from. Default systemClock. */
  readonly clock?: Clock;
  /** Aborting stops at once (during a wait or during `fn`) and rejects with OUTLAST_RETRY_ABORTED. */
  readonly signal?: AbortSignal;
  /**
   * Decides whether an error is retried, instead of `classification.connection`
   * (return `classification.connection || yourCheck(err)` to widen it). If it
   * throws, retry rejects with what it threw.
   */
  readonly shouldRetry?: (error: unknown, classification: Classification) => boolean;
  /** Called before each wait. If it throws, retry rejects with what it threw. */
  readonly onRetry?: (event: RetryEvent) => void;
}

interface ResolvedOptions {
  readonly attempts: number;
  readonly maxElapsedMs: number;
  readonly baseMs: number;
  readonly capMs: number;
  readonly random: () => number;
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  readonly shouldRetry: RetryOptions["shouldRetry"];
  readonly onRetry: RetryOptions["onRetry"];
}

/**
 * Calls `fn` until it succeeds, retrying connection errors with full-jitter
 * exponential backoff: before retry number k (1-based) it waits
 * `random() * min(capMs, baseMs * 2 ** (k - 1))`.
 *
 * Rejects with the last error itself when the error is not retryable, or when
 * `attempts` or `maxElapsedMs` run out; with OUTLAST_RETRY_ABORTED (cause:
 * `signal.reason`) when the signal aborts; with OUTLAST_INVALID_OPTION naming
 * the option when an option is invalid (before `fn` is ever called).
 */
export async function retry<T>(fn: (attempt: RetryAttempt) => Promise<T> | T, options: RetryOptions = {}): Promise<T> {
  const o = resolveOptions(fn, options);
  const outer = o.signal;
  if (outer?.aborted === true) throw abortedError(outer.reason);

  // One signal for fn and for our waits; it follows the caller's.
  const controller = new AbortController();
  const signal = controller.signal;
  const forward = (): void => controller.abort(outer?.reason);
  outer?.addEventListener("abort", forward, { once: true });
  try {
    const startMs = o.clock.now();
    for (let attempt = 1; ; attempt++) {
      let error: unknown;
      try {
        return await untilAborted(call(fn, { attempt, signal }), signal);
      } catch (err) {
        if (signal.aborted) throw abortedError(signal.reason);
        error = err;
      }

      const classification = classify(error);
      const retryable = o.shouldRetry === undefined ? classification.connection : o.shouldRetry(error, classification);
      if (!retryable || attempt >= o.attempts) throw error;

      const delayMs = jitteredDelayMs(attempt - 1, o);
      const elapsedMs = o.clock.now() - startMs;
      if (elapsedMs >= o.maxElapsedMs || elapsedMs + delayMs > o.maxElapsedMs) throw error;

      debug("retry: attempt %d failed: %s; next in %d ms", attempt, classification.reason, Math.round(delayMs));
      o.onRetry?.({ error, classification, attempt, delayMs });
      await wait(o.clock, delayMs, signal);
    }
  } finally {
    outer?.removeEventListener("abort", forward);
  }
}

function abortedError(reason: unknown): OutlastError {
  return new OutlastError("OUTLAST_RETRY_ABORTED", "retry aborted by its signal; the cause is the signal's reason", {
    cause: reason,
  });
}

/** Calls fn now; a synchronous throw becomes a rejection. */
function call<T>(fn: (attempt: RetryAttempt) => Promise<T> | T, attempt: RetryAttempt): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn(attempt)));
}

/** Settles like `p`, or rejects as soon as `signal` aborts (p's later outcome is then ignored). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    p.finally(() => signal.removeEventListener("abort", onAbort)).then(resolve, reject);
  });
}

/** Waits `ms` on `clock`; an abort clears the timer and rejects at once. */
function wait(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortedError(signal.reason));
      return;
    }
    const timer = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(abortedError(signal.reason));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function jitteredDelayMs(retryIndex: number, o: ResolvedOptions): number {
  const delayMs = backoffDelayMs(retryIndex, o);
  const ceilingMs = backoffCeilingMs(retryIndex, o.baseMs, o.capMs);
  if (!(delayMs >= 0 && delayMs <= ceilingMs))
    invalidOption("random", `must return a number in [0, 1), got a delay of ${String(delayMs)} ms`);
  return delayMs;
}

function resolveOptions(fn: unknown, options: RetryOptions): ResolvedOptions {
  if (typeof fn !== "function") invalidOption("fn", `must be a function, got ${typeof fn}`);
  if (typeof options !== "object" || options === null)
    invalidOption("options", `must be an object, got ${options === null ? "null" : typeof options}`);
  // Only `undefined` means "not given": a null is a mistake worth reporting.
  const o: ResolvedOptions = {
    attempts: options.attempts === undefined ? 5 : options.attempts,
    maxElapsedMs: options.maxElapsedMs === undefined ? Infinity : options.maxElapsedMs,
    baseMs: options.baseMs === undefined ? 100 : options.baseMs,
    capMs: options.capMs === undefined ? 10_000 : options.capMs,
    random: options.random === undefined ? Math.random : options.random,
    clock: options.clock === undefined ? systemClock : options.clock,
    signal: options.signal,
    shouldRetry: options.shouldRetry,
    onRetry: options.onRetry,
  };
  const attempts: unknown = o.attempts;
  if (typeof attempts !== "number" || !(attempts === Infinity || (Number.isInteger(attempts) && attempts >= 1)))
    invalidOption("attempts", `must be an integer >= 1 or Infinity, got ${String(attempts)}`);
  const maxElapsedMs: unknown = o.maxElapsedMs;
  if (typeof maxElapsedMs !== "number" || Number.isNaN(maxElapsedMs) || maxElapsedMs < 0)
    invalidOption("maxElapsedMs", `must be a number >= 0 or Infinity, got ${String(maxElapsedMs)}`);
  if (typeof o.baseMs !== "number") invalidOption("baseMs", `must be a number, got ${typeof o.baseMs}`);
  if (typeof o.capMs !== "number") invalidOption("capMs", `must be a number, got ${typeof o.capMs}`);
  checkBackoffOptions(o);
  if (typeof o.random !== "function") invalidOption("random", `must be a function, got ${typeof o.random}`);
  if (!isClock(o.clock)) invalidOption("clock", "must have now(), setTimeout() and clearTimeout()");
  if (o.signal !== undefined && !isAbortSignal(o.signal))
    invalidOption("signal", "must be an AbortSignal (with aborted, reason and addEventListener)");
  if (o.shouldRetry !== undefined && typeof o.shouldRetry !== "function")
    invalidOption("shouldRetry", `must be a function, got ${typeof o.shouldRetry}`);
  if (o.onRetry !== undefined && typeof o.onRetry !== "function")
    invalidOption("onRetry", `must be a function, got ${typeof o.onRetry}`);
  return o;
}

function isClock(c: unknown): c is Clock {
  if (typeof c !== "object" || c === null) return false;
  const k = c as Partial<Record<keyof Clock, unknown>>;
  return typeof k.now === "function" && typeof k.setTimeout === "function" && typeof k.clearTimeout === "function";
}

function isAbortSignal(s: unknown): s is AbortSignal {
  if (typeof s !== "object" || s === null) return false;
  const k = s as Partial<Record<"aborted" | "addEventListener" | "removeEventListener", unknown>>;
  return (
    typeof k.aborted === "boolean" &&
    typeof k.addEventListener === "function" &&
    typeof k.removeEventListener === "function"
  );
}
