// Node's global fetch and undici (v7), made to fail for real on loopback;
// classify() must judge "fetch failed" and "terminated" by their cause.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { Agent, Client, fetch as undiciFetch, interceptors, request } from "undici";
import {
  assertShape,
  assertVerdict,
  causeOf,
  closedPort,
  listenHttp,
  listenTcp,
  rejectionOf,
  within,
  WAIT_MS,
} from "../helpers/library-errors.js";

/** An HTTP server whose routes fail in the ways a flaky network does. */
async function flakyHttp() {
  return listenHttp((req, res) => {
    switch (req.url) {
      case "/mid-body": // headers and part of the body, then FIN
        res.writeHead(200, { "content-length": "100" });
        res.write("abc", () => res.socket?.destroy());
        return;
      case "/stall-body": // headers and one byte, then silence
        res.writeHead(200, { "content-length": "10" });
        res.write("a");
        return;
      case "/500":
        res.writeHead(500);
        res.end("boom");
        return;
      default: // "/hang": never answers
        return;
    }
  });
}

test("fetch: connection refused is 'fetch failed' judged by its ECONNREFUSED cause", async () => {
  const port = await closedPort();
  const err = await rejectionOf(() => fetch(`http://127.0.0.1:${port}/`), WAIT_MS, "fetch refused");
  assertShape(err, { name: "TypeError", message: "fetch failed" });
  assertShape(causeOf(err), { code: "ECONNREFUSED", syscall: "connect" });
  assertVerdict(err, { connection: true, kind: "refused", code: "ECONNREFUSED", delivered: "no", path: ["cause"] });
});

test("undici fetch: a host with both families refusing gives an AggregateError cause: refused", async () => {
  const port = await closedPort();
  // A resolver that answers like `localhost` on a dual-stack machine: ::1 and 127.0.0.1.
  const lookup: LookupFunction = (_host, options, callback) => {
    const all: LookupAddress[] = [
      { address: "::1", family: 6 },
      { address: "127.0.0.1", family: 4 },
    ];
    if (options.all === true) callback(null, all);
    else callback(null, "::1", 6);
  };
  const dispatcher = new Agent({ connect: { lookup, autoSelectFamily: true } });
  try {
    const err = await rejectionOf(
      () => undiciFetch(`http://dual.test:${port}/`, { dispatcher }),
      WAIT_MS,
      "fetch dual-stack refused",
    );
    assertShape(err, { name: "TypeError", message: "fetch failed" });
    const agg = causeOf(err) as AggregateError;
    assertShape(agg, { name: "AggregateError", message: "", code: "ECONNREFUSED" });
    assert.equal(agg.errors.length, 2);
    assertVerdict(err, { connection: true, kind: "refused", code: "ECONNREFUSED", delivered: "no" });
  } finally {
    await dispatcher.close();
  }
});

test("fetch: the server closing mid-body is 'terminated' with UND_ERR_SOCKET: reset", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      async () => {
        const res = await fetch(`http://127.0.0.1:${http.port}/mid-body`);
        return res.text();
      },
      WAIT_MS,
      "fetch mid-body",
    );
    assertShape(err, { name: "TypeError", message: "terminated" });
    assertShape(causeOf(err), { name: "SocketError", code: "UND_ERR_SOCKET", message: "other side closed" });
    assertVerdict(err, {
      connection: true,
      kind: "reset",
      code: "UND_ERR_SOCKET",
      delivered: "maybe",
      path: ["cause"],
    });
  } finally {
    await http.close();
  }
});

test("fetch: a blocked port ('bad port') is a bug", async () => {
  const err = await rejectionOf(() => fetch("http://127.0.0.1:10080/"), WAIT_MS, "fetch bad port");
  assertShape(err, { name: "TypeError", message: "fetch failed" });
  assertShape(causeOf(err), { message: "bad port" });
  assertVerdict(err, { connection: false, kind: "other" });
});

test("fetch: an unknown scheme is a bug", async () => {
  const err = await rejectionOf(() => fetch("foo://x"), WAIT_MS, "fetch unknown scheme");
  assertShape(err, { name: "TypeError", message: "fetch failed" });
  assertShape(causeOf(err), { message: "unknown scheme" });
  assertVerdict(err, { connection: false, kind: "other" });
});

test("fetch: AbortSignal.timeout() on a silent server is a DOMException TimeoutError (code 23): timeout", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () => fetch(`http://127.0.0.1:${http.port}/hang`, { signal: AbortSignal.timeout(50) }),
      WAIT_MS,
      "fetch timeout",
    );
    assertShape(err, { name: "TimeoutError", code: 23 });
    assert.ok(err instanceof DOMException);
    assertVerdict(err, { connection: true, kind: "timeout", code: "TimeoutError" });
  } finally {
    await http.close();
  }
});

test("fetch: the user's own AbortController.abort() is a cancel, not a connection error", async () => {
  const http = await flakyHttp();
  try {
    const controller = new AbortController();
    const arrived = once(http.server, "request");
    const pending = fetch(`http://127.0.0.1:${http.port}/hang`, { signal: controller.signal });
    await within(arrived, WAIT_MS, "request reaches the server");
    controller.abort();
    const err = await rejectionOf(() => pending, WAIT_MS, "fetch abort");
    assertShape(err, { name: "AbortError", code: 20 });
    assertVerdict(err, { connection: false, detail: "cancelled" });
  } finally {
    await http.close();
  }
});

