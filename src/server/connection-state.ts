/**
 * The states of one server-side connection. Each state carries its own data
 * (timers, the bound client, what to send when a drain finishes); the legal
 * moves are a table, and a move outside it is a bug (it throws). The frame
 * rules per state are in src/protocol/frame-rules.ts.
 */

import type { Timer } from "../errors/clock.js";
import type { ServerConnectionState } from "../protocol/frame-rules.js";
import type { Frame } from "../protocol/frames.js";
import type { ClientState } from "./client-state.js";

export type ConnectionStateName = ServerConnectionState;

/** What a draining connection sends before it ends (undefined: nothing, just FIN). */
export interface Farewell {
  readonly frame: Frame | undefined;
  readonly reason: string;
}

export type ConnectionState =
  /** Accepted; waiting for HELLO within handshakeTimeoutMs. */
  | { readonly name: "awaiting-hello"; readonly handshakeTimer: Timer }
  /** HELLO received; `authenticate` (or the wait for an older connection of this clientId) is pending. */
  | {
      readonly name: "authenticating";
      readonly handshakeTimer: Timer;
      readonly idleMs: number;
      /** The beat interval this link will keep once open (0: none; see "open"). */
      readonly beatMs: number;
      /** Set once `authenticate` bound a clientId (then waiting for an older connection of it to settle). */
      readonly client: ClientState | undefined;
    }
  /**
   * WELCOME sent; MESSAGEs are handled. The idle limit and the beats (v2: a frame whenever nothing was written
   * for beatMs; 0 = no beats) are the server's one IdleSweep's business (idle-sweep.ts).
   */
  | { readonly name: "open"; readonly client: ClientState; readonly idleMs: number; readonly beatMs: number }
  /** No new MESSAGE is handled; once the client is settled the last ACK and `farewell` go out. */
  | { readonly name: "draining"; readonly client: ClientState; readonly farewell: Farewell }
  /** Ended (FIN sent, lingering for the peer's FIN) or destroyed. */
  | {
      readonly name: "closed";
      readonly reason: string;
      readonly client: ClientState | undefined;
      readonly lingerTimer: Timer | undefined;
    };

/** Legal moves. */
export const NEXT: Readonly<Record<ConnectionStateName, readonly ConnectionStateName[]>> = {
  "awaiting-hello": ["authenticating", "closed"],
  authenticating: ["open", "closed"],
  open: ["draining", "closed"],
  draining: ["closed"],
  closed: [],
};

export function isLegalMove(from: ConnectionStateName, to: ConnectionStateName): boolean {
  return NEXT[from].includes(to);
}

/** The timer a state holds (exhaustive: a new state must say). */
export function timerOf(state: ConnectionState): Timer | undefined {
  switch (state.name) {
    case "awaiting-hello":
    case "authenticating":
      return state.handshakeTimer;
    case "open":
    case "draining":
      return undefined;
    case "closed":
      return state.lingerTimer;
    default: {
      const never: never = state;
      throw new Error(`unknown connection state ${JSON.stringify(never)}`);
    }
  }
}

/** The client a state is (or, closed, was) bound to, if any. */
export function clientOf(state: ConnectionState): ClientState | undefined {
  switch (state.name) {
    case "authenticating":
    case "open":
    case "draining":
    case "closed":
      return state.client;
    case "awaiting-hello":
      return undefined;
    default: {
      const never: never = state;
      throw new Error(`unknown connection state ${JSON.stringify(never)}`);
    }
  }
}
