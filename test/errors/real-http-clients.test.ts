// axios, got and node-fetch v3, made to fail for real on loopback.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import axios from "axios";
import got from "got";
import nodeFetch from "node-fetch";
import {
  assertShape,
  assertVerdict,
  causeOf,
  closedPort,
  listenHttp,
  rejectionOf,
  within,
  WAIT_MS,
} from "../helpers/library-errors.js";

async function flakyHttp() {
  return listenHttp((req, res) => {
    switch (req.url) {
      case "/mid-body": // content-length announced, part sent, then FIN
        res.writeHead(200, { "content-length": "100" });
        res.write("abc", () => res.socket?.destroy());
        return;
      case "/mid-chunked": // chunked body, then FIN before the last chunk
        res.writeHead(200);
        res.write("abc", () => res.socket?.destroy());
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

// ---- axios -----------------------------------------------------------------

test("axios: connection refused is an AxiosError with code ECONNREFUSED and the Node error as cause", async () => {
  const port = await closedPort();
  const err = await rejectionOf(() => axios.get(`http://127.0.0.1:${port}/`), WAIT_MS, "axios refused");
  assertShape(err, { isAxiosError: true, code: "ECONNREFUSED" });
  assertShape(causeOf(err), { code: "ECONNREFUSED", syscall: "connect" });
  assertVerdict(err, { connection: true, kind: "refused", code: "ECONNREFUSED", delivered: "no" });
});

test("axios: its timeout is ECONNABORTED 'timeout of 50ms exceeded': timeout", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () => axios.get(`http://127.0.0.1:${http.port}/hang`, { timeout: 50 }),
      WAIT_MS,
      "axios timeout",
    );
    assertShape(err, { name: "AxiosError", code: "ECONNABORTED", message: "timeout of 50ms exceeded" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "ECONNABORTED", detail: "axios-timeout" });
  } finally {
    await http.close();
  }
});

test("axios: with transitional.clarifyTimeoutError the timeout is ETIMEDOUT: timeout", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () =>
        axios.get(`http://127.0.0.1:${http.port}/hang`, { timeout: 50, transitional: { clarifyTimeoutError: true } }),
      WAIT_MS,
      "axios clarified timeout",
    );
    assertShape(err, { name: "AxiosError", code: "ETIMEDOUT", message: "timeout of 50ms exceeded" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "ETIMEDOUT" });
  } finally {
    await http.close();
  }
});

test("axios: the user's AbortController is CanceledError ERR_CANCELED: a cancel", async () => {
  const http = await flakyHttp();
  try {
    const controller = new AbortController();
    const arrived = once(http.server, "request");
    const pending = axios.get(`http://127.0.0.1:${http.port}/hang`, { signal: controller.signal });
    await within(arrived, WAIT_MS, "request reaches the server");
    controller.abort();
    const err = await rejectionOf(() => pending, WAIT_MS, "axios cancel");
    assertShape(err, { name: "CanceledError", code: "ERR_CANCELED", message: "canceled" });
    assertVerdict(err, { connection: false, code: "ERR_CANCELED", detail: "cancelled" });
  } finally {
    await http.close();
  }
});

test("axios: an AbortSignal.timeout() signal becomes a bare ERR_CANCELED, yet classify finds the timeout in config.signal", async () => {
  // axios throws away signal.reason; only err.config.signal.reason still says "timeout".
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () => axios.get(`http://127.0.0.1:${http.port}/hang`, { signal: AbortSignal.timeout(50) }),
      WAIT_MS,
      "axios signal timeout",
    );
    assertShape(err, { name: "CanceledError", code: "ERR_CANCELED", cause: undefined });
    const reason = (err as { config?: { signal?: AbortSignal } }).config?.signal?.reason as unknown;
    assertShape(reason, { name: "TimeoutError" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "ERR_CANCELED" });
  } finally {
    await http.close();
  }
});

test("axios: HTTP 500 is ERR_BAD_RESPONSE: not a connection error", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(() => axios.get(`http://127.0.0.1:${http.port}/500`), WAIT_MS, "axios 500");
    assertShape(err, { code: "ERR_BAD_RESPONSE", status: 500 });
    assertVerdict(err, { connection: false, kind: "other", detail: "http-status" });
  } finally {
    await http.close();
  }
});

test("axios: the server closing mid-body is ERR_BAD_RESPONSE 'stream has been aborted' with a 2xx status: reset", async () => {
  // axios reuses ERR_BAD_RESPONSE (its code for HTTP 5xx) for a body cut short,
  // with no cause; only the message and the 2xx status tell them apart.
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(() => axios.get(`http://127.0.0.1:${http.port}/mid-body`), WAIT_MS, "axios mid-body");
    assertShape(err, { code: "ERR_BAD_RESPONSE", message: "stream has been aborted", status: 200, cause: undefined });
    assertVerdict(err, { connection: true, kind: "reset" });
  } finally {
    await http.close();
  }
});

// ---- got -------------------------------------------------------------------

test("got: connection refused is RequestError ECONNREFUSED: refused", async () => {
  const port = await closedPort();
  const err = await rejectionOf(
    () => got(`http://127.0.0.1:${port}/`, { retry: { limit: 0 } }),
    WAIT_MS,
    "got refused",
  );
  assertShape(err, { name: "RequestError", code: "ECONNREFUSED" });
  assertShape(causeOf(err), { code: "ECONNREFUSED", syscall: "connect" });
  assertVerdict(err, { connection: true, kind: "refused", code: "ECONNREFUSED", delivered: "no" });
});

