// @grpc/grpc-js and node:http2, made to fail for real on loopback.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  assertShape,
  assertVerdict,
  closedPort,
  listenTcp,
  rejectionOf,
  within,
  WAIT_MS,
} from "../helpers/library-errors.js";

// ---- @grpc/grpc-js -----------------------------------------------------------

const identity = (b: Buffer): Buffer => b;
const ECHO_PATH = "/outlast.test.Echo/Echo";
const ECHO: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** One unary call with raw bytes; resolves the reply or rejects with grpc-js's ServiceError. */
function echo(
  client: grpc.Client,
  body: string,
  options: grpc.CallOptions = {},
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = client.makeUnaryRequest(
      ECHO_PATH,
      identity,
      identity,
      Buffer.from(body),
      new grpc.Metadata(),
      options,
      (err, value) => {
        if (err) reject(err);
        else resolve(value ?? Buffer.alloc(0));
      },
    );
    onCall?.(call);
  });
}

/** A grpc-js server whose Echo answers by the request body: "hang", "invalid", else echo. */
async function grpcServer(): Promise<{ port: number; close: () => void }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const body = call.request.toString();
      if (body === "hang") return; // never answers: the client's deadline or cancel ends it
      if (body === "invalid") callback({ code: grpc.status.INVALID_ARGUMENT, details: "field x is required" });
      else callback(null, call.request);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, close: () => server.forceShutdown() };
}

test("grpc-js: a closed port is status 14 UNAVAILABLE naming ECONNREFUSED in details: connection error", async () => {
  const port = await closedPort();
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const err = await rejectionOf(() => echo(client, "x"), WAIT_MS, "grpc unavailable");
    assertShape(err, { code: 14, details: /ECONNREFUSED/, message: /^14 UNAVAILABLE: / });
    assertVerdict(err, {
      connection: true,
      kind: "refused",
      code: "GRPC_UNAVAILABLE",
      detail: "grpc-unavailable",
      delivered: "no",
    });
  } finally {
    client.close();
  }
});

test("grpc-js: a server that accepts then drops every connection is still UNAVAILABLE: connection error", async () => {
  const tcp = await listenTcp((socket) => socket.destroy());
  const client = new grpc.Client(`127.0.0.1:${tcp.port}`, grpc.credentials.createInsecure());
  try {
    const err = await rejectionOf(() => echo(client, "x", { deadline: Date.now() + 3_000 }), WAIT_MS, "grpc dropped");
    assertShape(err, { code: 14 });
    assertShape(err, { details: /^No connection established\. Last error: Failed to connect/ });
    assertVerdict(err, { connection: true, code: "GRPC_UNAVAILABLE" });
  } finally {
    client.close();
    await tcp.close();
  }
});

test("grpc-js: a passed deadline is status 4 DEADLINE_EXCEEDED: timeout", async () => {
  const server = await grpcServer();
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  try {
    const err = await rejectionOf(() => echo(client, "hang", { deadline: Date.now() + 100 }), WAIT_MS, "grpc deadline");
    assertShape(err, { code: 4, message: /^4 DEADLINE_EXCEEDED: / });
    assertVerdict(err, { connection: true, kind: "timeout", code: "GRPC_DEADLINE_EXCEEDED" });
  } finally {
    client.close();
    server.close();
  }
});

test("grpc-js: INVALID_ARGUMENT (3) from the server is a bug", async () => {
  const server = await grpcServer();
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  try {
    const err = await rejectionOf(() => echo(client, "invalid"), WAIT_MS, "grpc invalid");
    assertShape(err, { code: 3, details: "field x is required" });
    assertVerdict(err, { connection: false, kind: "other" });
  } finally {
    client.close();
    server.close();
  }
});

test("grpc-js: the caller's call.cancel() is status 1 CANCELLED: a cancel", async () => {
  const server = await grpcServer();
  const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  try {
    await within(echo(client, "warm-up"), WAIT_MS, "grpc warm-up"); // the channel is connected before we cancel
    let call: grpc.ClientUnaryCall | undefined;
    const pending = echo(client, "hang", {}, (c) => (call = c));
    call?.cancel();
    const err = await rejectionOf(() => pending, WAIT_MS, "grpc cancel");
    assertShape(err, { code: 1, details: "Cancelled on client" });
    assertVerdict(err, { connection: false, detail: "cancelled" });
  } finally {
    client.close();
    server.close();
  }
});

// ---- node:http2 --------------------------------------------------------------

