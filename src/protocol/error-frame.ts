/**
 * ERROR frames <-> OutlastError (docs/protocol.md, "Errors").
 */

import type { OutlastErrorCode, PeerErrorCode } from "../errors/outlast-error.js";
import { OutlastError } from "../errors/outlast-error.js";
import type { ErrorFrame } from "./frames.js";
import { MAX_ERROR_MESSAGE_BYTES, MAX_U32 } from "./limits.js";

/** Cuts `text` to at most `maxBytes` of UTF-8 on a character boundary (lone surrogates become U+FFFD). */
export function truncateUtf8(text: string, maxBytes: number): string {
  const clean = text.replace(/[\uD800-\uDFFF]/gu, "\uFFFD");
  const bytes = Buffer.from(clean, "utf8");
  if (bytes.length <= maxBytes) return clean;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString("utf8", 0, end);
}

/**
 * An ERROR frame that always encodes: the message is cut to 1 KiB of UTF-8,
 * retryAfterMs is clamped to [0, 2^32-1] and rounded.
 */
export function makeErrorFrame(code: OutlastErrorCode, message: string, retryAfterMs = 0): ErrorFrame {
  const retry = Number.isFinite(retryAfterMs) ? Math.min(MAX_U32, Math.max(0, Math.round(retryAfterMs))) : 0;
  return { type: "error", code, message: truncateUtf8(message, MAX_ERROR_MESSAGE_BYTES), retryAfterMs: retry };
}

/**
 * The codes a peer may send. Their details types admit `PeerErrorDetails`
 * (the compiler checks each entry); a code that names the peer's own local
 * trouble (its outbox, its state directory) means nothing on this side.
 */
const PEER_CODES: ReadonlySet<string> = new Set<PeerErrorCode>([
  "OUTLAST_PROTOCOL_ERROR",
  "OUTLAST_PROTOCOL_VERSION",
  "OUTLAST_AUTH_REJECTED",
  "OUTLAST_HANDLER_FAILED",
  "OUTLAST_SERVER_BUSY",
  "OUTLAST_HEARTBEAT_TIMEOUT",
  "OUTLAST_TIMEOUT",
]);

/**
 * The OutlastError a received ERROR frame stands for. A code this build does
 * not know (a newer peer), or one no peer should send, becomes
 * OUTLAST_PROTOCOL_ERROR; the peer's code, text and retryAfterMs are kept in
 * `details` (`remoteCode`, `remoteMessage`, `retryAfterMs`).
 */
export function errorFromFrame(frame: ErrorFrame, peer: "server" | "client"): OutlastError<PeerErrorCode> {
  const known = PEER_CODES.has(frame.code);
  const code = known ? (frame.code as PeerErrorCode) : "OUTLAST_PROTOCOL_ERROR";
  // JSON.stringify escapes control characters: the peer's text is untrusted.
  const text = JSON.stringify(frame.message);
  const retry = frame.retryAfterMs > 0 ? ` (retry after ${frame.retryAfterMs} ms)` : "";
  const message = known
    ? `${peer} sent ERROR ${frame.code}: ${text}${retry}`
    : `${peer} sent ERROR with unknown code ${frame.code}: ${text}${retry}`;
  return new OutlastError(code, message, {
    details: { remoteCode: frame.code, remoteMessage: frame.message, retryAfterMs: frame.retryAfterMs },
  });
}
