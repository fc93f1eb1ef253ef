/**
 * Finds a dead link by silence from the server, not by our own writes: pings
 * when nothing was received for `intervalMs`, gives up when nothing was
 * received for `timeoutMs`. One timer per connection, never one per byte:
 * `heard()` only records the time, and the timer re-arms itself from it.
 *
 * Each wait before a ping is drawn from [0.9, 1.1] x intervalMs, so thousands of
 * clients that connected together (a server restart) do not ping in lockstep.
 *
 * The verdict "dead" is given only after the bytes that already arrived were
 * read: after a long event-loop block (a busy burst, a GC pause, a starved CPU)
 * Node runs due timers before it reads the sockets, so a PONG sitting in the
 * kernel's buffer would otherwise be missed and a live link torn down. The
 * check is repeated once reads had their turn (`afterPendingReads`).
 * The design (who pings, why a busy link needs none) is in docs/protocol.md §5.
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
  /** Random source in [0, 1) for the ping jitter (tests pass a fixed one). Default Math.random. */
  readonly random?: () => number;
  /**
   * Runs `then` once the I/O that is already waiting has been read. Default
   * setImmediate (Node's check phase follows its poll phase). Unit tests driving
   * a ManualClock pass `(then) => then()`.
   */
  readonly afterPendingReads?: (then: () => void) => void;
}

const afterPoll = (then: () => void): void => {
  setImmediate(then);
};

/** A ping waits intervalMs x [1 - JITTER, 1 + JITTER). */
const JITTER = 0.1;

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  #lastHeardMs: number;
  #lastPingMs = -Infinity;
  /** This round's wait before pinging: intervalMs with jitter. */
  #pingAfterMs: number;
  #nonce = 0;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#lastHeardMs = options.clock.now();
    this.#pingAfterMs = this.#jittered();
    this.#arm(Math.min(this.#pingAfterMs, options.timeoutMs));
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

  #jittered(): number {
    const random = this.#o.random ?? Math.random;
    const ms = Math.round(this.#o.intervalMs * (1 - JITTER + 2 * JITTER * random()));
    return Math.max(1, Math.min(ms, this.#o.timeoutMs - 1));
  }

  #arm(ms: number): void {
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), Math.max(1, ms));
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const { clock, timeoutMs } = this.#o;
    const intervalMs = this.#pingAfterMs;
    const now = clock.now();
    const silentMs = now - this.#lastHeardMs;
    if (silentMs >= timeoutMs) {
      (this.#o.afterPendingReads ?? afterPoll)(() => this.#verdict());
      return;
    }
    if (silentMs >= intervalMs && now - this.#lastPingMs >= intervalMs) {
      this.#lastPingMs = now;
      this.#pingAfterMs = this.#jittered();
      this.#o.ping(++this.#nonce);
      if (this.#stopped) return;
    }
    const nextAfterMs = this.#pingAfterMs;
    const deadline = this.#lastHeardMs + timeoutMs;
    const nextPing = silentMs >= intervalMs ? this.#lastPingMs + nextAfterMs : this.#lastHeardMs + nextAfterMs;
    this.#arm(Math.min(deadline, nextPing) - now);
  }

  /** The deadline passed and pending reads had their turn: dead if still nothing was heard. */
  #verdict(): void {
    if (this.#stopped) return;
    const { clock, timeoutMs } = this.#o;
    const silentMs = clock.now() - this.#lastHeardMs;
    if (silentMs < timeoutMs) {
      this.#tick();
      return;
    }
    this.#stopped = true;
    this.#o.onTimeout(
      new OutlastError(
        "OUTLAST_HEARTBEAT_TIMEOUT",
        `no byte from the server for ${Math.round(silentMs)} ms (heartbeatTimeoutMs ${timeoutMs}); the link is dead, reconnecting`,
        { details: { timeoutMs, silentMs: Math.round(silentMs) } },
      ),
    );
  }
}
