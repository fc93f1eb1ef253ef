/**
 * The life of one server connection, the middle of its three layers: ConnectionSocket (the
 * bytes, connection-socket.ts) <- ConnectionLifecycle (this file) <- ServerConnection (what
 * the frames mean, server-connection.ts). It owns the state (connection-state.ts: each state
 * with its data, the legal moves) and its timers: the handshake timer, the linger after our FIN.
 * Every move goes through move(); every way of ending goes through here: a drain (the client
 * settled, its last ACK, then GOODBYE or ERROR), a close (a last frame, FIN, linger) or a destroy,
 * and the errors reported on the way (clientError events, diagnostics). An open connection holds
 * no timer: the handshake timer ends with the handshake, the linger timer starts at our FIN, and
 * the idle limit is the server's one IdleSweep (ServerConnection.sweep()).
 */

import type { Socket } from "node:net";
import type { Timer } from "../errors/clock.js";
import type { OutlastError } from "../errors/outlast-error.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import type { ClientConnection, ClientState } from "./client-state.js";
import type { ConnectionState, ConnectionStateName, Farewell } from "./connection-state.js";
import { clientOf, isLegalMove, timerOf } from "./connection-state.js";
import { asProtocolError, handshakeTimeout, slowReader } from "./connection-errors.js";
import { ConnectionSocket } from "./connection-socket.js";
import { clientErrorChannel, closeChannel } from "./diagnostics.js";
import type { ReadBudget } from "./read-budget.js";
import type { ConnectionInfo, ServerContext } from "./server-context.js";

/** After our ERROR/GOODBYE and FIN, wait this long for the peer's FIN before destroying the socket. */
const LINGER_MS = 2000;
const isHandshaking = (name: ConnectionStateName): boolean => name === "awaiting-hello" || name === "authenticating";

export abstract class ConnectionLifecycle extends ConnectionSocket implements ClientConnection {
  /** Duplicates skipped since the last ACK (the ACK is ServerConnection's). */
  abstract duplicates: number;
  protected readonly ctx: ServerContext;
  #state: ConnectionState;

  constructor(socket: Socket, ctx: ServerContext) {
    super(socket);
    this.ctx = ctx;
    const handshakeTimer = ctx.options.clock.setTimeout(
      () => this.#onHandshakeTimeout(),
      ctx.options.handshakeTimeoutMs,
    );
    this.#state = { name: "awaiting-hello", handshakeTimer };
  }

  /** Sends ACK{seq, duplicates} if there is anything new to say (what the frames mean: ServerConnection). */
  abstract flushAck(seq: number): void;

  protected readBudget(): ReadBudget {
    return this.ctx.readBudget;
  }

  protected isClosed(): boolean {
    return this.#state.name === "closed";
  }

  get state(): ConnectionStateName {
    return this.#state.name;
  }

  /** The state with its data, for reading: it changes only in this file (move(), bindClient(), draining, closing). */
  protected get connectionState(): ConnectionState {
    return this.#state;
  }