test("undici: headersTimeout gives UND_ERR_HEADERS_TIMEOUT: timeout", async () => {
  const http = await flakyHttp();
  const dispatcher = new Agent({ headersTimeout: 50 });
  try {
    const err = await rejectionOf(
      () => request(`http://127.0.0.1:${http.port}/hang`, { dispatcher }),
      WAIT_MS,
      "headers timeout",
    );
    assertShape(err, { name: "HeadersTimeoutError", code: "UND_ERR_HEADERS_TIMEOUT" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "UND_ERR_HEADERS_TIMEOUT" });
  } finally {
    await dispatcher.destroy();
    await http.close();
  }
});

test("undici: bodyTimeout gives UND_ERR_BODY_TIMEOUT: timeout", async () => {
  const http = await flakyHttp();
  const dispatcher = new Agent({ bodyTimeout: 50 });
  try {
    const err = await rejectionOf(
      async () => {
        const res = await request(`http://127.0.0.1:${http.port}/stall-body`, { dispatcher });
        return res.body.text();
      },
      WAIT_MS,
      "body timeout",
    );
    assertShape(err, { name: "BodyTimeoutError", code: "UND_ERR_BODY_TIMEOUT" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "UND_ERR_BODY_TIMEOUT" });
  } finally {
    await dispatcher.destroy();
    await http.close();
  }
});

test("undici: a TLS handshake that never completes gives UND_ERR_CONNECT_TIMEOUT: timeout, delivered no", async () => {
  // A TCP connect always completes on loopback; undici's connect timeout also
  // covers the TLS handshake, so a server that accepts and never answers makes it real.
  const silent = await listenTcp(() => undefined);
  const dispatcher = new Agent({ connect: { timeout: 50 } });
  try {
    const err = await rejectionOf(
      () => request(`https://127.0.0.1:${silent.port}/`, { dispatcher }),
      WAIT_MS,
      "connect timeout",
    );
    assertShape(err, { name: "ConnectTimeoutError", code: "UND_ERR_CONNECT_TIMEOUT" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "UND_ERR_CONNECT_TIMEOUT", delivered: "no" });

    const wrapped = await rejectionOf(
      () => undiciFetch(`https://127.0.0.1:${silent.port}/`, { dispatcher }),
      WAIT_MS,
      "fetch connect timeout",
    );
    assertShape(wrapped, { name: "TypeError", message: "fetch failed" });
    assertVerdict(wrapped, {
      connection: true,
      kind: "timeout",
      code: "UND_ERR_CONNECT_TIMEOUT",
      delivered: "no",
      path: ["cause"],
    });
  } finally {
    await dispatcher.destroy();
    await silent.close();
  }
});

test("undici: request refused without fetch is the bare ECONNREFUSED", async () => {
  const port = await closedPort();
  const err = await rejectionOf(() => request(`http://127.0.0.1:${port}/`), WAIT_MS, "undici refused");
  assertShape(err, { code: "ECONNREFUSED", syscall: "connect" });
  assertVerdict(err, { connection: true, kind: "refused", delivered: "no" });
});

test("undici: the caller destroying the body is UND_ERR_ABORTED: a cancel", async () => {
  const http = await flakyHttp();
  const dispatcher = new Agent();
  try {
    const err = await rejectionOf(
      async () => {
        const res = await request(`http://127.0.0.1:${http.port}/stall-body`, { dispatcher });
        const text = res.body.text();
        res.body.destroy();
        return text;
      },
      WAIT_MS,
      "body destroyed",
    );
    assertShape(err, { name: "AbortError", code: "UND_ERR_ABORTED" });
    assertVerdict(err, { connection: false, code: "UND_ERR_ABORTED", detail: "cancelled" });
  } finally {
    await dispatcher.destroy();
    await http.close();
  }
});

test("undici: an EventEmitter signal firing 'abort' is UND_ERR_ABORTED: a cancel", async () => {
  const http = await flakyHttp();
  const dispatcher = new Agent();
  try {
    const signal = new EventEmitter();
    const arrived = once(http.server, "request");
    const pending = request(`http://127.0.0.1:${http.port}/hang`, { dispatcher, signal });
    await within(arrived, WAIT_MS, "request reaches the server");
    signal.emit("abort");
    const err = await rejectionOf(() => pending, WAIT_MS, "emitter abort");
    assertShape(err, { code: "UND_ERR_ABORTED", message: "Request aborted" });
    assertVerdict(err, { connection: false, detail: "cancelled" });
  } finally {
    await dispatcher.destroy();
    await http.close();
  }
});

test("undici: destroying the Client under a request is UND_ERR_DESTROYED: not a connection error", async () => {
  const http = await flakyHttp();
  const client = new Client(`http://127.0.0.1:${http.port}`);
  try {
    const arrived = once(http.server, "request");
    const pending = client.request({ path: "/hang", method: "GET" });
    await within(arrived, WAIT_MS, "request reaches the server");
    void client.destroy();
    const err = await rejectionOf(() => pending, WAIT_MS, "client destroyed");
    assertShape(err, { name: "ClientDestroyedError", code: "UND_ERR_DESTROYED" });
    assertVerdict(err, { connection: false });
  } finally {
    await client.destroy();
    await http.close();
  }
});

test("undici v7: an HTTP 500 through interceptors.responseError() is UND_ERR_RESPONSE: a bug", async () => {
  // v7 removed `throwOnError` (and UND_ERR_RESPONSE_STATUS_CODE); the interceptor is its successor.
  const http = await flakyHttp();
  const agent = new Agent();
  try {
    const dispatcher = agent.compose(interceptors.responseError());
    const err = await rejectionOf(
      () => request(`http://127.0.0.1:${http.port}/500`, { dispatcher }),
      WAIT_MS,
      "http 500",
    );
    assertShape(err, { name: "ResponseError", code: "UND_ERR_RESPONSE", statusCode: 500 });
    assertVerdict(err, { connection: false, kind: "other" });
  } finally {
    await agent.destroy();
    await http.close();
  }
});
