/**
 * The frames of outlast protocol versions 1 and 2 (docs/protocol.md is the spec). They
 * differ only in WELCOME: a v2 WELCOME also carries the server's beat interval and idle limit.
 *
 * On the wire every frame is: u32 BE `length` (of everything after it), u8 `type`, body.
 * Integers are big-endian; u64 values are carried as JS numbers and must be
 * <= Number.MAX_SAFE_INTEGER (a larger one is a protocol error). Strings are UTF-8.
 */

/** The highest protocol version this build speaks (it speaks 1 too: SUPPORTED_VERSIONS). */
export const PROTOCOL_VERSION = 2;
/** First four bytes of a HELLO body: lets a server reject a non-outlast peer (an HTTP client, a port scanner) at once. */
export const MAGIC = "OUTL";
/** Default largest frame (length field value) either side accepts: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Bytes before a frame body: u32 length + u8 type. */
export const FRAME_HEADER_BYTES = 5;

export const FrameType = {
  Hello: 0x01,
  Welcome: 0x02,
  Message: 0x03,
  Ack: 0x04,
  Ping: 0x05,
  Pong: 0x06,
  Error: 0x07,
  Goodbye: 0x08,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** client -> server, first frame on a connection. */
export interface HelloFrame {
  readonly type: "hello";
  /** Lowest and highest protocol versions the client speaks. */
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly clientId: string;
  /** Credential for `authenticate`; empty when none. */
  readonly token: Uint8Array;
  /** How often the client will ping when idle, so the server can size its idle timeout. */
  readonly heartbeatIntervalMs: number;
  /** Largest frame the client accepts. */
  readonly maxFrameBytes: number;
}

/** server -> client, answer to HELLO once authenticated. */
export interface WelcomeFrame {
  readonly type: "welcome";
  readonly version: number;
  /** The clientId the connection is bound to (what `authenticate` returned). Sequence numbers belong to it. */
  readonly clientId: string;
  /** Highest sequence number the server has processed (handler succeeded) for that clientId; 0 when none. */
  readonly lastSeq: number;
  /** Largest frame the server accepts. */
  readonly maxFrameBytes: number;
  /**
   * Version >= 2 only (absent in v1): the server sends a frame (a beat) whenever it has written nothing on
   * this link for beatMs (noticed within beatMs / 6, at most 1 s, later); 0 = no beats (the client pings as in v1).
   */
  readonly beatMs?: number;
  /** Version >= 2 only: the server closes the link after this long without a byte from the client. */
  readonly idleMs?: number;
}

/** client -> server. `seq` is per clientId, strictly increasing (gaps allowed: dropped best-effort messages). */
export interface MessageFrame {
  readonly type: "message";
  readonly seq: number;
  readonly data: Uint8Array;
}

/** server -> client: every message with seq <= `seq` is processed. `duplicates`: resends skipped since the previous ACK. */
export interface AckFrame {
  readonly type: "ack";
  readonly seq: number;
  readonly duplicates: number;
}

/**
 * Either direction; the receiver answers PING with a PONG carrying the same nonce. A PONG that answers
 * nothing (a v2 server's beat) is ignored, and counts as liveness like any byte.
 */
export interface PingFrame {
  readonly type: "ping";
  readonly nonce: number;
}
export interface PongFrame {
  readonly type: "pong";
  readonly nonce: number;
}

/**
 * Either direction, sent just before the sender closes. `code` is an outlast
 * error code (e.g. OUTLAST_PROTOCOL_ERROR, OUTLAST_AUTH_REJECTED,
 * OUTLAST_PROTOCOL_VERSION, OUTLAST_SERVER_BUSY, OUTLAST_HANDLER_FAILED);
 * `retryAfterMs` is a hint (0 = none).
 */
export interface ErrorFrame {
  readonly type: "error";
  readonly code: string;
  readonly message: string;
  readonly retryAfterMs: number;
}

/** Either direction: "I will send nothing more; finish and close" (graceful drain). */
export interface GoodbyeFrame {
  readonly type: "goodbye";
}

export type Frame =
  HelloFrame | WelcomeFrame | MessageFrame | AckFrame | PingFrame | PongFrame | ErrorFrame | GoodbyeFrame;
