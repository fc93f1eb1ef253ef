/**
 * The errors a server connection reports (clientError events, ERROR frames): one
 * maker per case, so the connection's code reads as what happened.
 */

import { OutlastError, isOutlastError } from "../errors/outlast-error.js";
import type { ErrorFrame, Frame } from "../protocol/frames.js";

export function unexpectedFrame(frame: Frame["type"], state: string): OutlastError<"OUTLAST_PROTOCOL_ERROR"> {
  return new OutlastError("OUTLAST_PROTOCOL_ERROR", `unexpected ${frame.toUpperCase()} frame in state ${state}`, {
    details: { frame, state },
  });
}

/** The client closed with an ERROR frame of its own. */
export function clientSentError(frame: ErrorFrame): OutlastError<"OUTLAST_PROTOCOL_ERROR"> {
  return new OutlastError(
    "OUTLAST_PROTOCOL_ERROR",
    `client sent ERROR ${frame.code}: ${JSON.stringify(frame.message)}`,
    {
      details: { remoteCode: frame.code, remoteMessage: frame.message, retryAfterMs: frame.retryAfterMs },
    },
  );
}

export function seqNotAbove(seq: number, previousSeq: number): OutlastError<"OUTLAST_PROTOCOL_ERROR"> {
  return new OutlastError(
    "OUTLAST_PROTOCOL_ERROR",
    `MESSAGE seq ${seq} is not above the previous seq ${previousSeq} on this connection`,
    { details: { frame: "message" } },
  );
}

export function handshakeTimeout(timeoutMs: number): OutlastError<"OUTLAST_TIMEOUT"> {
  return new OutlastError("OUTLAST_TIMEOUT", `handshake not completed within handshakeTimeoutMs ${timeoutMs}`, {
    details: { timeoutMs },
  });
}

/** `silentMs` is a lower bound: the idle sweep notes silence at its own ticks. */
export function idleTimeout(silentMs: number, idleMs: number): OutlastError<"OUTLAST_HEARTBEAT_TIMEOUT"> {
  return new OutlastError(
    "OUTLAST_HEARTBEAT_TIMEOUT",
    `nothing received from the client for at least ${silentMs} ms (idle limit ${idleMs} ms)`,
    { details: { timeoutMs: idleMs, silentMs } },
  );
}

export function slowReader(): OutlastError<"OUTLAST_PROTOCOL_ERROR"> {
  return new OutlastError("OUTLAST_PROTOCOL_ERROR", "client does not read what the server sends; connection dropped");
}

/** A decoder failure (already coded) or anything else thrown while reading, as a protocol error. */
export function asProtocolError(err: unknown): OutlastError {
  if (isOutlastError(err)) return err;
  return new OutlastError(
    "OUTLAST_PROTOCOL_ERROR",
    `protocol error: ${err instanceof Error ? err.message : String(err)}`,
    {
      cause: err,
    },
  );
}
