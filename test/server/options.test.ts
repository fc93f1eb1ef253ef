import assert from "node:assert/strict";
import { test } from "node:test";
import { createServer } from "../../src/server/index.js";
import type { ServerOptions } from "../../src/server/index.js";

const ok = { onMessage: () => {} };

const bad: [string, unknown][] = [
  ["onMessage", { onMessage: "nope" }],
  ["maxFrameBytes", { ...ok, maxFrameBytes: 100 }],
  ["maxFrameBytes", { ...ok, maxFrameBytes: 2 ** 32 }],
  ["maxFrameBytes", { ...ok, maxFrameBytes: 1.5 }],
  ["handshakeTimeoutMs", { ...ok, handshakeTimeoutMs: 0 }],
  ["idleTimeoutMs", { ...ok, idleTimeoutMs: -1 }],
  ["idleTimeoutMs", { ...ok, idleTimeoutMs: "30s" }],
  ["maxConnections", { ...ok, maxConnections: NaN }],
  ["maxHandlerAttempts", { ...ok, maxHandlerAttempts: 0, onDeadLetter: () => {} }],
  ["onDeadLetter", { ...ok, maxHandlerAttempts: 3 }],
  ["onDeadLetter", { ...ok, onDeadLetter: 5 }],
  ["authenticate", { ...ok, authenticate: {} }],
  ["state", { ...ok, state: "" }],
  ["tls", { ...ok, tls: "cert.pem" }],
  ["clock", { ...ok, clock: { now: () => 0 } }],
];

for (const [option, options] of bad) {
  test(`createServer rejects a bad ${option} with OUTLAST_INVALID_OPTION naming it (${JSON.stringify(options, (_k, v: unknown) => (typeof v === "function" ? "fn" : v))})`, () => {
    assert.throws(
      () => createServer(options as ServerOptions),
      (err: Error & { code?: string; details?: { option?: string } }) => {
        assert.equal(err.code, "OUTLAST_INVALID_OPTION");
        assert.equal(err.details?.option, option);
        assert.match(err.message, new RegExp(option));
        return true;
      },
    );
  });
}

test("valid options with every limit set are accepted", async () => {
  const server = createServer({
    ...ok,
    maxFrameBytes: 4096,
    handshakeTimeoutMs: 1,
    idleTimeoutMs: 1,
    maxConnections: 1,
    maxHandlerAttempts: Infinity,
    authenticate: () => "x",
  });
  assert.equal(server.stats().connections, 0);
  await server.close();
});
