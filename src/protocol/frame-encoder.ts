/**
 * Frame -> bytes (docs/protocol.md, "Frames"). Every function validates its
 * input and throws OutlastError OUTLAST_PROTOCOL_ERROR on a value the wire
 * cannot carry (a bug in the caller, never a network condition).
 *
 * Hot path: `writeMessageHeader` / `encodeMessageHeader` let a sender put the
 * 13-byte MESSAGE header in front of its payload without copying the payload
 * (socket.cork(); write(header); write(data); uncork(), or writev).
 */

import { OutlastError } from "../errors/outlast-error.js";
import type { Frame, HelloFrame } from "./frames.js";
import { FRAME_HEADER_BYTES, FrameType, MAGIC } from "./frames.js";
import { checkWelcome, validateHello } from "./handshake.js";
import {
  ERROR_CODE_PATTERN,
  ERROR_FIXED_BYTES,
  HELLO_FIXED_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_U32,
  MAX_U64,
  MESSAGE_HEADER_BYTES,
  MESSAGE_OVERHEAD_BYTES,
  WELCOME_FIXED_BYTES,
  WELCOME_V2_BYTES,
} from "./limits.js";

const TWO_32 = 0x1_0000_0000;
/** Largest MESSAGE data the length field can describe (the peer's maxFrameBytes is usually lower). */
const MAX_DATA_BYTES = MAX_U32 - MESSAGE_OVERHEAD_BYTES;

function fail(frame: string, message: string): never {
  throw new OutlastError("OUTLAST_PROTOCOL_ERROR", `cannot encode ${frame} frame: ${message}`, {
    details: { frame },
  });
}

function checkU64(frame: string, field: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min || n > MAX_U64) {
    fail(frame, `${field} ${String(n)} is not an integer in [${min}, 2^53-1]`);
  }
}

function checkU32(frame: string, field: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32)
    fail(frame, `${field} ${String(n)} is not an integer in [0, 2^32-1]`);
}

function writeU64(buf: Buffer, offset: number, n: number): void {
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

/** A buffer holding the frame header (length = 1 + bodyBytes, type); the body goes at offset 5. */
function frameBuffer(type: number, bodyBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  buf.writeUInt32BE(1 + bodyBytes, 0);
  buf[4] = type;
  return buf;
}

/**
 * Writes the 13-byte MESSAGE header (length, type, seq) for `dataLength` bytes
 * of data into `target` at `offset`; returns the offset after it. The data must
 * follow immediately on the wire.
 */
export function writeMessageHeader(target: Buffer, offset: number, seq: number, dataLength: number): number {
  checkU64("MESSAGE", "seq", seq, 1);
  if (!Number.isInteger(dataLength) || dataLength < 0 || dataLength > MAX_DATA_BYTES) {
    fail("MESSAGE", `data length ${String(dataLength)} is not an integer in [0, ${MAX_DATA_BYTES}]`);
  }
  target.writeUInt32BE(MESSAGE_OVERHEAD_BYTES + dataLength, offset);
  target[offset + 4] = FrameType.Message;
  writeU64(target, offset + 5, seq);
  return offset + MESSAGE_HEADER_BYTES;
}

/** A new 13-byte buffer with the MESSAGE header for `dataLength` bytes of data. */
export function encodeMessageHeader(seq: number, dataLength: number): Buffer {
  const buf = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES);
  writeMessageHeader(buf, 0, seq, dataLength);
  return buf;
}

function encodeHello(f: HelloFrame): Buffer {
  const problem = validateHello(f);
  if (problem !== undefined) fail("HELLO", problem.message);
  const idBytes = Buffer.byteLength(f.clientId, "utf8");
  const buf = frameBuffer(FrameType.Hello, HELLO_FIXED_BYTES + idBytes + f.token.length);
  let o = FRAME_HEADER_BYTES;
  o += buf.write(MAGIC, o, "latin1");
  buf.writeUInt16BE(f.minVersion, o);
  buf.writeUInt16BE(f.maxVersion, o + 2);
  buf.writeUInt32BE(f.heartbeatIntervalMs, o + 4);
  buf.writeUInt32BE(f.maxFrameBytes, o + 8);
  buf.writeUInt16BE(idBytes, o + 12);
  o += 14;
  o += buf.write(f.clientId, o, "utf8");
  buf.writeUInt32BE(f.token.length, o);
  buf.set(f.token, o + 4);
  return buf;
}

