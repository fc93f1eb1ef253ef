import assert from "node:assert/strict";
import { test } from "node:test";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame, encodeMessageHeader, writeMessageHeader } from "../../src/protocol/frame-encoder.js";
import type { Frame } from "../../src/protocol/frames.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../../src/protocol/frames.js";
import { MESSAGE_HEADER_BYTES } from "../../src/protocol/limits.js";
import { SAMPLE_FRAMES, normalize } from "./sample-frames.js";

const decoder = (): FrameDecoder => new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });

test("every frame type round-trips through encodeFrame and FrameDecoder", () => {
  const seen = new Set<string>();
  for (const frame of SAMPLE_FRAMES) {
    const bytes = encodeFrame(frame);
    assert.equal(bytes.readUInt32BE(0), bytes.length - 4, `${frame.type}: length field`);
    const frames = decoder().push(bytes);
    assert.equal(frames.length, 1);
    assert.deepStrictEqual(normalize(frames[0]!), normalize(frame));
    seen.add(frame.type);
  }
  assert.deepStrictEqual([...seen].sort(), ["ack", "error", "goodbye", "hello", "message", "ping", "pong", "welcome"]);
});

test("exact wire bytes of fixed frames match docs/protocol.md", () => {
  assert.deepStrictEqual([...encodeFrame({ type: "goodbye" })], [0, 0, 0, 1, 0x08]);
  assert.deepStrictEqual(
    [...encodeFrame({ type: "ping", nonce: 2 ** 32 + 1 })],
    [0, 0, 0, 9, 0x05, 0, 0, 0, 1, 0, 0, 0, 1],
  );
  assert.deepStrictEqual(
    [...encodeFrame({ type: "ack", seq: 5, duplicates: 2 })],
    [0, 0, 0, 13, 0x04, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2],
  );
  assert.deepStrictEqual(
    [...encodeFrame({ type: "message", seq: 1, data: new Uint8Array([0xaa]) })],
    [0, 0, 0, 10, 0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa],
  );
  assert.deepStrictEqual(
    [...encodeFrame({ type: "error", code: "AB", message: "hi", retryAfterMs: 7 })],
    [0, 0, 0, 12, 0x07, 0, 0, 0, 7, 2, 0x41, 0x42, 0, 2, 0x68, 0x69],
  );
  assert.deepStrictEqual(
    [...encodeFrame({ type: "welcome", version: 1, clientId: "c", lastSeq: 3, maxFrameBytes: 4096 })],
    [0, 0, 0, 18, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0x10, 0, 0, 1, 0x63],
  );
  // Version 2: the same fields, then beatMs u32 and idleMs u32.
  assert.deepStrictEqual(
    [
      ...encodeFrame({
        type: "welcome",
        version: 2,
        clientId: "c",
        lastSeq: 3,
        maxFrameBytes: 4096,
        beatMs: 6000,
        idleMs: 30_000,
      }),
    ],
    [0, 0, 0, 26, 0x02, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0x10, 0, 0, 1, 0x63, 0, 0, 0x17, 0x70, 0, 0, 0x75, 0x30],
  );
  const hello = encodeFrame({
    type: "hello",
    minVersion: 1,
    maxVersion: 2,
    clientId: "c",
    token: new Uint8Array([9]),
    heartbeatIntervalMs: 2000,
    maxFrameBytes: 4096,
  });
  assert.deepStrictEqual(
    [...hello],
    [0, 0, 0, 25, 0x01, 0x4f, 0x55, 0x54, 0x4c, 0, 1, 0, 2, 0, 0, 0x07, 0xd0, 0, 0, 0x10, 0, 0, 1, 0x63, 0, 0, 0, 1, 9],
  );
});

const ALL = Buffer.concat(SAMPLE_FRAMES.map((f) => encodeFrame(f)));
const EXPECTED = SAMPLE_FRAMES.map(normalize);

test("many frames in one chunk decode in order", () => {
  assert.deepStrictEqual(decoder().push(ALL).map(normalize), EXPECTED);
});

test("a stream split at every byte offset decodes the same frames", () => {
  for (let i = 0; i <= ALL.length; i++) {
    const d = decoder();
    const got = [...d.push(ALL.subarray(0, i)), ...d.push(ALL.subarray(i))];
    assert.deepStrictEqual(got.map(normalize), EXPECTED, `split at ${i}`);
    assert.equal(d.bufferedBytes, 0);
    d.end();
  }
});

