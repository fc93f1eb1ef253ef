import assert from "node:assert/strict";
import { test } from "node:test";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { errorFromFrame, makeErrorFrame, truncateUtf8 } from "../../src/protocol/error-frame.js";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import { clientFrameRule, serverFrameRule } from "../../src/protocol/frame-rules.js";

test("makeErrorFrame always encodes: long text is cut on a character boundary", () => {
  const frame = makeErrorFrame("OUTLAST_HANDLER_FAILED", "é".repeat(2000) + "\uD800", 12.7);
  assert.equal(frame.retryAfterMs, 13);
  assert.equal(Buffer.byteLength(frame.message), 1024);
  const [back] = new FrameDecoder({ maxFrameBytes: 4096 }).push(encodeFrame(frame));
  assert.deepStrictEqual(back, frame);
  assert.equal(truncateUtf8("ab🙂", 5), "ab");
  assert.equal(truncateUtf8("a\uD800", 10), "a\uFFFD");
  assert.equal(makeErrorFrame("OUTLAST_SERVER_BUSY", "x", -3).retryAfterMs, 0);
  assert.equal(makeErrorFrame("OUTLAST_SERVER_BUSY", "x", Infinity).retryAfterMs, 0);
});

test("errorFromFrame keeps a known code and maps an unknown one to OUTLAST_PROTOCOL_ERROR", () => {
  const known = errorFromFrame(
    { type: "error", code: "OUTLAST_AUTH_REJECTED", message: "bad\ntoken", retryAfterMs: 0 },
    "server",
  );
  assert.ok(isOutlastError(known, "OUTLAST_AUTH_REJECTED"));
  assert.equal(known.message, 'server sent ERROR OUTLAST_AUTH_REJECTED: "bad\\ntoken"');
  assert.deepEqual(known.details, {
    remoteCode: "OUTLAST_AUTH_REJECTED",
    remoteMessage: "bad\ntoken",
    retryAfterMs: 0,
  });
  const unknown = errorFromFrame(
    { type: "error", code: "OUTLAST_FROM_THE_FUTURE", message: "", retryAfterMs: 500 },
    "server",
  );
  assert.ok(isOutlastError(unknown, "OUTLAST_PROTOCOL_ERROR"));
  assert.deepEqual(unknown.details, { remoteCode: "OUTLAST_FROM_THE_FUTURE", remoteMessage: "", retryAfterMs: 500 });
  assert.match(unknown.message, /unknown code OUTLAST_FROM_THE_FUTURE: "" \(retry after 500 ms\)/);
});

test("frame rules follow the state tables of docs/protocol.md", () => {
  assert.equal(clientFrameRule("handshaking", "welcome"), "handle");
  assert.equal(clientFrameRule("handshaking", "ack"), "violation");
  assert.equal(clientFrameRule("open", "welcome"), "violation");
  assert.equal(clientFrameRule("open", "goodbye"), "close");
  assert.equal(clientFrameRule("draining", "ack"), "handle");
  assert.equal(serverFrameRule("awaiting-hello", "hello"), "handle");
  assert.equal(serverFrameRule("awaiting-hello", "message"), "violation");
  assert.equal(serverFrameRule("authenticating", "message"), "violation");
  assert.equal(serverFrameRule("open", "hello"), "violation");
  assert.equal(serverFrameRule("open", "message"), "handle");
  assert.equal(serverFrameRule("draining", "message"), "ignore");
  assert.equal(serverFrameRule("open", "ack"), "violation");
});

test("errorFromFrame maps a code no peer sends (the peer's own outbox trouble) to OUTLAST_PROTOCOL_ERROR", () => {
  const err = errorFromFrame(
    { type: "error", code: "OUTLAST_OUTBOX_LOCKED", message: "mine", retryAfterMs: 0 },
    "server",
  );
  assert.ok(isOutlastError(err, "OUTLAST_PROTOCOL_ERROR"));
  assert.deepEqual(err.details, { remoteCode: "OUTLAST_OUTBOX_LOCKED", remoteMessage: "mine", retryAfterMs: 0 });
});