/** Encodes any frame into a new Buffer (MESSAGE data is copied; see writeMessageHeader to avoid that). */
export function encodeFrame(frame: Frame): Buffer {
  switch (frame.type) {
    case "hello":
      return encodeHello(frame);
    case "welcome": {
      const problem = checkWelcome({ minVersion: 1, maxVersion: 0xffff }, frame);
      if (problem !== undefined) fail("WELCOME", problem.message);
      const idBytes = Buffer.byteLength(frame.clientId, "utf8");
      const v2 = frame.version >= 2;
      const buf = frameBuffer(FrameType.Welcome, WELCOME_FIXED_BYTES + idBytes + (v2 ? WELCOME_V2_BYTES : 0));
      buf.writeUInt16BE(frame.version, 5);
      writeU64(buf, 7, frame.lastSeq);
      buf.writeUInt32BE(frame.maxFrameBytes, 15);
      buf.writeUInt16BE(idBytes, 19);
      buf.write(frame.clientId, 21, "utf8");
      if (v2) {
        // checkWelcome made sure both are there for version >= 2.
        buf.writeUInt32BE(frame.beatMs ?? 0, 21 + idBytes);
        buf.writeUInt32BE(frame.idleMs ?? 0, 25 + idBytes);
      }
      return buf;
    }
    case "message": {
      if (!(frame.data instanceof Uint8Array)) fail("MESSAGE", "data must be a Uint8Array");
      const buf = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES + frame.data.length);
      writeMessageHeader(buf, 0, frame.seq, frame.data.length);
      buf.set(frame.data, MESSAGE_HEADER_BYTES);
      return buf;
    }
    case "ack": {
      checkU64("ACK", "seq", frame.seq, 0);
      checkU32("ACK", "duplicates", frame.duplicates);
      const buf = frameBuffer(FrameType.Ack, 12);
      writeU64(buf, 5, frame.seq);
      buf.writeUInt32BE(frame.duplicates, 13);
      return buf;
    }
    case "ping":
    case "pong": {
      const name = frame.type === "ping" ? "PING" : "PONG";
      checkU64(name, "nonce", frame.nonce, 0);
      const buf = frameBuffer(frame.type === "ping" ? FrameType.Ping : FrameType.Pong, 8);
      writeU64(buf, 5, frame.nonce);
      return buf;
    }
    case "error": {
      if (typeof frame.code !== "string" || !ERROR_CODE_PATTERN.test(frame.code)) {
        fail("ERROR", `code ${JSON.stringify(frame.code)} is not 1..64 of [A-Z0-9_] starting with a letter`);
      }
      if (typeof frame.message !== "string") fail("ERROR", "message must be a string");
      if (/[\uD800-\uDFFF]/u.test(frame.message)) fail("ERROR", "message contains a lone surrogate");
      const msgBytes = Buffer.byteLength(frame.message, "utf8");
      if (msgBytes > MAX_ERROR_MESSAGE_BYTES) {
        fail(
          "ERROR",
          `message is ${msgBytes} bytes; at most ${MAX_ERROR_MESSAGE_BYTES} (use makeErrorFrame to cut it)`,
        );
      }
      checkU32("ERROR", "retryAfterMs", frame.retryAfterMs);
      const buf = frameBuffer(FrameType.Error, ERROR_FIXED_BYTES + frame.code.length + msgBytes);
      buf.writeUInt32BE(frame.retryAfterMs, 5);
      buf[9] = frame.code.length;
      let o = 10 + buf.write(frame.code, 10, "latin1");
      buf.writeUInt16BE(msgBytes, o);
      o += 2;
      buf.write(frame.message, o, "utf8");
      return buf;
    }
    case "goodbye":
      return frameBuffer(FrameType.Goodbye, 0);
    default: {
      const never: never = frame;
      return fail("unknown", `type ${JSON.stringify((never as { type?: unknown }).type)}`);
    }
  }
}
