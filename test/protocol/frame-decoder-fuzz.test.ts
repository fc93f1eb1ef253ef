import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { OutlastError, isOutlastError } from "../../src/errors/outlast-error.js";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import type { Frame } from "../../src/protocol/frames.js";
import { clientIdProblem } from "../../src/protocol/handshake.js";
import { MAX_U32 } from "../../src/protocol/limits.js";
import { normalize, rawFrame } from "./sample-frames.js";

const clientId = fc
  .string({ unit: "binary", minLength: 1, maxLength: 70 })
  .filter((s) => clientIdProblem(s) === undefined);
const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const u64 = fc.maxSafeNat();
const u32 = fc.integer({ min: 0, max: MAX_U32 });

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .record({
      a: fc.integer({ min: 1, max: 0xffff }),
      b: fc.integer({ min: 1, max: 0xffff }),
      clientId,
      token: fc.uint8Array({ maxLength: 64 }),
      heartbeatIntervalMs: u32,
      maxFrameBytes: fc.integer({ min: 4096, max: MAX_U32 }),
    })
    .map(({ a, b, ...rest }): Frame => ({
      type: "hello",
      minVersion: Math.min(a, b),
      maxVersion: Math.max(a, b),
      ...rest,
    })),
  fc.record({
    type: fc.constant("welcome" as const),
    version: fc.constant(1),
    clientId,
    lastSeq: u64,
    maxFrameBytes: fc.integer({ min: 4096, max: MAX_U32 }),
  }),
  // Version 2 and later: beatMs and idleMs follow clientId.
  fc.record({
    type: fc.constant("welcome" as const),
    version: fc.integer({ min: 2, max: 0xffff }),
    clientId,
    lastSeq: u64,
    maxFrameBytes: fc.integer({ min: 4096, max: MAX_U32 }),
    beatMs: u32,
    idleMs: u32,
  }),
  fc.record({ type: fc.constant("message" as const), seq, data: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ type: fc.constant("ack" as const), seq: u64, duplicates: u32 }),
  fc.record({ type: fc.constant("ping" as const), nonce: u64 }),
  fc.record({ type: fc.constant("pong" as const), nonce: u64 }),
  fc.record({
    type: fc.constant("error" as const),
    code: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,63}$/),
    message: fc.string({ unit: "binary", maxLength: 300 }).filter((s) => Buffer.byteLength(s) <= 1024),
    retryAfterMs: u32,
  }),
  fc.constant<Frame>({ type: "goodbye" }),
);

/** Splits `bytes` at the given positions (any numbers; taken modulo the length). */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

test("property: arbitrary frames in arbitrary chunkings round-trip", () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f)));
      const d = new FrameDecoder({ maxFrameBytes: 1024 * 1024 });
      const got: Frame[] = [];
      for (const c of chunk(bytes, cuts)) got.push(...d.push(c));
      assert.deepStrictEqual(got.map(normalize), frames.map(normalize));
      assert.equal(d.bufferedBytes, 0);
    }),
    { numRuns: 500 },
  );
});

/** Random bytes, valid frames, valid frames with a flipped byte, and well-framed random bodies of any type. */
const hostileBytes: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      frameArb.map((f) => encodeFrame(f)),
      fc.tuple(frameArb, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([f, at, x]) => {
        const b = encodeFrame(f);
        b[at % b.length]! ^= x;
        return b;
      }),
      fc.tuple(fc.integer({ min: 0, max: 10 }), fc.uint8Array({ maxLength: 40 })).map(([t, body]) => rawFrame(t, body)),
    ),
    { maxLength: 12 },
  )
  .map((parts) => Buffer.concat(parts));

test("fuzz: any bytes in any chunks give frames or OUTLAST_PROTOCOL_ERROR, with bounded memory", () => {
  fc.assert(
    fc.property(
      hostileBytes,
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.integer({ min: 1, max: 5000 }),
      (bytes, cuts, maxFrameBytes) => {
        const d = new FrameDecoder({ maxFrameBytes });
        for (const c of chunk(bytes, cuts)) {
          try {
            for (const f of d.push(c)) assert.ok(typeof f.type === "string");
          } catch (err) {
            assert.ok(err instanceof OutlastError, `not an OutlastError: ${String(err)}`);
            assert.ok(isOutlastError(err, "OUTLAST_PROTOCOL_ERROR"), `wrong code: ${String(err)}`);
            assert.equal(d.failed, true);
            return;
          }
          assert.ok(d.bufferedBytes <= maxFrameBytes + 5, `buffered ${d.bufferedBytes} > ${maxFrameBytes} + 5`);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test("fuzz: a hostile stream of large partial frames never holds more than maxFrameBytes + 5", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 9, max: 200_000 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 10 }),
      (length, sizes) => {
        const maxFrameBytes = 100_000;
        const d = new FrameDecoder({ maxFrameBytes });
        const header = Buffer.alloc(13);
        header.writeUInt32BE(length, 0);
        header[4] = 0x03;
        header.writeUInt32BE(1, 9);
        try {
          d.push(header);
          for (const n of sizes) {
            d.push(Buffer.alloc(n));
            assert.ok(d.bufferedBytes <= maxFrameBytes + 5);
          }
        } catch (err) {
          assert.ok(isOutlastError(err, "OUTLAST_PROTOCOL_ERROR"));
          assert.ok(length > maxFrameBytes || sizes.reduce((a, b) => a + b, 0) > length - 9);
        }
      },
    ),
    { numRuns: 300 },
  );
});
