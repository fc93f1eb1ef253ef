// Just enough of the PostgreSQL wire protocol (v3) for node-postgres to connect
// and then receive a real ErrorResponse, so tests get real pg DatabaseErrors
// (57P01 admin_shutdown, 42601 syntax error, ...) without a database server.
import type { Socket } from "node:net";
import { listenTcp, type Listening } from "./library-errors.js";
import type { Server } from "node:net";

/** ErrorResponse fields, keyed by their one-letter protocol tag (S severity, C code, M message, ...). */
export type ErrorFields = Readonly<Record<string, string>>;

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

export function errorResponse(fields: ErrorFields): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of Object.entries(fields)) parts.push(Buffer.from(tag, "latin1"), Buffer.from(`${value}\0`));
  parts.push(Buffer.from([0]));
  return message("E", Buffer.concat(parts));
}

/** AuthenticationOk then ReadyForQuery (idle): the session is open. */
export const SESSION_READY = Buffer.concat([message("R", Buffer.from([0, 0, 0, 0])), message("Z", Buffer.from("I"))]);
export const READY_FOR_QUERY = message("Z", Buffer.from("I"));

export interface FakePostgresScript {
  /** After the StartupMessage. Default: write SESSION_READY. */
  onStartup?: (socket: Socket) => void;
  /** On each simple Query ('Q') message. */
  onQuery?: (socket: Socket) => void;
}

/** A TCP server on 127.0.0.1:0 that speaks the startup and simple-query parts of the protocol. */
export function listenFakePostgres(script: FakePostgresScript): Promise<Listening<Server>> {
  return listenTcp((socket) => {
    let started = false;
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!started) {
        // StartupMessage: int32 length (including itself), no type byte.
        if (buffered.length < 4) return;
        const length = buffered.readInt32BE(0);
        if (buffered.length < length) return;
        buffered = buffered.subarray(length);
        started = true;
        if (script.onStartup) script.onStartup(socket);
        else socket.write(SESSION_READY);
      }
      // Regular messages: type byte, int32 length (including itself, not the type).
      while (buffered.length >= 5) {
        const length = buffered.readInt32BE(1);
        if (buffered.length < length + 1) return;
        const type = String.fromCharCode(buffered[0] ?? 0);
        buffered = buffered.subarray(length + 1);
        if (type === "Q") script.onQuery?.(socket);
        else if (type === "X") socket.end(); // Terminate
      }
    });
  });
}
