/**
 * Which received frame is legal in which connection state (docs/protocol.md,
 * "State machines"). The tables are the spec's tables as data, so the client,
 * the server and the document cannot drift apart.
 */

import type { Frame } from "./frames.js";

export type FrameName = Frame["type"];

/** Protocol-level states of a client's link (the public `state` maps connecting+handshaking -> "connecting", draining -> "closing"). */
export type ClientLinkState = "connecting" | "handshaking" | "open" | "draining" | "waiting" | "closed";
/** States of one server-side connection. */
export type ServerConnectionState = "awaiting-hello" | "authenticating" | "open" | "draining" | "closed";

/**
 * What the receiver does with a frame:
 * - "handle": process it normally;
 * - "ignore": drop it silently (still counts as liveness);
 * - "close":  the peer is leaving (ERROR/GOODBYE): stop sending, close without an ERROR of our own;
 * - "violation": protocol error: send ERROR OUTLAST_PROTOCOL_ERROR and close.
 */
export type FrameRule = "handle" | "ignore" | "close" | "violation";

type Table<S extends string> = Readonly<Record<S, Readonly<Record<FrameName, FrameRule>>>>;

const V = "violation" as const;

const CLIENT: Table<ClientLinkState> = {
  // No socket: nothing can arrive. Listed for totality.
  connecting: { hello: V, welcome: V, message: V, ack: V, ping: V, pong: V, error: V, goodbye: V },
  handshaking: { hello: V, welcome: "handle", message: V, ack: V, ping: V, pong: V, error: "close", goodbye: "close" },
  open: {
    hello: V,
    welcome: V,
    message: V,
    ack: "handle",
    ping: "handle",
    pong: "handle",
    error: "close",
    goodbye: "close",
  },
  draining: {
    hello: V,
    welcome: V,
    message: V,
    ack: "handle",
    ping: "handle",
    pong: "handle",
    error: "close",
    goodbye: "close",
  },
  waiting: { hello: V, welcome: V, message: V, ack: V, ping: V, pong: V, error: V, goodbye: V },
  closed: { hello: V, welcome: V, message: V, ack: V, ping: V, pong: V, error: V, goodbye: V },
};

const SERVER: Table<ServerConnectionState> = {
  "awaiting-hello": {
    hello: "handle",
    welcome: V,
    message: V,
    ack: V,
    ping: V,
    pong: V,
    error: "close",
    goodbye: "close",
  },
  authenticating: { hello: V, welcome: V, message: V, ack: V, ping: V, pong: V, error: "close", goodbye: "close" },
  open: {
    hello: V,
    welcome: V,
    message: "handle",
    ack: V,
    ping: "handle",
    pong: "handle",
    error: "close",
    goodbye: "handle",
  },
  // Server-initiated drain: MESSAGEs that arrive after the decision are not processed (the client resends them).
  draining: {
    hello: V,
    welcome: V,
    message: "ignore",
    ack: V,
    ping: "handle",
    pong: "handle",
    error: "close",
    goodbye: "handle",
  },
  closed: {
    hello: "ignore",
    welcome: "ignore",
    message: "ignore",
    ack: "ignore",
    ping: "ignore",
    pong: "ignore",
    error: "ignore",
    goodbye: "ignore",
  },
};

/** What a client in `state` does with a received frame. */
export function clientFrameRule(state: ClientLinkState, frame: FrameName): FrameRule {
  return CLIENT[state][frame];
}

/** What a server connection in `state` does with a received frame. */
export function serverFrameRule(state: ServerConnectionState, frame: FrameName): FrameRule {
  return SERVER[state][frame];
}