  get clientId(): string | undefined {
    return clientOf(this.#state)?.id;
  }

  info(): ConnectionInfo {
    const base = { remoteAddress: this.remoteAddress, remotePort: this.remotePort };
    const client = clientOf(this.#state);
    return client === undefined ? base : { ...base, clientId: client.id };
  }

  /** Moves to `next`, clearing the timer of the state left unless `next` keeps it; throws on an illegal move (a bug). */
  protected move(next: ConnectionState): void {
    const from = this.#state;
    if (!isLegalMove(from.name, next.name))
      throw new Error(`outlast server bug: illegal connection state move ${from.name} -> ${next.name}`);
    const timer = timerOf(from);
    if (timer !== undefined && timer !== timerOf(next)) this.ctx.options.clock.clearTimeout(timer);
    this.#state = next;
    if (isHandshaking(from.name) && !isHandshaking(next.name)) this.ctx.handshakeEnded();
  }

  /** `authenticate` bound HELLO to `client`: still authenticating (an older connection of it may have to settle first). */
  protected bindClient(client: ClientState): void {
    const state = this.#state;
    if (state.name === "authenticating") this.#state = { ...state, client };
  }

  // ---- ending before WELCOME ----

  /** Refuses the client: the error as a clientError event and an ERROR frame, then close. */
  protected reject(err: OutlastError): void {
    this.clientError(err, true);
    this.close({ frame: makeErrorFrame(err.code, err.message), reason: err.code });
  }

  #onHandshakeTimeout(): void {
    if (!isHandshaking(this.#state.name)) return;
    this.reject(handshakeTimeout(this.ctx.options.handshakeTimeoutMs));
  }

  turnAway(error: OutlastError, retryAfterMs: number): void {
    if (!isHandshaking(this.#state.name)) return;
    this.clientError(error, true);
    this.close({ frame: makeErrorFrame(error.code, error.message, retryAfterMs), reason: error.code });
  }

  // ---- draining ----

  handlerFailed(error: unknown, retryAfterMs: number): void {
    const text = error instanceof Error ? error.message : String(error);
    // Later MESSAGEs are ignored ("draining"); the ACK for what succeeded before goes out first
    // (with `state`, once it is durable), then the ERROR. It replaces a GOODBYE a drain had planned.
    this.drainWith({
      frame: makeErrorFrame("OUTLAST_HANDLER_FAILED", `handler failed: ${text}`, retryAfterMs),
      reason: "handler failed",
    });
  }

  /**
   * Graceful: stop processing new MESSAGEs, let the in-flight handler finish, send the
   * last ACK, then GOODBYE (when `goodbye`) and end. Used by server.close() and by a newer
   * connection of the same clientId.
   */
  drain(goodbye: boolean): void {
    this.drainWith(
      goodbye ? { frame: { type: "goodbye" }, reason: "drained" } : { frame: undefined, reason: "drained" },
    );
  }

  /** Drains, then sends `farewell.frame` (if any) and ends. */
  protected drainWith(farewell: Farewell): void {
    const state = this.#state;
    switch (state.name) {
      case "awaiting-hello":
      case "authenticating":
        // Not welcomed yet (handshaking, or waiting for an older connection of its clientId).
        this.close({
          frame: makeErrorFrame(
            "OUTLAST_SERVER_BUSY",
            "server is closing or this connection was superseded; retry later",
            1000,
          ),
          reason: "drained before WELCOME",
        });
        return;
      case "open":
        this.move({ name: "draining", client: state.client, farewell });
        this.ctx.registry.whenSettled(state.client, () => this.#finishDrain());
        return;
      case "draining":
        // Already draining: a handler failure's ERROR replaces a planned GOODBYE; nothing else changes the plan.
        if (farewell.frame?.type === "error") this.#state = { ...state, farewell };
        return;
      case "closed":
        return;
      default: {
        const never: never = state;
        throw new Error(`outlast server bug: unknown connection state ${JSON.stringify(never)}`);
      }
    }
  }

  #finishDrain(): void {
    const state = this.#state;
    if (state.name !== "draining") return;
    this.flushAck(state.client.durableSeq);
    this.close(state.farewell);
  }

  // ---- closing ----

  /** Ends gracefully: `farewell.frame` (if any) then FIN, and the socket is destroyed if the peer's FIN does not come. */
  protected close(farewell: Farewell): void {
    if (this.#state.name === "closed") return;
    const lingerTimer = this.ctx.options.clock.setTimeout(() => this.#destroy(farewell.reason), LINGER_MS);
    this.#enterClosed(farewell.reason, lingerTimer);
    this.endSocket(farewell.frame === undefined ? undefined : encodeFrame(farewell.frame));
  }

  /** At once: no frame, no drain. */
  destroy(reason = "destroyed"): void {
    this.#destroy(reason);
  }

  #destroy(reason: string): void {
    this.#enterClosed(reason, undefined);
    this.destroySocket();
  }

  /** The one way into "closed": clears the state's timer, stops serving the client, publishes the close. */
  #enterClosed(reason: string, lingerTimer: Timer | undefined): void {
    const state = this.#state;
    if (state.name === "closed") {
      // Destroyed while lingering (or the socket closed): the linger timer is no longer needed.
      if (state.lingerTimer !== undefined && lingerTimer === undefined) {
        this.ctx.options.clock.clearTimeout(state.lingerTimer);
        this.#state = { ...state, lingerTimer: undefined };
      }
      return;
    }
    const client = clientOf(state);
    this.move({ name: "closed", reason, client, lingerTimer });
    if (client !== undefined) this.ctx.registry.detach(client, this);
    if (closeChannel.hasSubscribers) closeChannel.publish({ ...this.info(), reason });
  }

  protected slowReader(): void {
    this.clientError(slowReader(), true);
    this.#destroy("slow reader");
  }

  protected socketClosed(): void {
    this.#enterClosed("socket closed", undefined);
  }

  // ---- errors ----

  /** A frame or byte the protocol does not allow: ERROR OUTLAST_PROTOCOL_ERROR, then close. */
  protected protocolError(err: unknown): void {
    const error = asProtocolError(err);
    this.ctx.countProtocolError();
    this.clientError(error, true);
    this.close({ frame: makeErrorFrame("OUTLAST_PROTOCOL_ERROR", error.message), reason: "protocol error" });
  }

  /** Reports `err` as a clientError event (and on the diagnostics channel when `publish`). */
  protected clientError(err: Error, publish: boolean): void {
    if (publish && clientErrorChannel.hasSubscribers) clientErrorChannel.publish({ error: err, ...this.info() });
    this.ctx.emitClientError(err, this.info());
  }

  protected socketError(err: Error): void {
    if (this.#state.name !== "closed") this.clientError(err, true);
  }
}
