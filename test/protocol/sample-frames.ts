/** Frames and byte helpers shared by the protocol tests. */

import type { Frame } from "../../src/protocol/frames.js";

export const SAMPLE_FRAMES: readonly Frame[] = [
  {
    type: "hello",
    minVersion: 1,
    maxVersion: 3,
    clientId: "sensor-42 ü 🙂",
    token: new Uint8Array([1, 2, 3, 0, 255]),
    heartbeatIntervalMs: 2000,
    maxFrameBytes: 1024 * 1024,
  },
  {
    type: "hello",
    minVersion: 1,
    maxVersion: 1,
    clientId: "x",
    token: new Uint8Array(0),
    heartbeatIntervalMs: 0,
    maxFrameBytes: 4096,
  },
  { type: "welcome", version: 1, clientId: "sensor-42", lastSeq: Number.MAX_SAFE_INTEGER, maxFrameBytes: 0xffff_ffff },
  { type: "welcome", version: 1, clientId: "é", lastSeq: 0, maxFrameBytes: 4096 },
  { type: "welcome", version: 2, clientId: "v2", lastSeq: 7, maxFrameBytes: 4096, beatMs: 6000, idleMs: 30_000 },
  {
    type: "welcome",
    version: 2,
    clientId: "no-beats",
    lastSeq: 0,
    maxFrameBytes: 4096,
    beatMs: 0,
    idleMs: 0xffff_ffff,
  },
  { type: "message", seq: 1, data: new Uint8Array(0) },
  { type: "message", seq: 2 ** 32 + 7, data: new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) },
  { type: "message", seq: Number.MAX_SAFE_INTEGER, data: new Uint8Array(300).fill(0xab) },
  { type: "ack", seq: 0, duplicates: 0 },
  { type: "ack", seq: 123_456_789_012, duplicates: 0xffff_ffff },
  { type: "ping", nonce: 0 },
  { type: "ping", nonce: Number.MAX_SAFE_INTEGER },
  { type: "pong", nonce: 99 },
  { type: "error", code: "OUTLAST_HANDLER_FAILED", message: "handler threw: boom ✗", retryAfterMs: 1500 },
  { type: "error", code: "X", message: "", retryAfterMs: 0 },
  { type: "goodbye" },
];

/** Makes decoded and original frames comparable with deepStrictEqual (Buffer views -> plain Uint8Array). */
export function normalize(frame: Frame): Frame {
  if (frame.type === "message") return { ...frame, data: Uint8Array.from(frame.data) };
  if (frame.type === "hello") return { ...frame, token: Uint8Array.from(frame.token) };
  return { ...frame };
}

/** A frame with a correct length prefix (or `length`), type byte and raw body. */
export function rawFrame(type: number, body: ArrayLike<number>, length = body.length + 1): Buffer {
  const buf = Buffer.alloc(5 + body.length);
  buf.writeUInt32BE(length, 0);
  buf[4] = type;
  buf.set(Array.from(body), 5);
  return buf;
}

/** A u64 as 8 big-endian bytes from a high and a low 32-bit word. */
export function u64(hi: number, lo: number): number[] {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(hi, 0);
  b.writeUInt32BE(lo, 4);
  return [...b];
}

/** A HELLO body from parts, so single fields can be broken. */
export function helloBody(parts: {
  magic?: string;
  minVersion?: number;
  maxVersion?: number;
  heartbeatIntervalMs?: number;
  maxFrameBytes?: number;
  clientId?: Buffer;
  idLength?: number;
  token?: Buffer;
  trailing?: Buffer;
}): Buffer {
  const id = parts.clientId ?? Buffer.from("c1");
  const token = parts.token ?? Buffer.alloc(0);
  const fixed = Buffer.alloc(18);
  fixed.write(parts.magic ?? "OUTL", 0, "latin1");
  fixed.writeUInt16BE(parts.minVersion ?? 1, 4);
  fixed.writeUInt16BE(parts.maxVersion ?? 1, 6);
  fixed.writeUInt32BE(parts.heartbeatIntervalMs ?? 2000, 8);
  fixed.writeUInt32BE(parts.maxFrameBytes ?? 65536, 12);
  fixed.writeUInt16BE(parts.idLength ?? id.length, 16);
  const tokenLen = Buffer.alloc(4);
  tokenLen.writeUInt32BE(token.length, 0);
  return Buffer.concat([fixed, id, tokenLen, token, parts.trailing ?? Buffer.alloc(0)]);
}
