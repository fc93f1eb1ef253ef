// ws (v8), made to fail for real on loopback. ws reports failures through the
// 'error' event (then 'close' with 1006); a server that just drops the socket
// gives 'close' 1006 with NO error object at all.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import {
  assertShape,
  assertVerdict,
  closedPort,
  listenHttp,
  listenTcp,
  WAIT_MS,
  within,
} from "../helpers/library-errors.js";

interface Outcome {
  /** Every 'error' event, in order. */
  readonly errors: unknown[];
  readonly closeCode: number;
}

/** Waits for the client's 'close' and collects the 'error' events before it. */
async function outcome(ws: WebSocket, label: string): Promise<Outcome> {
  const errors: unknown[] = [];
  ws.on("error", (err) => errors.push(err));
  // Not events.once(ws, "close"): it would reject on the first 'error' event.
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  return { errors, closeCode: await within(closed, WAIT_MS, label) };
}

async function wsServer(onConnection: (socket: WebSocket) => void) {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(wss, "listening");
  wss.on("connection", onConnection);
  const { port } = wss.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

test("ws: a closed port gives 'error' ECONNREFUSED then close 1006: refused", async () => {
  const port = await closedPort();
  const { errors, closeCode } = await outcome(new WebSocket(`ws://127.0.0.1:${port}/`), "ws refused");
  assert.equal(closeCode, 1006);
  assert.equal(errors.length, 1);
  assertShape(errors[0], { code: "ECONNREFUSED", syscall: "connect" });
  assertVerdict(errors[0], { connection: true, kind: "refused", delivered: "no" });
});

test("ws: the server terminating an open socket gives close 1006 and no error object", async () => {
  const server = await wsServer((socket) => socket.terminate());
  try {
    const { errors, closeCode } = await outcome(new WebSocket(`ws://127.0.0.1:${server.port}/`), "ws terminated");
    assert.equal(closeCode, 1006);
    assert.deepEqual(errors, []); // nothing to classify: the application must treat 1006 as connection lost
  } finally {
    await server.close();
  }
});

test("ws: the caller's terminate() while connecting is 'WebSocket was closed before the connection was established'", async () => {
  const server = await wsServer(() => undefined);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    const done = outcome(ws, "ws terminate while connecting");
    ws.terminate();
    const { errors, closeCode } = await done;
    assert.equal(closeCode, 1006);
    assertShape(errors[0], { message: "WebSocket was closed before the connection was established", code: undefined });
    assertVerdict(errors[0], { connection: false, detail: "cancelled", delivered: "no" });
  } finally {
    await server.close();
  }
});

test("ws: a 502 answer to the upgrade (a gateway whose backend is down) is transient; a 401 is not", async () => {
  const http = await listenHttp((_req, res) => {
    res.writeHead(502);
    res.end("bad gateway");
  });
  try {
    const { errors, closeCode } = await outcome(new WebSocket(`ws://127.0.0.1:${http.port}/`), "ws 502");
    assert.equal(closeCode, 1006);
    assertShape(errors[0], { message: "Unexpected server response: 502", code: undefined });
    assertVerdict(errors[0], { connection: true, kind: "refused", detail: "http-status" });
  } finally {
    await http.close();
  }
  const denied = await listenHttp((_req, res) => {
    res.writeHead(401);
    res.end("who are you");
  });
  try {
    const { errors } = await outcome(new WebSocket(`ws://127.0.0.1:${denied.port}/`), "ws 401");
    assertShape(errors[0], { message: "Unexpected server response: 401", code: undefined });
    assertVerdict(errors[0], { connection: false, detail: "http-status" });
  } finally {
    await denied.close();
  }
});

test("ws: a server that closes during the handshake gives ECONNRESET 'socket hang up': reset", async () => {
  const tcp = await listenTcp((socket) => socket.destroy());
  try {
    const { errors } = await outcome(new WebSocket(`ws://127.0.0.1:${tcp.port}/`), "ws hang up");
    assertShape(errors[0], { code: "ECONNRESET", message: "socket hang up" });
    assertVerdict(errors[0], { connection: true, kind: "reset" });
  } finally {
    await tcp.close();
  }
});

test("ws: a silent server past handshakeTimeout is 'Opening handshake has timed out': timeout", async () => {
  const tcp = await listenTcp(() => undefined);
  try {
    const { errors } = await outcome(
      new WebSocket(`ws://127.0.0.1:${tcp.port}/`, { handshakeTimeout: 50 }),
      "ws handshake timeout",
    );
    assertShape(errors[0], { message: "Opening handshake has timed out", code: undefined });
    assertVerdict(errors[0], { connection: true, kind: "timeout" });
  } finally {
    await tcp.close();
  }
});

test("ws: send() after the server dropped the socket is 'WebSocket is not open: readyState 3 (CLOSED)': not-connected", async () => {
  const server = await wsServer((socket) => socket.terminate());
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    await outcome(ws, "ws dropped");
    const err = await within(
      new Promise<Error | undefined>((resolve) => ws.send("message", resolve)),
      WAIT_MS,
      "send callback",
    );
    assertShape(err, { message: "WebSocket is not open: readyState 3 (CLOSED)" });
    assertVerdict(err, { connection: true, kind: "not-connected" });
  } finally {
    await server.close();
  }
});
