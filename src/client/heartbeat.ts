/**
 * Finds a dead link by silence from the server, not by our own writes: pings
 * when nothing was received for `intervalMs`, gives up when nothing was
 * received for `timeoutMs`. One timer per connection, never one per byte:
 * `heard()` only records the time, and the timer re-arms itself from it.
 */

import type { Clock, Timer } from "../errors/clock.js";
import { OutlastError } from "../errors/outlast-error.js";

export interface HeartbeatOptions {
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Send a PING with this nonce. */
  readonly ping: (nonce: number) => void;
  /** The link is dead: called once with an OUTLAST_HEARTBEAT_TIMEOUT error. */
  readonly onTimeout: (err: OutlastError) => void;
}

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  #lastHeardMs: number;
  #lastPingMs = -Infinity;
  #nonce = 0;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#lastHeardMs = options.clock.now();
    this.#arm(Math.min(options.intervalMs, options.timeoutMs));
  }

  /** Something (anything) arrived from the server. Cheap: call it for every chunk. */
  heard(): void {
    this.#lastHeardMs = this.#o.clock.now();
  }

  get lastHeardMs(): number {
    return this.#lastHeardMs;
  }

  /** Pings sent so far. */
  get pings(): number {
    return this.#nonce;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), Math.max(1, ms));
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const { clock, intervalMs, timeoutMs } = this.#o;
    const now = clock.now();
    const silentMs = now - this.#lastHeardMs;
    if (silentMs >= timeoutMs) {
      this.#stopped = true;
      this.#o.onTimeout(
        new OutlastError(
          "OUTLAST_HEARTBEAT_TIMEOUT",
          `no byte from the server for ${Math.round(silentMs)} ms (heartbeatTimeoutMs ${timeoutMs}); the link is dead, reconnecting`,
          { details: { heartbeatTimeoutMs: timeoutMs, silentMs: Math.round(silentMs) } },
        ),
      );
      return;
    }
    if (silentMs >= intervalMs && now - this.#lastPingMs >= intervalMs) {
      this.#lastPingMs = now;
      this.#o.ping(++this.#nonce);
      if (this.#stopped) return;
    }
    const deadline = this.#lastHeardMs + timeoutMs;
    const nextPing = silentMs >= intervalMs ? this.#lastPingMs + intervalMs : this.#lastHeardMs + intervalMs;
    this.#arm(Math.min(deadline, nextPing) - now);
  }
}
