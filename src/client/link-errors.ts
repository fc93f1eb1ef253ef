/**
 * The errors that end an outlast link (connection.ts): one maker per case, so the
 * connection's code reads as what happened. Each says what to do where a person can act.
 */

import { OutlastError } from "../errors/outlast-error.js";
import type { ForeignPeer } from "../protocol/foreign-peer.js";
import { describeForeignPeer } from "../protocol/foreign-peer.js";
import type { ClientLinkState } from "../protocol/frame-rules.js";
import type { Frame } from "../protocol/frames.js";

export type ConnectPhase = "tcp" | "tls" | "handshake";

const PHASE_NAMES: Readonly<Record<ConnectPhase, string>> = {
  tcp: "TCP connect",
  tls: "TLS handshake",
  handshake: "HELLO/WELCOME handshake",
};

export function connectTimeout(phase: ConnectPhase, connectTimeoutMs: number): OutlastError<"OUTLAST_CONNECT_TIMEOUT"> {
  return new OutlastError(
    "OUTLAST_CONNECT_TIMEOUT",
    `${PHASE_NAMES[phase]} did not finish within connectTimeoutMs (${connectTimeoutMs} ms)`,
    {
      details: { connectTimeoutMs, phase },
    },
  );
}

/** The first bytes in answer to HELLO came from a web server, a TLS server, ... (src/protocol/foreign-peer.ts). */
export function foreignPeer(peer: ForeignPeer, href: string): OutlastError<"OUTLAST_PROTOCOL_ERROR"> {
  return new OutlastError("OUTLAST_PROTOCOL_ERROR", describeForeignPeer(peer, href), {
    details: { peer: peer.kind },
  });
}

export function unexpectedFrame(frame: Frame["type"], link: ClientLinkState): OutlastError<"OUTLAST_PROTOCOL_ERROR"> {
  return new OutlastError("OUTLAST_PROTOCOL_ERROR", `server sent ${frame.toUpperCase()} while the link was ${link}`, {
    details: { frame, state: link },
  });
}

/**
 * A FIN inside a frame: the link was cut (a NAT box, a proxy, a crash mid-write), not a
 * protocol violation; the frame is simply never complete. Resend like any closed link.
 * No `cause`: classify() lets the deepest error decide, and the decoder's protocol error
 * would turn this cut link into a "bug" (an error event, no quick reconnect).
 */
export function closedInsideFrame(
  link: ClientLinkState,
  decoderError: unknown,
): OutlastError<"OUTLAST_CONNECTION_CLOSED"> {
  const inside = decoderError instanceof Error ? decoderError.message : String(decoderError);
  return new OutlastError(
    "OUTLAST_CONNECTION_CLOSED",
    `server closed the connection inside a frame while ${link} (${inside})`,
    { details: { link } },
  );
}

/**
 * The server's FIN without GOODBYE or ERROR: a crash, or a proxy or NAT box closing.
 * `unanswered`: not a byte in answer to HELLO on a plain link, what a TLS server does with plain text.
 */
export function closedWithoutGoodbye(
  link: ClientLinkState,
  href: string,
  unanswered: boolean,
): OutlastError<"OUTLAST_CONNECTION_CLOSED"> {
  return new OutlastError(
    "OUTLAST_CONNECTION_CLOSED",
    unanswered
      ? `${href} closed the connection without answering HELLO, as a TLS server does with plain text: if it serves TLS, use tls:// instead of tcp://`
      : `server closed the connection without GOODBYE while ${link}`,
    {
      details: unanswered ? { link, unanswered: true } : { link },
    },
  );
}