type StreamHandler = (stream: http2.ServerHttp2Stream) => void;

async function h2Server(onStream: StreamHandler) {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.on("error", () => undefined); // the server side of a refused stream errors too
    onStream(stream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Opens a client session, sends one GET, and collects what happens to the stream. */
async function h2Get(port: number, label: string) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const sessionErrors: unknown[] = [];
  session.on("error", (err) => sessionErrors.push(err));
  const stream = session.request({ ":path": "/" });
  stream.resume();
  stream.end();
  const streamErrors: unknown[] = [];
  stream.on("error", (err) => streamErrors.push(err));
  await within(new Promise<void>((resolve) => stream.on("close", () => resolve())), WAIT_MS, label);
  return { session, stream, streamErrors, sessionErrors };
}

test("http2: RST_STREAM NGHTTP2_REFUSED_STREAM is ERR_HTTP2_STREAM_ERROR: connection error, delivered no", async () => {
  const server = await h2Server((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
  try {
    const { session, stream, streamErrors } = await h2Get(server.port, "h2 refused stream");
    session.destroy();
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_REFUSED_STREAM);
    assertShape(streamErrors[0], {
      code: "ERR_HTTP2_STREAM_ERROR",
      message: "Stream closed with error code NGHTTP2_REFUSED_STREAM",
    });
    assertVerdict(streamErrors[0], { connection: true, code: "NGHTTP2_REFUSED_STREAM", delivered: "no" });
  } finally {
    await server.close();
  }
});

test("http2: GOAWAY with an error code while a stream is open is ERR_HTTP2_SESSION_ERROR: connection error", async () => {
  const server = await h2Server((stream) => stream.session?.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR));
  try {
    const { session, stream, streamErrors } = await h2Get(server.port, "h2 goaway error");
    session.destroy();
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    assertShape(streamErrors[0], { code: "ERR_HTTP2_SESSION_ERROR", message: "Session closed with error code 2" });
    assertVerdict(streamErrors[0], { connection: true });
  } finally {
    await server.close();
  }
});

test("http2: after a graceful GOAWAY a new request throws ERR_HTTP2_GOAWAY_SESSION: connection error", async () => {
  const server = await h2Server((stream) => stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR));
  try {
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on("error", () => undefined);
    const goaway = within(once(session, "goaway"), WAIT_MS, "h2 goaway frame");
    const first = session.request({ ":path": "/" });
    first.on("error", () => undefined);
    first.resume();
    first.end();
    const [errorCode] = (await goaway) as [number];
    assert.equal(errorCode, http2.constants.NGHTTP2_NO_ERROR);
    let err: unknown;
    let late: Promise<unknown> | undefined;
    try {
      // Node 20 and 22 throw here; Node 24 makes the stream and cancels it when the session goes.
      const again = session.request({ ":path": "/again" });
      late = once(again, "error").then(([e]) => e as unknown);
    } catch (e) {
      err = e;
    }
    session.destroy();
    if (late !== undefined) {
      err = await within(late, WAIT_MS, "the late stream's error");
      assertShape(err, { code: "ERR_HTTP2_STREAM_CANCEL" });
      assertVerdict(err, { connection: true, code: "ERR_HTTP2_STREAM_CANCEL" });
      return;
    }
    assertShape(err, {
      code: "ERR_HTTP2_GOAWAY_SESSION",
      message: "New streams cannot be created after receiving a GOAWAY",
    });
    assertVerdict(err, { connection: true, code: "ERR_HTTP2_GOAWAY_SESSION" });
  } finally {
    await server.close();
  }
});

test("http2: a server that destroys its session closes the open stream with rstCode 8 and NO error object", async () => {
  const server = await h2Server((stream) => stream.session?.destroy());
  try {
    const { session, stream, streamErrors } = await h2Get(server.port, "h2 session destroyed");
    session.destroy();
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_CANCEL);
    assert.deepEqual(streamErrors, []); // nothing to classify: the caller must check rstCode / missing response
  } finally {
    await server.close();
  }
});

test("http2: connect to a closed port is ECONNREFUSED on the session: refused", async () => {
  const port = await closedPort();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const [err] = (await within(once(session, "error"), WAIT_MS, "h2 refused")) as [unknown]; // once() resolves on 'error' itself
  session.destroy();
  assertShape(err, { code: "ECONNREFUSED" });
  assertVerdict(err, { connection: true, kind: "refused", delivered: "no" });
});
