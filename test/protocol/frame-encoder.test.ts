import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeFrame, encodeMessageHeader } from "../../src/protocol/frame-encoder.js";
import type { Frame } from "../../src/protocol/frames.js";

const bad: [Frame, RegExp][] = [
  [{ type: "message", seq: 0, data: new Uint8Array(1) }, /cannot encode MESSAGE frame: seq 0/],
  [{ type: "message", seq: 2 ** 53, data: new Uint8Array(1) }, /seq 9007199254740992/],
  [{ type: "message", seq: 1.5, data: new Uint8Array(1) }, /seq 1.5/],
  [{ type: "message", seq: 1, data: "x" as unknown as Uint8Array }, /data must be a Uint8Array/],
  [{ type: "ack", seq: -1, duplicates: 0 }, /cannot encode ACK frame: seq -1/],
  [{ type: "ack", seq: 1, duplicates: 2 ** 32 }, /duplicates 4294967296/],
  [{ type: "ping", nonce: Number.NaN }, /cannot encode PING frame: nonce NaN/],
  [{ type: "pong", nonce: 2 ** 60 }, /cannot encode PONG frame/],
  [{ type: "error", code: "bad", message: "", retryAfterMs: 0 }, /cannot encode ERROR frame: code "bad"/],
  [{ type: "error", code: "A".repeat(65), message: "", retryAfterMs: 0 }, /code/],
  [{ type: "error", code: "X", message: "é".repeat(513), retryAfterMs: 0 }, /message is 1026 bytes; at most 1024/],
  [{ type: "error", code: "X", message: "\uDC00", retryAfterMs: 0 }, /lone surrogate/],
  [{ type: "error", code: "X", message: "", retryAfterMs: -5 }, /retryAfterMs -5/],
  [
    {
      type: "hello",
      minVersion: 1,
      maxVersion: 1,
      clientId: "",
      token: new Uint8Array(0),
      heartbeatIntervalMs: 0,
      maxFrameBytes: 4096,
    },
    /cannot encode HELLO frame: HELLO: clientId is empty/,
  ],
  [{ type: "welcome", version: 0, clientId: "c", lastSeq: 0, maxFrameBytes: 4096 }, /cannot encode WELCOME frame/],
  [{ type: "welcome", version: 1, clientId: "c", lastSeq: 2 ** 53, maxFrameBytes: 4096 }, /lastSeq/],
  [{ type: "nope" } as unknown as Frame, /cannot encode unknown frame: type "nope"/],
];

test("the encoder refuses values the wire cannot carry, with OUTLAST_PROTOCOL_ERROR", () => {
  for (const [frame, message] of bad) {
    assert.throws(
      () => encodeFrame(frame),
      { name: "OutlastError", code: "OUTLAST_PROTOCOL_ERROR", message },
      JSON.stringify(frame.type),
    );
  }
});

test("encodeMessageHeader validates seq and length", () => {
  assert.throws(() => encodeMessageHeader(0, 1), { code: "OUTLAST_PROTOCOL_ERROR" });
  assert.throws(() => encodeMessageHeader(1, -1), { code: "OUTLAST_PROTOCOL_ERROR", message: /data length -1/ });
  assert.throws(() => encodeMessageHeader(1, 2 ** 32), { code: "OUTLAST_PROTOCOL_ERROR" });
  assert.equal(encodeMessageHeader(1, 2 ** 32 - 10).readUInt32BE(0), 2 ** 32 - 1);
});
