import assert from "node:assert/strict";
import { test } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { helloBody, rawFrame, u64 } from "./sample-frames.js";

/** Pushes `bytes` whole and byte by byte; both must throw OUTLAST_PROTOCOL_ERROR matching `pattern`. */
function rejects(bytes: Buffer, pattern: RegExp, maxFrameBytes = 1024 * 1024): void {
  for (const split of [false, true]) {
    const d = new FrameDecoder({ maxFrameBytes });
    let thrown: unknown;
    try {
      if (split) for (let i = 0; i < bytes.length; i++) d.push(bytes.subarray(i, i + 1));
      else d.push(bytes);
    } catch (err) {
      thrown = err;
    }
    assert.ok(
      isOutlastError(thrown, "OUTLAST_PROTOCOL_ERROR"),
      `expected OUTLAST_PROTOCOL_ERROR (split=${split}), got ${String(thrown)}`,
    );
    assert.match((thrown as Error).message, pattern);
    assert.equal(d.failed, true);
    // Unusable afterwards, even on valid input.
    assert.throws(() => d.push(encodeFrame({ type: "goodbye" })), {
      code: "OUTLAST_PROTOCOL_ERROR",
      message: /unusable/,
    });
  }
}

test("unknown frame types are rejected", () => {
  rejects(rawFrame(0x09, []), /unknown frame type 0x09/);
  rejects(rawFrame(0x00, []), /unknown frame type 0x00/);
  rejects(rawFrame(0xff, [1, 2, 3]), /unknown frame type 0xff/);
});

test("a length above maxFrameBytes is rejected as soon as the 4 length bytes arrive", () => {
  const d = new FrameDecoder({ maxFrameBytes: 4096 });
  assert.deepStrictEqual(d.push(Buffer.from([0, 0, 0x10])), []);
  assert.throws(() => d.push(Buffer.from([0x01])), {
    code: "OUTLAST_PROTOCOL_ERROR",
    message: /frame length 4097 exceeds maxFrameBytes 4096/,
  });
  assert.equal(d.bufferedBytes, 0);
  rejects(rawFrame(0x03, [], 0xffff_ffff), /exceeds maxFrameBytes/);
});

test("an HTTP request is rejected at once (its first bytes read as a huge length)", () => {
  rejects(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), /frame length 1195725856 exceeds maxFrameBytes/);
});

test("a zero length is rejected", () => {
  rejects(Buffer.from([0, 0, 0, 0]), /frame length 0/);
});

test("truncated bodies are rejected", () => {
  rejects(rawFrame(0x04, u64(0, 1)), /malformed ACK frame: body is 8 bytes, must be exactly 12/);
  rejects(rawFrame(0x05, [0, 0, 0]), /malformed PING frame: body is 3 bytes, must be exactly 8/);
  rejects(rawFrame(0x03, [0, 0, 0, 0, 0, 0, 1]), /malformed MESSAGE frame: body is 7 bytes/);
  rejects(rawFrame(0x01, helloBody({ idLength: 40 })), /malformed HELLO frame: clientId length 40 runs past/);
  rejects(rawFrame(0x01, helloBody({ token: Buffer.alloc(3) }).subarray(0, -1)), /malformed HELLO frame: body is/);
  rejects(
    rawFrame(0x02, [0, 1, ...u64(0, 0), 0, 0, 0x10, 0, 0, 5, 0x61, 0x62]),
    /malformed WELCOME frame: body is 18 bytes but its fields make 21 \(version 1\)/,
  );
  rejects(rawFrame(0x07, [0, 0, 0, 0, 9, 0x41, 0x42, 0, 0]), /malformed ERROR frame: code length 9/);
});

test("a stream that ends inside a frame is reported by end()", () => {
  const bytes = encodeFrame({ type: "message", seq: 1, data: new Uint8Array(10) });
  const d = new FrameDecoder({ maxFrameBytes: 4096 });
  d.push(bytes.subarray(0, 12));
  assert.throws(() => d.end(), {
    code: "OUTLAST_PROTOCOL_ERROR",
    message: /stream ended inside a MESSAGE frame \(7 of 18 body bytes\)/,
  });
  const h = new FrameDecoder({ maxFrameBytes: 4096 });
  h.push(bytes.subarray(0, 2));
  assert.throws(() => h.end(), { message: /inside a frame header \(2 of 5 bytes\)/ });
  const ok = new FrameDecoder({ maxFrameBytes: 4096 });
  ok.push(bytes);
  ok.end();
});

test("trailing bytes in fixed-size frames are rejected", () => {
  rejects(rawFrame(0x08, [0]), /malformed GOODBYE frame: body is 1 bytes, must be exactly 0/);
  rejects(rawFrame(0x05, [...u64(0, 1), 0]), /malformed PING frame: body is 9 bytes, must be exactly 8/);
  rejects(rawFrame(0x06, [...u64(0, 1), 0]), /malformed PONG frame/);
  rejects(rawFrame(0x04, [...u64(0, 1), 0, 0, 0, 0, 0]), /malformed ACK frame: body is 13 bytes/);
});

