/**
 * Turning connections away cheaply: the server is full (maxConnections, which by
 * default follows the process's file-descriptor limit) or shutting down. A refused
 * socket gets ERROR OUTLAST_SERVER_BUSY with a jittered retryAfterMs and a FIN, and
 * is destroyed LINGER_MS later (the peer has closed by then).
 *
 * Cost matters: a fleet bigger than the server retries all the time, and every
 * refusal is an accept, a socket object, a write and a close. So the frames are
 * encoded once (a few jittered variants), nothing is read from a refused socket
 * (no read start, no HELLO, no 'end' handling: the server accepts paused), it gets
 * no listener of ours, the linger is one sweep timer for all of them (not a timer per
 * socket), and the hint sends a full server's excess clients away for long
 * (busyRetryAfterMs, default 5 min, jittered 0.5-1.5x) so they do not come back
 * every second. While shutting down the hint is short (a restart is coming).
 */

import type { Socket } from "node:net";
import type { Clock } from "../errors/clock.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import { DeadlineQueue } from "./deadline-queue.js";

/** After our ERROR and FIN, the refused socket is destroyed this much later (its peer has read the ERROR and closed). */
const LINGER_MS = 2000;
/** Pre-encoded ERROR frames per reason: retryAfterMs spread evenly over [0.5, 1.5] x the base. */
const VARIANTS = 16;
/** While shutting down: come back soon (the server, or its replacement, will be there). */
const CLOSING_RETRY_MS = 1000;
/** Too many handshakes at once (a reconnect storm the server is behind on): come back in 2.5-7.5 s. */
const HANDSHAKES_RETRY_MS = 5000;

export type TurnAwayReason = "full" | "closing" | "handshakes";

export class TurnAway {
  readonly #random: () => number;
  readonly #frames: Record<TurnAwayReason, Buffer[]>;
  /** Refused sockets not yet destroyed, in refusal order: each is destroyed LINGER_MS after its refusal. */
  readonly #lingering: DeadlineQueue<Socket>;
  /** Sockets refused since start, per reason. */
  readonly counts: Record<TurnAwayReason, number> = { full: 0, closing: 0, handshakes: 0 };

  constructor(clock: Clock, fullMessage: string, busyRetryAfterMs: number, random: () => number = Math.random) {
    this.#lingering = new DeadlineQueue<Socket>(clock, LINGER_MS, destroySocket);
    this.#random = random;
    this.#frames = {
      full: encodeVariants(fullMessage, busyRetryAfterMs),
      closing: encodeVariants("server is shutting down; retry later", CLOSING_RETRY_MS),
      handshakes: encodeVariants("server is busy with other handshakes; retry later", HANDSHAKES_RETRY_MS),
    };
  }

  /** Refused sockets not yet destroyed (each holds a file descriptor until its linger ends). */
  get lingering(): number {
    return this.#lingering.size;
  }

  /**
   * Refuses `socket`: ERROR OUTLAST_SERVER_BUSY (jittered retryAfterMs) and FIN; destroyed after
   * LINGER_MS. Nothing is read from it (the server accepts with pauseOnConnect): its HELLO is never
   * decoded and its FIN never handled, which is what a refusal costs least with; the peer closes
   * on our ERROR, and the linger frees the descriptor.
   */
  refuse(socket: Socket, reason: TurnAwayReason): void {
    this.counts[reason]++;
    const frames = this.#frames[reason];
    socket.end(frames[Math.floor(this.#random() * frames.length)] as Buffer);
    this.#lingering.add(socket);
  }

  /** Destroys every refused socket at once (server close/destroy). */
  destroyAll(): void {
    this.#lingering.clear(destroySocket);
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function encodeVariants(message: string, baseMs: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < VARIANTS; i++) {
    const retryAfterMs = Math.round(baseMs * (0.5 + (i + 0.5) / VARIANTS));
    frames.push(encodeFrame(makeErrorFrame("OUTLAST_SERVER_BUSY", message, retryAfterMs)));
  }
  return frames;
}
