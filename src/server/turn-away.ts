/**
 * Turning connections away cheaply: the server is full (maxConnections, which by
 * default follows the process's file-descriptor limit) or shutting down. A refused
 * socket gets ERROR OUTLAST_SERVER_BUSY with a jittered retryAfterMs and a FIN, and
 * is destroyed if the peer has not closed it within LINGER_MS.
 *
 * Cost matters: a fleet bigger than the server retries all the time, and every
 * refusal is an accept, a socket object, a write and a close. So the frames are
 * encoded once (a few jittered variants), the refused socket gets no listeners
 * beyond 'close', the linger is one sweep timer for all of them (not a timer per
 * socket), and the hint sends a full server's excess clients away for long
 * (busyRetryAfterMs, default 60 s, jittered 0.5-1.5x) so they do not come back
 * every second. While shutting down the hint is short (a restart is coming).
 */

import type { Socket } from "node:net";
import type { Clock, Timer } from "../errors/clock.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";

/** After our ERROR and FIN, wait this long for the peer's FIN before destroying the socket. */
const LINGER_MS = 2000;
/** Pre-encoded ERROR frames per reason: retryAfterMs spread evenly over [0.5, 1.5] x the base. */
const VARIANTS = 16;
/** While shutting down: come back soon (the server, or its replacement, will be there). */
const CLOSING_RETRY_MS = 1000;
/** Too many handshakes at once (a reconnect storm the server is behind on): come back in 2.5-7.5 s. */
const HANDSHAKES_RETRY_MS = 5000;

export type TurnAwayReason = "full" | "closing" | "handshakes";

/** Where a refused socket is kept until it closes; one shared 'close' listener, no closure per socket. */
const OWNER = Symbol("outlast.turnAway");
type RefusedSocket = Socket & { [OWNER]: Map<Socket, number> };
function forget(this: Socket): void {
  (this as RefusedSocket)[OWNER].delete(this);
}

export class TurnAway {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #frames: Record<TurnAwayReason, Buffer[]>;
  /** Refused sockets still open, with the clock time at which they are destroyed. */
  readonly #lingering = new Map<Socket, number>();
  #sweep: Timer | undefined;
  /** Sockets refused since start, per reason. */
  readonly counts: Record<TurnAwayReason, number> = { full: 0, closing: 0, handshakes: 0 };

  constructor(clock: Clock, fullMessage: string, busyRetryAfterMs: number, random: () => number = Math.random) {
    this.#clock = clock;
    this.#random = random;
    this.#frames = {
      full: encodeVariants(fullMessage, busyRetryAfterMs),
      closing: encodeVariants("server is shutting down; retry later", CLOSING_RETRY_MS),
      handshakes: encodeVariants("server is busy with other handshakes; retry later", HANDSHAKES_RETRY_MS),
    };
  }

  /** Open refused sockets. */
  get lingering(): number {
    return this.#lingering.size;
  }

  /** Refuses `socket`: ERROR OUTLAST_SERVER_BUSY (jittered retryAfterMs), FIN, destroyed after LINGER_MS at the latest. */
  refuse(socket: Socket, reason: TurnAwayReason): void {
    this.counts[reason]++;
    const frames = this.#frames[reason];
    this.#lingering.set(socket, this.#clock.now() + LINGER_MS);
    (socket as RefusedSocket)[OWNER] = this.#lingering;
    socket.once("close", forget);
    socket.resume(); // read and discard (the HELLO) until the peer's FIN
    socket.end(frames[Math.floor(this.#random() * frames.length)] as Buffer);
    this.#sweep ??= this.#clock.setTimeout(() => this.#onSweep(), LINGER_MS);
  }

  /** Destroys every refused socket at once (server close/destroy). */
  destroyAll(): void {
    for (const socket of this.#lingering.keys()) socket.destroy();
    this.#lingering.clear();
    if (this.#sweep !== undefined) this.#clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
  }

  #onSweep(): void {
    this.#sweep = undefined;
    const now = this.#clock.now();
    let nextMs = Infinity;
    for (const [socket, deadlineMs] of this.#lingering) {
      if (deadlineMs <= now) {
        this.#lingering.delete(socket);
        socket.destroy();
      } else if (deadlineMs < nextMs) nextMs = deadlineMs;
    }
    if (nextMs !== Infinity) this.#sweep = this.#clock.setTimeout(() => this.#onSweep(), nextMs - now);
  }
}

function encodeVariants(message: string, baseMs: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < VARIANTS; i++) {
    const retryAfterMs = Math.round(baseMs * (0.5 + (i + 0.5) / VARIANTS));
    frames.push(encodeFrame(makeErrorFrame("OUTLAST_SERVER_BUSY", message, retryAfterMs)));
  }
  return frames;
}
