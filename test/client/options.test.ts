import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS, resolveOptions } from "../../src/client/options.js";
import { parseEndpoint, serverNameFor } from "../../src/client/url.js";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { MemoryOutbox } from "../../src/outbox/memory-outbox.js";

function rejectsOption(fn: () => unknown, option: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isOutlastError(err, "OUTLAST_INVALID_OPTION"), String(err));
    assert.equal(err.details["option"], option);
    assert.match(err.message, new RegExp(option.replace(".", "\\.")));
    return true;
  });
}

test("options: defaults are the documented ones", () => {
  const o = resolveOptions(undefined);
  assert.equal(o.connectTimeoutMs, 5000);
  assert.equal(o.heartbeatIntervalMs, 6000);
  assert.equal(o.heartbeatTimeoutMs, 10_000);
  assert.deepEqual(o.backoff, { baseMs: 50, capMs: 800, resetAfterMs: 5000 });
  assert.equal(o.maxInFlightMessages, 4096);
  assert.equal(o.maxInFlightBytes, 4 * 1024 * 1024);
  assert.equal(o.maxQueuedMessages, 100_000);
  assert.equal(o.maxQueuedBytes, 64 * 1024 * 1024);
  assert.equal(o.whenFull, "wait");
  assert.equal(o.maxFrameBytes, 1024 * 1024);
  assert.ok(o.outbox instanceof MemoryOutbox);
  assert.match(o.clientId, /^[0-9a-f-]{36}$/);
  assert.notEqual(resolveOptions({}).clientId, o.clientId, "a random clientId per client");
  assert.equal(o.token.length, 0);
  assert.equal(DEFAULTS.whenFull, "wait");
});

test("options: a token string is UTF-8; a heartbeat interval raises the default timeout", () => {
  const o = resolveOptions({ token: "sécret", heartbeatIntervalMs: 5000 });
  assert.deepEqual(Buffer.from(o.token), Buffer.from("sécret"));
  assert.equal(o.heartbeatTimeoutMs, 15000);
});

test("options: every invalid option throws OUTLAST_INVALID_OPTION naming it", () => {
  rejectsOption(() => resolveOptions({ connectTimeoutMs: 0 }), "connectTimeoutMs");
  rejectsOption(() => resolveOptions({ connectTimeoutMs: 1.5 }), "connectTimeoutMs");
  rejectsOption(() => resolveOptions({ heartbeatIntervalMs: -1 }), "heartbeatIntervalMs");
  rejectsOption(() => resolveOptions({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 1000 }), "heartbeatTimeoutMs");
  rejectsOption(() => resolveOptions({ backoff: { baseMs: -1 } }), "backoff.baseMs");
  rejectsOption(() => resolveOptions({ backoff: { baseMs: 100, capMs: 50 } }), "backoff.capMs");
  rejectsOption(() => resolveOptions({ backoff: { resetAfterMs: -5 } }), "backoff.resetAfterMs");
  rejectsOption(() => resolveOptions({ maxInFlightMessages: 0 }), "maxInFlightMessages");
  rejectsOption(() => resolveOptions({ maxInFlightBytes: Number.NaN }), "maxInFlightBytes");
  rejectsOption(() => resolveOptions({ maxQueuedMessages: 0 }), "maxQueuedMessages");
  rejectsOption(() => resolveOptions({ maxQueuedBytes: -1 }), "maxQueuedBytes");
  rejectsOption(() => resolveOptions({ whenFull: "drop" as never }), "whenFull");
  rejectsOption(() => resolveOptions({ maxFrameBytes: 10 }), "maxFrameBytes");
  rejectsOption(() => resolveOptions({ clientId: "" }), "clientId");
  rejectsOption(() => resolveOptions({ clientId: "a\nb" }), "clientId");
  rejectsOption(() => resolveOptions({ token: 42 as never }), "token");
  rejectsOption(() => resolveOptions({ token: new Uint8Array(70_000) }), "token");
  rejectsOption(() => resolveOptions({ outbox: {} as never }), "outbox");
  rejectsOption(() => resolveOptions({ tls: "yes" as never }), "tls");
  rejectsOption(() => resolveOptions({ clock: {} as never }), "clock");
  rejectsOption(() => resolveOptions({ random: 1 as never }), "random");
});

test("url: tcp, tls, IPv6 and the errors", () => {
  assert.deepEqual(parseEndpoint("tcp://example.com:7000"), {
    scheme: "tcp",
    transport: "outlast",
    secure: false,
    host: "example.com",
    port: 7000,
    href: "tcp://example.com:7000",
  });
  assert.equal(parseEndpoint("tls://127.0.0.1:443").secure, true);
  assert.equal(parseEndpoint("tcp://[::1]:9000").host, "::1");
  assert.equal(parseEndpoint(new URL("tls://h:1")).host, "h");
  rejectsOption(() => parseEndpoint("http://example.com:80"), "url");
  rejectsOption(() => parseEndpoint("tcp://example.com"), "url");
  rejectsOption(() => parseEndpoint("tcp://example.com:0"), "url");
  rejectsOption(() => parseEndpoint("tcp://example.com:1/path"), "url");
  rejectsOption(() => parseEndpoint("not a url"), "url");
  assert.equal(serverNameFor("example.com"), "example.com");
  assert.equal(serverNameFor("::1"), undefined);
  assert.equal(serverNameFor("10.0.0.1"), undefined);
});