test("trailing bytes in variable-size frames are rejected", () => {
  rejects(
    rawFrame(0x01, helloBody({ trailing: Buffer.from([0]) })),
    /malformed HELLO frame: body is 25 bytes but its fields make 24/,
  );
  rejects(rawFrame(0x02, [0, 1, ...u64(0, 0), 0, 0, 0x10, 0, 0, 1, 0x61, 0x62]), /malformed WELCOME frame/);
  // A version 1 WELCOME carrying v2's beatMs and idleMs has 8 bytes too many; a version 2 one without them, 8 too few.
  rejects(
    rawFrame(0x02, [0, 1, ...u64(0, 0), 0, 0, 0x10, 0, 0, 1, 0x61, 0, 0, 0x17, 0x70, 0, 0, 0x75, 0x30]),
    /malformed WELCOME frame: body is 25 bytes but its fields make 17 \(version 1\)/,
  );
  rejects(
    rawFrame(0x02, [0, 2, ...u64(0, 0), 0, 0, 0x10, 0, 0, 1, 0x61]),
    /malformed WELCOME frame: body is 17 bytes but its fields make 25 \(version 2\)/,
  );
  rejects(
    rawFrame(0x07, [0, 0, 0, 0, 1, 0x41, 0, 1, 0x61, 0x62]),
    /malformed ERROR frame: message length 1 does not match/,
  );
});

test("u64 fields above 2^53-1 are rejected", () => {
  rejects(rawFrame(0x03, [...u64(0x20_0000, 0), 1]), /malformed MESSAGE frame: seq is above 2\^53-1/);
  rejects(rawFrame(0x04, [...u64(0xffff_ffff, 0xffff_ffff), 0, 0, 0, 0]), /malformed ACK frame: seq is above/);
  rejects(rawFrame(0x05, u64(0x20_0000, 0)), /malformed PING frame: nonce is above/);
  rejects(rawFrame(0x06, u64(0x80_0000, 5)), /malformed PONG frame: nonce is above/);
  rejects(
    rawFrame(0x02, [0, 1, ...u64(0x20_0000, 0), 0, 0, 0x10, 0, 0, 1, 0x61]),
    /malformed WELCOME frame: lastSeq is above/,
  );
  // 2^53-1 itself is fine.
  const [f] = new FrameDecoder({ maxFrameBytes: 4096 }).push(rawFrame(0x05, u64(0x1f_ffff, 0xffff_ffff)));
  assert.deepStrictEqual(f, { type: "ping", nonce: Number.MAX_SAFE_INTEGER });
});

test("MESSAGE seq 0 is rejected", () => {
  rejects(rawFrame(0x03, u64(0, 0)), /malformed MESSAGE frame: seq is 0/);
});

test("bad UTF-8 is rejected", () => {
  rejects(
    rawFrame(0x01, helloBody({ clientId: Buffer.from([0x61, 0xff]) })),
    /malformed HELLO frame: clientId is not valid UTF-8/,
  );
  rejects(rawFrame(0x01, helloBody({ clientId: Buffer.from([0xed, 0xa0, 0x80]) })), /clientId is not valid UTF-8/); // encoded surrogate
  rejects(
    rawFrame(0x02, [0, 1, ...u64(0, 0), 0, 0, 0x10, 0, 0, 1, 0xc3]),
    /malformed WELCOME frame: clientId is not valid UTF-8/,
  );
  rejects(rawFrame(0x07, [0, 0, 0, 0, 1, 0x41, 0, 1, 0x80]), /malformed ERROR frame: message is not valid UTF-8/);
});

test("bad magic is rejected", () => {
  rejects(rawFrame(0x01, helloBody({ magic: "MQTT" })), /malformed HELLO frame: magic is not "OUTL"/);
  rejects(rawFrame(0x01, helloBody({ magic: "outl" })), /magic is not "OUTL"/);
});

test("invalid HELLO field values are rejected", () => {
  rejects(
    rawFrame(0x01, helloBody({ clientId: Buffer.alloc(0) })),
    /malformed HELLO frame: body is 22 bytes, must be 23\.\.65814/,
  );
  rejects(
    rawFrame(0x01, helloBody({ clientId: Buffer.alloc(0), token: Buffer.alloc(1) })),
    /malformed HELLO: clientId is empty/,
  );
  rejects(rawFrame(0x01, helloBody({ clientId: Buffer.from("a\nb") })), /control character/);
  rejects(rawFrame(0x01, helloBody({ clientId: Buffer.from("a\u0085") })), /control character/);
  rejects(rawFrame(0x01, helloBody({ clientId: Buffer.alloc(257, 0x61) })), /clientId is 257 bytes/);
  rejects(rawFrame(0x01, helloBody({ minVersion: 0 })), /minVersion 0/);
  rejects(rawFrame(0x01, helloBody({ minVersion: 3, maxVersion: 2 })), /maxVersion 2 is not in \[minVersion 3/);
  rejects(rawFrame(0x01, helloBody({ maxFrameBytes: 4095 })), /maxFrameBytes 4095/);
  rejects(
    rawFrame(0x01, helloBody({ token: Buffer.alloc(65537) })),
    /malformed HELLO: token is 65537 bytes; at most 65536/,
  );
  rejects(
    rawFrame(0x01, helloBody({ clientId: Buffer.alloc(256, 0x61), token: Buffer.alloc(65537) })),
    /malformed HELLO frame: body is 65815 bytes, must be 23\.\.65814/,
  );
});

test("invalid ERROR codes are rejected", () => {
  rejects(rawFrame(0x07, [0, 0, 0, 0, 1, 0x61, 0, 0]), /malformed ERROR frame: code is not/);
  rejects(rawFrame(0x07, [0, 0, 0, 0, 0, 0, 0, 0]), /code length 0/);
});
