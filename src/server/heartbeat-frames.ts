/**
 * The server's side of heartbeats on the wire (docs/protocol.md §5): the beats it sends on a
 * v2 link, encoded once for every connection, and the read of an idle fleet, a lone whole
 * PING or PONG, recognised without a decoder, frame objects or arrays.
 */

import { encodeFrame } from "../protocol/frame-encoder.js";
import { FrameType } from "../protocol/frames.js";

/**
 * The server beats on a v2 link only for a client interval of at least this: a client that wants to hear
 * something more often pings for itself (as in v1), and the one sweep never has to run more than 6 times a second.
 */
export const MIN_BEAT_MS = 1000;
/** A one-way beat: a PONG nobody asked for (it answers nothing, and counts as liveness). */
export const BEAT = encodeFrame({ type: "pong", nonce: 0 });
/** A beat that asks for an answer: a PING (sent once the client was silent for half its idle limit). */
export const ASK = encodeFrame({ type: "ping", nonce: 0 });

/** A whole PING or PONG frame: length 4, type 1, nonce 8. */
const CONTROL_FRAME_BYTES = 13;
/** Largest high word of a u64 nonce that stays <= 2^53-1. */
const MAX_U64_HIGH = 0x1f_ffff;

/** The beat pace of a link: HELLO's interval on a v2 link when it is at least MIN_BEAT_MS, else 0 (no beats). */
export function beatMsFor(version: number, heartbeatIntervalMs: number): number {
  return version >= 2 && heartbeatIntervalMs >= MIN_BEAT_MS ? heartbeatIntervalMs : 0;
}

/**
 * `chunk` as one whole, valid PING or PONG (length 9, a nonce <= 2^53-1), or undefined: anything else,
 * which the decoder then reads (and reports, if it is a protocol error).
 */
export function loneControlFrame(chunk: Buffer): typeof FrameType.Ping | typeof FrameType.Pong | undefined {
  if (chunk.length !== CONTROL_FRAME_BYTES) return undefined;
  const type = chunk[4];
  if (type !== FrameType.Ping && type !== FrameType.Pong) return undefined;
  if (chunk.readUInt32BE(0) !== 9 || chunk.readUInt32BE(5) > MAX_U64_HIGH) return undefined;
  return type;
}

/** The PONG answering the lone PING `ping` (same nonce), in a buffer of its own. */
export function pongFor(ping: Buffer): Buffer {
  const pong = Buffer.allocUnsafe(CONTROL_FRAME_BYTES);
  ping.copy(pong);
  pong[4] = FrameType.Pong;
  return pong;
}
