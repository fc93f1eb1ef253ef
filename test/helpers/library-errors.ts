// Shared helpers for the real-*.test.ts files that make third-party libraries
// fail for real against servers on 127.0.0.1 port 0, then check classify().
import assert from "node:assert/strict";
import { once } from "node:events";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { classify } from "../../src/errors/index.js";
import type { Classification } from "../../src/errors/index.js";

/** Longest any single network wait in these tests may take before the test fails instead of hanging. */
export const WAIT_MS = 5_000;

export { closedPort, HungError, rejectionOf, within } from "./wait.js";

export interface Listening<S> {
  readonly server: S;
  readonly port: number;
  /** Stops listening and destroys every open connection. Idempotent. */
  close(): Promise<void>;
}

/** A raw TCP server on 127.0.0.1:0 whose accepted sockets never throw unhandled errors. */
export async function listenTcp(onSocket: (socket: Socket) => void): Promise<Listening<TcpServer>> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  let closed: Promise<void> | undefined;
  return {
    server,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}

/** An HTTP/1.1 server on 127.0.0.1:0. */
export async function listenHttp(
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Listening<HttpServer>> {
  const server = createHttpServer(onRequest);
  server.on("clientError", (_err, socket) => socket.destroy());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  let closed: Promise<void> | undefined;
  return {
    server,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}

function field(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** One line per node of the cause chain / errors list: what the library really gave. */
export function describeError(err: unknown, depth = 0): string {
  const pad = "  ".repeat(depth);
  if (typeof err !== "object" || err === null) return `${pad}${String(err)}`;
  const parts: string[] = [];
  const ctor = (field(err, "constructor") as { name?: unknown } | undefined)?.name;
  for (const key of ["name", "code", "errno", "syscall", "type", "message"]) {
    const v = field(err, key);
    if (v !== undefined) parts.push(`${key}=${JSON.stringify(typeof v === "string" ? v.slice(0, 100) : v)}`);
  }
  let out = `${pad}${typeof ctor === "string" ? ctor : "?"} ${parts.join(" ")}`;
  if (depth >= 4) return out;
  const cause = field(err, "cause");
  if (cause !== undefined) out += `\n${pad}.cause:\n${describeError(cause, depth + 1)}`;
  const errors = field(err, "errors");
  if (Array.isArray(errors)) {
    errors.slice(0, 4).forEach((e: unknown, i) => {
      out += `\n${pad}.errors[${i}]:\n${describeError(e, depth + 1)}`;
    });
  }
  return out;
}

export type Expected = Partial<Pick<Classification, "connection" | "kind" | "detail" | "code" | "delivered" | "path">>;

/**
 * Classifies a real error and checks the given fields; on a mismatch the
 * message shows the whole error and the whole classification.
 */
export function assertVerdict(err: unknown, expected: Expected): Classification {
  const c = classify(err);
  const actual: Record<string, unknown> = {};
  for (const key of Object.keys(expected)) actual[key] = c[key as keyof Classification];
  assert.deepEqual(
    actual,
    expected,
    `classify() verdict differs\nerror:\n${describeError(err)}\nclassification: ${JSON.stringify({ ...c, source: undefined })}`,
  );
  return c;
}

/** Asserts the error's own shape (the library's contract we rely on), with the error shown on failure. */
export function assertShape(err: unknown, shape: Record<string, unknown>): void {
  assert.ok(typeof err === "object" && err !== null, `not an object: ${String(err)}`);
  const actual: Record<string, unknown> = {};
  for (const key of Object.keys(shape)) {
    const v = field(err, key);
    const want = shape[key];
    actual[key] = want instanceof RegExp && typeof v === "string" ? (want.test(v) ? want : v) : v;
  }
  assert.deepEqual(actual, shape, `unexpected error shape:\n${describeError(err)}`);
}

/** The `cause` of an error (typed loosely: tests inspect real library errors). */
export function causeOf(err: unknown): unknown {
  return typeof err === "object" && err !== null ? field(err, "cause") : undefined;
}
