/**
 * Bytes -> frames (docs/protocol.md, "Frames"). The receive hot path.
 *
 * `push(chunk)` returns every frame completed by `chunk`, in order; a frame may
 * span any number of chunks and a chunk may hold any number of frames. A frame's
 * length is checked as soon as its 4 length bytes arrive (before anything of it
 * is buffered) and its type and size as soon as the type byte arrives, so a
 * decoder never holds more than maxFrameBytes + 4 bytes (see `bufferedBytes`).
 *
 * MESSAGE `data` is, by default, a VIEW into the pushed chunk when the frame lay
 * whole inside it (no copy), or into a private buffer when it was reassembled.
 * So: never modify a chunk after pushing it, and copy `data` if you keep it
 * after handling it and care about memory (a view keeps its whole chunk alive).
 * `copyMessageData: true` copies every MESSAGE's data instead.
 *
 * Malformed input throws OutlastError OUTLAST_PROTOCOL_ERROR saying which frame
 * and what was wrong; the decoder is then unusable (every later push throws).
 */

import { isUtf8 } from "node:buffer";
import { OutlastError, isOutlastError } from "../errors/outlast-error.js";
import type { Frame, HelloFrame, WelcomeFrame } from "./frames.js";
import { FRAME_HEADER_BYTES, FrameType } from "./frames.js";
import { checkWelcome, isMagic, validateHello } from "./handshake.js";
import {
  ERROR_CODE_PATTERN,
  ERROR_FIXED_BYTES,
  HELLO_FIXED_BYTES,
  MAX_CLIENT_ID_BYTES,
  MAX_ERROR_CODE_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_HELLO_FRAME_BYTES,
  MAX_U32,
  MESSAGE_OVERHEAD_BYTES,
  WELCOME_FIXED_BYTES,
  WELCOME_V2_BYTES,
} from "./limits.js";

export interface FrameDecoderOptions {
  /** Largest length field accepted, 1..2^32-1 (protocol: the advertised maxFrameBytes). */
  readonly maxFrameBytes: number;
  /** Copy each MESSAGE's data out of the chunk instead of returning a view (default false). */
  readonly copyMessageData?: boolean;
}

const TWO_32 = 0x1_0000_0000;
/** Largest high word of a u64 that stays <= 2^53-1. */
const MAX_U64_HIGH = 0x1f_ffff;
const EMPTY = Buffer.alloc(0);
const MIN_GROW_BYTES = 4096;

/** Indexed by type byte: name, smallest and largest length field (type byte + body). */
const NAMES = ["", "HELLO", "WELCOME", "MESSAGE", "ACK", "PING", "PONG", "ERROR", "GOODBYE"] as const;
const MIN_LENGTH = [
  0,
  1 + HELLO_FIXED_BYTES + 1,
  1 + WELCOME_FIXED_BYTES + 1,
  MESSAGE_OVERHEAD_BYTES,
  13,
  9,
  9,
  1 + ERROR_FIXED_BYTES + 1,
  1,
];
const MAX_LENGTH = [
  0,
  MAX_HELLO_FRAME_BYTES,
  1 + WELCOME_FIXED_BYTES + MAX_CLIENT_ID_BYTES + WELCOME_V2_BYTES,
  MAX_U32,
  13,
  9,
  9,
  1 + ERROR_FIXED_BYTES + MAX_ERROR_CODE_BYTES + MAX_ERROR_MESSAGE_BYTES,
  1,
];

function fail(message: string, frame?: string): never {
  throw new OutlastError("OUTLAST_PROTOCOL_ERROR", message, { details: frame === undefined ? {} : { frame } });
}

function malformed(frame: string, what: string): never {
  fail(`malformed ${frame} frame: ${what}`, frame);
}

function readU64(buf: Buffer, offset: number, frame: string, field: string): number {
  const hi = buf.readUInt32BE(offset);
  if (hi > MAX_U64_HIGH) malformed(frame, `${field} is above 2^53-1`);
  return hi * TWO_32 + buf.readUInt32BE(offset + 4);
}

