/**
 * The server side of HELLO once the version is chosen: calling `authenticate`
 * (sync or async; a throw or rejection rejects the client) and checking the
 * clientId it returns. The connection keeps the states and timers; this file
 * only decides which clientId to bind, or why not.
 */

import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { OutlastError } from "../errors/outlast-error.js";
import type { HelloFrame } from "../protocol/frames.js";
import { clientIdProblem } from "../protocol/handshake.js";
import type { Authenticate } from "./options.js";

/** What authentication reports back to the connection. */
export interface HandshakeCallbacks {
  /** Still waiting for this answer (false once the connection closed meanwhile). */
  authenticating(): boolean;
  bind(clientId: string): void;
  reject(err: OutlastError): void;
}

export function authenticateHello(
  socket: Socket,
  authenticate: Authenticate | undefined,
  hello: HelloFrame,
  cb: HandshakeCallbacks,
): void {
  if (authenticate === undefined) {
    cb.bind(hello.clientId);
    return;
  }
  const fail = (cause: unknown): void =>
    cb.reject(
      new OutlastError(
        "OUTLAST_AUTH_REJECTED",
        `authentication rejected for clientId ${JSON.stringify(hello.clientId)}`,
        {
          cause,
          details: { requestedClientId: hello.clientId },
        },
      ),
    );
  const done = (bound: unknown): void => {
    if (!cb.authenticating()) return; // closed meanwhile
    if (bound === false) return fail(undefined);
    const problem =
      typeof bound === "string" ? clientIdProblem(bound) : "authenticate must return a clientId string or false";
    if (problem !== undefined) return fail(new Error(`authenticate returned an invalid clientId: ${problem}`));
    cb.bind(bound as string);
  };
  try {
    const peer = (socket as Partial<TLSSocket>).getPeerCertificate?.call(socket);
    const result = authenticate({
      clientId: hello.clientId,
      token: hello.token,
      peerCertificate: peer !== undefined && Object.keys(peer).length > 0 ? peer : undefined,
      heartbeatIntervalMs: hello.heartbeatIntervalMs,
    });
    if (typeof (result as { then?: unknown } | null)?.then === "function")
      (result as PromiseLike<unknown>).then(done, fail);
    else done(result);
  } catch (err) {
    fail(err);
  }
}
