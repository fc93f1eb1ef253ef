/**
 * The idle limit of every open connection, checked by one timer for the whole server
 * instead of a timer per connection: a Timeout, its closure and its re-arming cost about
 * 200 bytes per idle client (docs/benchmarks.md, "fleet"). Every `periodMs` the sweep
 * hands the clock's time to each connection; a connection notes whether it heard
 * anything since the last sweep (a read costs one boolean store, no clock call) and
 * closes itself once it has heard nothing for its idle limit. So a silent connection is
 * closed between idleMs and idleMs + periodMs after its last byte, never earlier.
 */

import type { Clock, Timer } from "../errors/clock.js";

export interface IdleChecked {
  /** One sweep: `nowMs` is the clock's time, truncated to an integer. */
  checkIdle(nowMs: number): void;
}

/**
 * The sweep period for a server's idleTimeoutMs: a quarter of it (7.5 s by default), so a dead
 * connection is freed within 1.25 x its idle limit. A sweep touches every connection (~0.1-0.8 µs
 * each: 20,000 connections take a few ms), so it runs no more often than that.
 */
export function idleSweepPeriodMs(idleTimeoutMs: number): number {
  return Math.max(1, Math.floor(idleTimeoutMs / 4));
}

export class IdleSweep {
  readonly #clock: Clock;
  readonly #periodMs: number;
  readonly #connections: Iterable<IdleChecked>;
  #timer: Timer | undefined;
  readonly #onTick = (): void => this.#tick();

  constructor(clock: Clock, periodMs: number, connections: Iterable<IdleChecked>) {
    this.#clock = clock;
    this.#periodMs = periodMs;
    this.#connections = connections;
  }

  /** The clock's time as the sweep hands it out (an integer: no boxed number per connection). */
  now(): number {
    return Math.floor(this.#clock.now());
  }

  /** Starts sweeping (idempotent). */
  start(): void {
    this.#timer ??= this.#clock.setTimeout(this.#onTick, this.#periodMs);
  }

  /** Stops sweeping (idempotent). */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    this.#timer = this.#clock.setTimeout(this.#onTick, this.#periodMs);
    const nowMs = this.now();
    for (const conn of this.#connections) conn.checkIdle(nowMs);
  }
}