function readUtf8(buf: Buffer, start: number, end: number, frame: string, field: string): string {
  if (!isUtf8(buf.subarray(start, end))) malformed(frame, `${field} is not valid UTF-8`);
  return buf.toString("utf8", start, end);
}

export class FrameDecoder {
  #maxFrameBytes: number;
  readonly #copy: boolean;
  #error: OutlastError<"OUTLAST_PROTOCOL_ERROR"> | undefined;
  /** Header bytes of the partial frame (0..5); 5 while its body is being collected. */
  /** Made when a header first straddles two chunks (rare): an idle decoder holds no buffer (a server has thousands). */
  #head: Buffer | undefined;
  #headLen = 0;
  #type = 0;
  /** Body of the partial frame, grown as bytes arrive (never past #bodyNeed). */
  #body: Buffer | undefined;
  #bodyLen = 0;
  #bodyNeed = 0;

  constructor(options: FrameDecoderOptions) {
    this.#maxFrameBytes = FrameDecoder.#checkMax(options.maxFrameBytes);
    this.#copy = options.copyMessageData === true;
  }

  static #checkMax(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > MAX_U32) {
      throw new OutlastError(
        "OUTLAST_INVALID_OPTION",
        `invalid option maxFrameBytes: ${String(n)} is not an integer in [1, 2^32-1]`,
        {
          details: { option: "maxFrameBytes" },
        },
      );
    }
    return n;
  }

  /** Current limit on the length field. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** Changes the limit for frames whose header has not yet arrived (the server reads HELLO with MAX_HELLO_FRAME_BYTES). */
  setMaxFrameBytes(n: number): void {
    this.#maxFrameBytes = FrameDecoder.#checkMax(n);
  }

  /** Bytes the decoder holds for a partial frame (allocated); always <= maxFrameBytes + 4. */
  get bufferedBytes(): number {
    return this.#headLen + (this.#body === undefined ? 0 : this.#body.length);
  }

  /** True once malformed input was seen; every later push throws. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /**
   * Call when the byte stream ended (peer's FIN): throws OUTLAST_PROTOCOL_ERROR when it
   * ended inside a frame, so a truncated last frame is not silently lost.
   */
  end(): void {
    if (this.#error !== undefined || this.#headLen === 0) return;
    const what =
      this.#headLen < FRAME_HEADER_BYTES
        ? `inside a frame header (${this.#headLen} of ${FRAME_HEADER_BYTES} bytes)`
        : `inside a ${NAMES[this.#type] ?? "?"} frame (${this.#bodyLen} of ${this.#bodyNeed} body bytes)`;
    this.#error = new OutlastError("OUTLAST_PROTOCOL_ERROR", `stream ended ${what}`, { details: {} });
    this.#headLen = 0;
    this.#body = undefined;
    throw this.#error;
  }

  /** Decodes `chunk`; returns the frames it completed (possibly none). Throws OUTLAST_PROTOCOL_ERROR on malformed input. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#error !== undefined) {
      throw new OutlastError(
        "OUTLAST_PROTOCOL_ERROR",
        `frame decoder is unusable after an earlier error: ${this.#error.message}`,
        {
          cause: this.#error,
          details: this.#error.details,
        },
      );
    }
    try {
      return this.#push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      this.#error = isOutlastError(err, "OUTLAST_PROTOCOL_ERROR")
        ? err
        : new OutlastError("OUTLAST_PROTOCOL_ERROR", "frame decoder failed", { cause: err });
      this.#headLen = 0;
      this.#body = undefined;
      throw err;
    }
  }

  #push(buf: Buffer): Frame[] {
    const out: Frame[] = [];
    const end = buf.length;
    let off = 0;
    if (this.#headLen > 0) {
      off = this.#feedPartial(buf, 0, out);
      if (this.#headLen > 0) return out;
    }
    while (end - off >= FRAME_HEADER_BYTES) {
      const length = buf.readUInt32BE(off);
      const type = buf[off + 4]!;
      this.#checkHeader(length, type);
      if (end - off - 4 < length) break;
      out.push(this.#decodeBody(type, buf, off + FRAME_HEADER_BYTES, off + 4 + length));
      off += 4 + length;
    }
    if (off < end) this.#feedPartial(buf, off, out);
    return out;
  }

  #checkLength(length: number): void {
    if (length === 0) fail("frame length 0: a frame has at least a type byte");
    if (length > this.#maxFrameBytes) {
      fail(`frame length ${length} exceeds maxFrameBytes ${this.#maxFrameBytes}`);
    }
  }

  #checkHeader(length: number, type: number): void {
    this.#checkLength(length);
    const name = NAMES[type];
    if (name === undefined || type === 0) fail(`unknown frame type 0x${type.toString(16).padStart(2, "0")}`);
    const min = MIN_LENGTH[type]!;
    const max = MAX_LENGTH[type]!;
    if (length < min || length > max) {
      const bodyRange = min === max ? `exactly ${min - 1}` : `${min - 1}..${max - 1}`;
      malformed(name, `body is ${length - 1} bytes, must be ${bodyRange}`);
    }
  }

  /** Adds bytes from buf[off..] to the partial frame; completes it into `out` when whole. Returns the new offset. */
  #feedPartial(buf: Buffer, off: number, out: Frame[]): number {
    const end = buf.length;
    if (this.#headLen < FRAME_HEADER_BYTES) {
      const head = (this.#head ??= Buffer.alloc(FRAME_HEADER_BYTES));
      while (this.#headLen < FRAME_HEADER_BYTES && off < end) {
        head[this.#headLen++] = buf[off++]!;
        if (this.#headLen === 4) this.#checkLength(head.readUInt32BE(0));
      }
      if (this.#headLen < FRAME_HEADER_BYTES) return off;
      const length = head.readUInt32BE(0);
      this.#type = head[4]!;
      this.#checkHeader(length, this.#type);
      this.#bodyNeed = length - 1;
      this.#bodyLen = 0;
      this.#body = undefined;
    }
    const take = Math.min(this.#bodyNeed - this.#bodyLen, end - off);
    if (take > 0) {
      const body = this.#grow(this.#bodyLen + take);
      buf.copy(body, this.#bodyLen, off, off + take);
      this.#bodyLen += take;
      off += take;
    }
    if (this.#bodyLen === this.#bodyNeed) {
      const body = this.#body ?? EMPTY;
      const bodyLen = this.#bodyLen;
      this.#headLen = 0;
      this.#body = undefined;
      this.#bodyLen = 0;
      out.push(this.#decodeBody(this.#type, body, 0, bodyLen));
    }
    return off;
  }

  /** Ensures the body buffer holds `n` bytes; grows by doubling, never past the frame's size. */
  #grow(n: number): Buffer {
    const old = this.#body;
    if (old !== undefined && old.length >= n) return old;
    const size = Math.min(this.#bodyNeed, Math.max(n, MIN_GROW_BYTES, old === undefined ? 0 : old.length * 2));
    const body = Buffer.allocUnsafe(size);
    if (old !== undefined) old.copy(body, 0, 0, this.#bodyLen);
    this.#body = body;
    return body;
  }

  /** Decodes the body buf[start..end) of a frame whose header passed #checkHeader. */
  #decodeBody(type: number, buf: Buffer, start: number, end: number): Frame {
    switch (type) {
      case FrameType.Message: {
        const seq = readU64(buf, start, "MESSAGE", "seq");
        if (seq === 0) malformed("MESSAGE", "seq is 0; sequence numbers start at 1");
        // Buffer.from copies (small ones from Node's shared pool, which is much faster than a fresh allocation).
        const data = this.#copy ? Buffer.from(buf.subarray(start + 8, end)) : buf.subarray(start + 8, end);
        return { type: "message", seq, data };
      }
      case FrameType.Ack:
        return { type: "ack", seq: readU64(buf, start, "ACK", "seq"), duplicates: buf.readUInt32BE(start + 8) };
      case FrameType.Ping:
        return { type: "ping", nonce: readU64(buf, start, "PING", "nonce") };
      case FrameType.Pong:
        return { type: "pong", nonce: readU64(buf, start, "PONG", "nonce") };
      case FrameType.Hello:
        return decodeHello(buf, start, end);
      case FrameType.Welcome:
        return decodeWelcome(buf, start, end);
      case FrameType.Error:
        return decodeError(buf, start, end);
      case FrameType.Goodbye:
        return { type: "goodbye" };
      default:
        return fail(`unknown frame type 0x${type.toString(16).padStart(2, "0")}`);
    }
  }
}

function decodeHello(buf: Buffer, start: number, end: number): HelloFrame {
  if (!isMagic(buf, start)) malformed("HELLO", 'magic is not "OUTL": the peer does not speak the outlast protocol');
  const idLen = buf.readUInt16BE(start + 16);
  const idEnd = start + 18 + idLen;
  if (idEnd + 4 > end) malformed("HELLO", `clientId length ${idLen} runs past the end of the frame`);
  const tokenLen = buf.readUInt32BE(idEnd);
  if (idEnd + 4 + tokenLen !== end) {
    malformed("HELLO", `body is ${end - start} bytes but its fields make ${idEnd + 4 + tokenLen - start}`);
  }
  const hello: HelloFrame = {
    type: "hello",
    minVersion: buf.readUInt16BE(start + 4),
    maxVersion: buf.readUInt16BE(start + 6),
    heartbeatIntervalMs: buf.readUInt32BE(start + 8),
    maxFrameBytes: buf.readUInt32BE(start + 12),
    clientId: readUtf8(buf, start + 18, idEnd, "HELLO", "clientId"),
    // A copy: the token may be kept by `authenticate`.
    token: new Uint8Array(buf.subarray(idEnd + 4, end)),
  };
  const problem = validateHello(hello);
  if (problem !== undefined) fail(`malformed ${problem.message}`, "HELLO");
  return hello;
}

function decodeWelcome(buf: Buffer, start: number, end: number): Frame {
  const version = buf.readUInt16BE(start);
  const idLen = buf.readUInt16BE(start + 14);
  // Version 2 and later add beatMs and idleMs after clientId (docs/protocol.md, WELCOME).
  const fields = WELCOME_FIXED_BYTES + idLen + (version >= 2 ? WELCOME_V2_BYTES : 0);
  if (start + fields !== end) {
    malformed("WELCOME", `body is ${end - start} bytes but its fields make ${fields} (version ${version})`);
  }
  const idEnd = start + WELCOME_FIXED_BYTES + idLen;
  const base = {
    type: "welcome",
    version,
    lastSeq: readU64(buf, start + 2, "WELCOME", "lastSeq"),
    maxFrameBytes: buf.readUInt32BE(start + 10),
    clientId: readUtf8(buf, start + WELCOME_FIXED_BYTES, idEnd, "WELCOME", "clientId"),
  } as const;
  const welcome: WelcomeFrame =
    version >= 2 ? { ...base, beatMs: buf.readUInt32BE(idEnd), idleMs: buf.readUInt32BE(idEnd + 4) } : base;
  const problem = checkWelcome({ minVersion: 1, maxVersion: 0xffff }, welcome);
  if (problem !== undefined) fail(`malformed ${problem.message}`, "WELCOME");
  return welcome;
}

function decodeError(buf: Buffer, start: number, end: number): Frame {
  const retryAfterMs = buf.readUInt32BE(start);
  const codeLen = buf[start + 4]!;
  const codeEnd = start + 5 + codeLen;
  if (codeLen === 0 || codeLen > MAX_ERROR_CODE_BYTES || codeEnd + 2 > end) {
    malformed("ERROR", `code length ${codeLen} is not 1..${MAX_ERROR_CODE_BYTES} within the frame`);
  }
  const code = buf.toString("latin1", start + 5, codeEnd);
  if (!ERROR_CODE_PATTERN.test(code)) malformed("ERROR", "code is not [A-Z][A-Z0-9_]*");
  const msgLen = buf.readUInt16BE(codeEnd);
  if (msgLen > MAX_ERROR_MESSAGE_BYTES || codeEnd + 2 + msgLen !== end) {
    malformed("ERROR", `message length ${msgLen} does not match the frame (at most ${MAX_ERROR_MESSAGE_BYTES})`);
  }
  const message = readUtf8(buf, codeEnd + 2, end, "ERROR", "message");
  return { type: "error", code, message, retryAfterMs };
}
