/**
 * Finds a dead link by silence from the server, not by our own writes. One timer per
 * connection, never one per byte: `heard()` only records the time, and the timer
 * re-arms itself from it. Two modes (docs/protocol.md §5):
 *
 * - The client pings (protocol v1, or a v2 server that does not beat): ping when nothing
 *   was received for `intervalMs`, dead when nothing was received for `timeoutMs`.
 * - The server beats (`serverBeats`: a v2 WELCOME with beatMs <= intervalMs): the server
 *   sends a frame whenever it has been silent for the interval, so receive silence of
 *   `timeoutMs` still means dead, and no ping is needed for that. But beats prove only the
 *   server -> client direction: while the client waits for an answer (`owe()`: it sent
 *   MESSAGEs not yet acknowledged), it pings once nothing answered it (`answered()`: an ACK
 *   or the PONG of its own PING) for `intervalMs`, and the link is dead when nothing
 *   answered it for `timeoutMs` (a link dead only toward the server, or a server that
 *   beats but no longer reads). A slow handler is not a dead link: the server answers a
 *   PING from its read loop, ahead of handler work.
 *
 * Each wait before a ping is drawn from [0.9, 1.1] x intervalMs, so thousands of
 * clients that connected together (a server restart) do not ping in lockstep.
 *
 * The verdict "dead" is given only after the bytes that already arrived were
 * read: after a long event-loop block (a busy burst, a GC pause, a starved CPU)
 * Node runs due timers before it reads the sockets, so a PONG sitting in the
 * kernel's buffer would otherwise be missed and a live link torn down. The
 * check is repeated once reads had their turn (`afterPendingReads`).
 */

import type { Clock, Timer } from "../errors/clock.js";
import { OutlastError } from "../errors/outlast-error.js";

export interface HeartbeatOptions {
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Send a PING with this nonce (nonces start at 1: a server's beat PONG carries 0). */
  readonly ping: (nonce: number) => void;
  /** The link is dead: called once with an OUTLAST_HEARTBEAT_TIMEOUT error. */
  readonly onTimeout: (err: OutlastError) => void;
  /** The server beats (protocol v2): ping only while owed an answer. Default false. */
  readonly serverBeats?: boolean;
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
  readonly #beats: boolean;
  #lastHeardMs: number;
  /** Server beats only: since when an answer is owed (an ACK, our PING's PONG); Infinity when none is. */
  #owedSinceMs = Infinity;
  #lastPingMs = -Infinity;
  /** This round's wait before pinging: intervalMs with jitter. */
  #pingAfterMs: number;
  #nonce = 0;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#beats = options.serverBeats === true;
    this.#lastHeardMs = options.clock.now();
    this.#pingAfterMs = this.#jittered();
    this.#arm(Math.min(this.#pingAfterMs, options.timeoutMs));
  }

  /** Something (anything) arrived from the server. Cheap: call it for every chunk. */
  heard(): void {
    this.#lastHeardMs = this.#o.clock.now();
  }

  /**
   * Server beats only: the client now waits for an answer (it sent a MESSAGE while none was
   * outstanding). No timer is touched: the timer never sleeps longer than the ping wait (see #tick).
   */
  owe(): void {
    if (this.#beats && this.#owedSinceMs === Infinity) this.#owedSinceMs = this.#o.clock.now();
  }

  /** Server beats only: an answer arrived (an ACK, or a PONG to our PING); `stillOwed`: more answers are awaited. */
  answered(stillOwed: boolean): void {
    if (this.#beats) this.#owedSinceMs = stillOwed ? this.#o.clock.now() : Infinity;
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

  /** Since when the link has been quiet in the sense that calls for a ping: silence (client pings) or an owed answer (server beats). */
  #quietSinceMs(): number {
    return this.#beats ? this.#owedSinceMs : this.#lastHeardMs;
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const { clock, timeoutMs } = this.#o;
    const intervalMs = this.#pingAfterMs;
    const now = clock.now();
    const silentMs = now - this.#lastHeardMs;
    const owedMs = now - this.#owedSinceMs; // -Infinity when nothing is owed
    if (silentMs >= timeoutMs || owedMs >= timeoutMs) {
      (this.#o.afterPendingReads ?? afterPoll)(() => this.#verdict());
      return;
    }
    const quietMs = now - this.#quietSinceMs();
    if (quietMs >= intervalMs && now - this.#lastPingMs >= intervalMs) {
      this.#lastPingMs = now;
      this.#pingAfterMs = this.#jittered();
      this.#o.ping(++this.#nonce);
      if (this.#stopped) return;
    }
    const nextAfterMs = this.#pingAfterMs;
    let next = Math.min(this.#lastHeardMs, this.#owedSinceMs) + timeoutMs;
    if (quietMs >= intervalMs) next = Math.min(next, this.#lastPingMs + nextAfterMs);
    else if (quietMs > -Infinity) next = Math.min(next, this.#quietSinceMs() + nextAfterMs);
    // Server beats: owe() arms nothing, so never sleep longer than one ping wait.
    if (this.#beats) next = Math.min(next, now + nextAfterMs);
    this.#arm(next - now);
  }

  /** A deadline passed and pending reads had their turn: dead if still nothing (or no answer) was heard. */
  #verdict(): void {
    if (this.#stopped) return;
    const { clock, timeoutMs } = this.#o;
    const now = clock.now();
    const silentMs = now - this.#lastHeardMs;
    const owedMs = now - this.#owedSinceMs;
    if (silentMs < timeoutMs && owedMs < timeoutMs) {
      this.#tick();
      return;
    }
    this.#stopped = true;
    const error =
      silentMs >= timeoutMs
        ? new OutlastError(
            "OUTLAST_HEARTBEAT_TIMEOUT",
            `no byte from the server for ${Math.round(silentMs)} ms (heartbeatTimeoutMs ${timeoutMs}); the link is dead, reconnecting`,
            { details: { timeoutMs, silentMs: Math.round(silentMs) } },
          )
        : new OutlastError(
            "OUTLAST_HEARTBEAT_TIMEOUT",
            `no answer from the server for ${Math.round(owedMs)} ms (heartbeatTimeoutMs ${timeoutMs}) while its beats still arrive: ` +
              "the link is dead toward the server, reconnecting",
            { details: { timeoutMs, silentMs: Math.round(owedMs) } },
          );
    this.#o.onTimeout(error);
  }
}