test("one byte per chunk decodes the same frames", () => {
  const d = decoder();
  const got: Frame[] = [];
  for (let i = 0; i < ALL.length; i++) got.push(...d.push(ALL.subarray(i, i + 1)));
  assert.deepStrictEqual(got.map(normalize), EXPECTED);
});

test("a plain Uint8Array chunk (not a Buffer) decodes", () => {
  const bytes = new Uint8Array(ALL.length + 3);
  bytes.set(ALL, 3);
  const got = decoder().push(bytes.subarray(3));
  assert.deepStrictEqual(got.map(normalize), EXPECTED);
});

test("MESSAGE data is a view into the chunk by default, a copy with copyMessageData", () => {
  const chunk = encodeFrame({ type: "message", seq: 9, data: new Uint8Array([1, 2, 3]) });
  const [view] = decoder().push(chunk);
  const [copy] = new FrameDecoder({ maxFrameBytes: 4096, copyMessageData: true }).push(chunk);
  assert.ok(view?.type === "message" && copy?.type === "message");
  chunk[13] = 99; // first data byte
  assert.deepStrictEqual([...view.data], [99, 2, 3]);
  assert.deepStrictEqual([...copy.data], [1, 2, 3]);
});

test("a reassembled MESSAGE does not alias a later chunk", () => {
  const bytes = encodeFrame({ type: "message", seq: 1, data: new Uint8Array(100).fill(7) });
  const d = decoder();
  const a = Buffer.from(bytes.subarray(0, 50));
  const b = Buffer.from(bytes.subarray(50));
  assert.deepStrictEqual(d.push(a), []);
  const [m] = d.push(b);
  a.fill(0);
  b.fill(0);
  assert.ok(m?.type === "message");
  assert.ok(m.data.every((x) => x === 7));
});

test("encodeMessageHeader + data equals encodeFrame(message)", () => {
  const data = new Uint8Array([5, 6, 7, 8]);
  const whole = encodeFrame({ type: "message", seq: 77, data });
  assert.deepStrictEqual(Buffer.concat([encodeMessageHeader(77, data.length), data]), whole);
  const target = Buffer.alloc(2 + MESSAGE_HEADER_BYTES);
  assert.equal(writeMessageHeader(target, 2, 77, data.length), 2 + MESSAGE_HEADER_BYTES);
  assert.deepStrictEqual(target.subarray(2), whole.subarray(0, MESSAGE_HEADER_BYTES));
});

test("a partial frame holds only what arrived, not what its length announces", () => {
  const d = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
  const header = encodeMessageHeader(1, DEFAULT_MAX_FRAME_BYTES - 9);
  assert.deepStrictEqual(d.push(header), []);
  assert.ok(d.bufferedBytes <= 5 + 4096, `buffered ${d.bufferedBytes}`);
  const big = Buffer.alloc(DEFAULT_MAX_FRAME_BYTES - 9, 1);
  for (let off = 0; off < big.length; off += 65536) {
    d.push(big.subarray(off, off + 65536));
    assert.ok(d.bufferedBytes <= DEFAULT_MAX_FRAME_BYTES + 4);
  }
  assert.equal(d.bufferedBytes, 0);
});

test("a frame exactly maxFrameBytes long is accepted; one byte more is not", () => {
  const d = new FrameDecoder({ maxFrameBytes: 4096 });
  const [m] = d.push(encodeFrame({ type: "message", seq: 1, data: new Uint8Array(4096 - 9) }));
  assert.ok(m?.type === "message");
  assert.equal(m.data.length, 4087);
  assert.throws(() => d.push(encodeMessageHeader(2, 4096 - 8)), { code: "OUTLAST_PROTOCOL_ERROR" });
});

test("setMaxFrameBytes changes the limit for the next frame", () => {
  const d = new FrameDecoder({ maxFrameBytes: 100 });
  assert.throws(
    () => new FrameDecoder({ maxFrameBytes: 100 }).push(encodeMessageHeader(1, 200)),
    /exceeds maxFrameBytes 100/,
  );
  d.setMaxFrameBytes(4096);
  assert.equal(d.maxFrameBytes, 4096);
  assert.equal(d.push(encodeFrame({ type: "message", seq: 1, data: new Uint8Array(200) })).length, 1);
  assert.throws(() => d.setMaxFrameBytes(0), { code: "OUTLAST_INVALID_OPTION" });
  assert.throws(() => new FrameDecoder({ maxFrameBytes: 1.5 }), { code: "OUTLAST_INVALID_OPTION" });
});
