/**
 * The one timer of a server for every open connection's silence, in both directions,
 * instead of a timer per connection: a Timeout, its closure and its re-arming cost about
 * 200 bytes per idle client (docs/benchmarks.md, "fleet"). Every period the sweep hands
 * the clock's time to each connection (`sweep(nowMs)`), which
 * - closes itself once it has heard nothing for its idle limit (a read costs one boolean
 *   store, no clock call), so a silent connection is closed between idleMs and
 *   idleMs + period after its last byte, never earlier;
 * - on a v2 link, sends a beat once it has written nothing for the client's interval
 *   (a write costs one boolean store too), so the client hears something at least every
 *   beatMs + period (docs/protocol.md §5).
 * The beats of one sweep go out together: one timer wake-up for many writes, and the
 * answers to the beats that ask for one come back together too.
 */

import type { Clock, Timer } from "../errors/clock.js";

export interface Swept {
  /**
   * One sweep: `nowMs` is the clock's time, truncated to an integer. Returns the beat
   * interval this connection keeps (ms), 0 for none: the sweep runs often enough for the smallest.
   */
  sweep(nowMs: number): number;
}

/** The sweep runs at least this often (so a dead connection is freed within its idle limit + 1 s). */
export const MAX_SWEEP_PERIOD_MS = 1000;
/** A beat interval is swept at least this many times per interval: a beat is at most 1/6 late. */
const SWEEPS_PER_BEAT = 6;

/** The sweep period for a server's idleTimeoutMs: a quarter of it, at most MAX_SWEEP_PERIOD_MS. */
export function idleSweepPeriodMs(idleTimeoutMs: number): number {
  return Math.max(1, Math.min(MAX_SWEEP_PERIOD_MS, Math.floor(idleTimeoutMs / 4)));
}

/** The sweep period that serves a beat interval of `beatMs` (and no more often than `basePeriodMs`). */
function periodFor(basePeriodMs: number, beatMs: number): number {
  return Math.max(1, Math.min(basePeriodMs, Math.floor(beatMs / SWEEPS_PER_BEAT)));
}

export class IdleSweep {
  readonly #clock: Clock;
  /** The period the idle limit needs; beats may need a shorter one. */
  readonly #basePeriodMs: number;
  #periodMs: number;
  readonly #connections: Iterable<Swept>;
  #timer: Timer | undefined;
  #running = false;
  #dueMs = 0;
  readonly #onTick = (): void => this.#tick();

  constructor(clock: Clock, basePeriodMs: number, connections: Iterable<Swept>) {
    this.#clock = clock;
    this.#basePeriodMs = basePeriodMs;
    this.#periodMs = basePeriodMs;
    this.#connections = connections;
  }

  /** The clock's time as the sweep hands it out (an integer: no boxed number per connection). */
  now(): number {
    return Math.floor(this.#clock.now());
  }

  /** The current period (ms). */
  get periodMs(): number {
    return this.#periodMs;
  }

  /** Starts sweeping (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#arm();
  }

  /** Stops sweeping (idempotent). */
  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A connection that beats every `beatMs` was opened: sweep often enough for it, from now on. */
  beatEvery(beatMs: number): void {
    const periodMs = periodFor(this.#periodMs, beatMs);
    if (periodMs >= this.#periodMs) return;
    this.#periodMs = periodMs;
    if (this.#timer !== undefined && this.#dueMs > this.#clock.now() + periodMs) {
      this.#clock.clearTimeout(this.#timer);
      this.#arm();
    }
  }

  #arm(): void {
    this.#dueMs = this.#clock.now() + this.#periodMs;
    this.#timer = this.#clock.setTimeout(this.#onTick, this.#periodMs);
  }

  #tick(): void {
    this.#timer = undefined;
    const nowMs = this.now();
    let minBeatMs = Infinity;
    for (const conn of this.#connections) {
      const beatMs = conn.sweep(nowMs);
      if (beatMs > 0 && beatMs < minBeatMs) minBeatMs = beatMs;
    }
    // The next period serves the connections that are open now (a fast-beating one that left no longer counts).
    this.#periodMs = periodFor(this.#basePeriodMs, minBeatMs);
    if (this.#running) this.#arm();
  }
}