test("got: its timeout is TimeoutError ETIMEDOUT: timeout", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () => got(`http://127.0.0.1:${http.port}/hang`, { retry: { limit: 0 }, timeout: { request: 50 } }),
      WAIT_MS,
      "got timeout",
    );
    assertShape(err, { name: "TimeoutError", code: "ETIMEDOUT", message: "Timeout awaiting 'request' for 50ms" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "ETIMEDOUT" });
  } finally {
    await http.close();
  }
});

test("got: HTTP 500 is HTTPError ERR_NON_2XX_3XX_RESPONSE: a bug", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () => got(`http://127.0.0.1:${http.port}/500`, { retry: { limit: 0 } }),
      WAIT_MS,
      "got 500",
    );
    assertShape(err, { name: "HTTPError", code: "ERR_NON_2XX_3XX_RESPONSE" });
    assert.equal((err as { response?: { statusCode?: number } }).response?.statusCode, 500);
    assertVerdict(err, { connection: false, kind: "other", detail: "http-status" });
  } finally {
    await http.close();
  }
});

test("got: promise.cancel() is CancelError ERR_CANCELED: a cancel", async () => {
  const http = await flakyHttp();
  try {
    const arrived = once(http.server, "request");
    const pending = got(`http://127.0.0.1:${http.port}/hang`, { retry: { limit: 0 } });
    await within(arrived, WAIT_MS, "request reaches the server");
    pending.cancel();
    const err = await rejectionOf(() => pending, WAIT_MS, "got cancel");
    assertShape(err, { name: "CancelError", code: "ERR_CANCELED" });
    assertVerdict(err, { connection: false, detail: "cancelled" });
  } finally {
    await http.close();
  }
});

test("got: the user's AbortSignal is AbortError ERR_ABORTED: a cancel", async () => {
  const http = await flakyHttp();
  try {
    const controller = new AbortController();
    const arrived = once(http.server, "request");
    const pending = got(`http://127.0.0.1:${http.port}/hang`, { retry: { limit: 0 }, signal: controller.signal });
    await within(arrived, WAIT_MS, "request reaches the server");
    controller.abort();
    const err = await rejectionOf(() => pending, WAIT_MS, "got abort");
    assertShape(err, { name: "AbortError", code: "ERR_ABORTED" });
    assertVerdict(err, { connection: false, detail: "cancelled" });
  } finally {
    await http.close();
  }
});

test("got: the server closing mid-body is ReadError ECONNRESET (its cause a plain object): reset", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      () => got(`http://127.0.0.1:${http.port}/mid-body`, { retry: { limit: 0 } }),
      WAIT_MS,
      "got mid-body",
    );
    assertShape(err, { name: "ReadError", code: "ECONNRESET", message: "The server aborted pending request" });
    assertVerdict(err, { connection: true, kind: "reset", code: "ECONNRESET", delivered: "maybe" });
  } finally {
    await http.close();
  }
});

// ---- node-fetch v3 -----------------------------------------------------------

test("node-fetch: connection refused is FetchError type 'system' whose errno is the STRING 'ECONNREFUSED'", async () => {
  const port = await closedPort();
  const err = await rejectionOf(() => nodeFetch(`http://127.0.0.1:${port}/`), WAIT_MS, "node-fetch refused");
  assertShape(err, { name: "FetchError", type: "system", errno: "ECONNREFUSED", code: "ECONNREFUSED" });
  assertVerdict(err, { connection: true, kind: "refused", code: "ECONNREFUSED" });
});

test("node-fetch: the server closing a sized body early is FetchError ECONNRESET 'aborted': reset", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      async () => {
        const res = await nodeFetch(`http://127.0.0.1:${http.port}/mid-body`);
        return res.text();
      },
      WAIT_MS,
      "node-fetch mid-body",
    );
    assertShape(err, { name: "FetchError", type: "system", code: "ECONNRESET", errno: "ECONNRESET" });
    assertVerdict(err, { connection: true, kind: "reset", code: "ECONNRESET" });
  } finally {
    await http.close();
  }
});

test("node-fetch: the server closing a chunked body early is FetchError ERR_STREAM_PREMATURE_CLOSE: reset", async () => {
  const http = await flakyHttp();
  try {
    const err = await rejectionOf(
      async () => {
        const res = await nodeFetch(`http://127.0.0.1:${http.port}/mid-chunked`);
        return res.text();
      },
      WAIT_MS,
      "node-fetch premature close",
    );
    assertShape(err, {
      name: "FetchError",
      type: "system",
      code: "ERR_STREAM_PREMATURE_CLOSE",
      message: /Premature close$/,
    });
    assertVerdict(err, {
      connection: true,
      kind: "reset",
      code: "ERR_STREAM_PREMATURE_CLOSE",
      detail: "premature-close",
    });
  } finally {
    await http.close();
  }
});

test("node-fetch: the user's AbortController is AbortError type 'aborted' (no code): a cancel", async () => {
  const http = await flakyHttp();
  try {
    const controller = new AbortController();
    const arrived = once(http.server, "request");
    const pending = nodeFetch(`http://127.0.0.1:${http.port}/hang`, { signal: controller.signal });
    await within(arrived, WAIT_MS, "request reaches the server");
    controller.abort();
    const err = await rejectionOf(() => pending, WAIT_MS, "node-fetch abort");
    assertShape(err, { name: "AbortError", type: "aborted", code: undefined });
    assertVerdict(err, { connection: false, detail: "cancelled" });
  } finally {
    await http.close();
  }
});

test("node-fetch: HTTP 500 does not throw (res.ok is false): nothing to classify", async () => {
  const http = await flakyHttp();
  try {
    const res = await within(nodeFetch(`http://127.0.0.1:${http.port}/500`), WAIT_MS, "node-fetch 500");
    assert.equal(res.status, 500);
    assert.equal(res.ok, false);
    await res.text();
  } finally {
    await http.close();
  }
});
