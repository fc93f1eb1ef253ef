/**
 * One accepted socket: decoding, the server side of the handshake, the frame
 * rules of each state (src/protocol/frame-rules.ts), handshake and idle timers,
 * and closing with an ERROR or GOODBYE frame. Every socket error is handled here:
 * one bad peer never affects another, and never throws out of the server.
 */

import type { Socket } from "node:net";
import type { Timer } from "../errors/clock.js";
import { OutlastError, isOutlastError } from "../errors/outlast-error.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import { FrameDecoder } from "../protocol/frame-decoder.js";
import type { ServerConnectionState } from "../protocol/frame-rules.js";
import { serverFrameRule } from "../protocol/frame-rules.js";
import type { Frame, HelloFrame } from "../protocol/frames.js";
import { chooseVersion } from "../protocol/handshake.js";
import { MAX_HELLO_FRAME_BYTES } from "../protocol/limits.js";
import type { ClientConnection, ClientState } from "./client-state.js";
import { clientErrorChannel, closeChannel, handshakeChannel } from "./diagnostics.js";
import type { ConnectionInfo, ServerContext } from "./server-context.js";
import { authenticateHello } from "./server-handshake.js";

/** After our ERROR/GOODBYE and FIN, wait this long for the peer's FIN before destroying the socket. */
const LINGER_MS = 2000;
/** A peer that does not read what we send (acks, pongs) is cut off past this backlog. */
const MAX_WRITE_BACKLOG_BYTES = 1024 * 1024;

export class ServerConnection implements ClientConnection {
  duplicates = 0;
  #state: ServerConnectionState = "awaiting-hello";
  readonly #socket: Socket;
  readonly #ctx: ServerContext;
  readonly #decoder: FrameDecoder;
  #client: ClientState | undefined;
  #frames: Frame[] = [];
  #frameIndex = 0;
  #lastReceivedAt: number;
  #idleMs = 0;
  #handshakeTimer: Timer | undefined;
  #idleTimer: Timer | undefined;
  #lingerTimer: Timer | undefined;
  #lastAckSent = 0;
  #lastReceivedSeq = 0;
  #draining = false;
  #ended = false;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(socket: Socket, ctx: ServerContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    // HELLO may carry a 64 KiB token: read it with the HELLO limit, then switch to ours.
    this.#decoder = new FrameDecoder({ maxFrameBytes: Math.max(ctx.options.maxFrameBytes, MAX_HELLO_FRAME_BYTES) });
    this.#lastReceivedAt = ctx.options.clock.now();
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#onSocketError(err));
    socket.on("close", () => this.#onClose());
    this.#handshakeTimer = ctx.options.clock.setTimeout(
      () => this.#onHandshakeTimeout(),
      ctx.options.handshakeTimeoutMs,
    );
  }

  #isClosed(): boolean {
    return this.#state === "closed";
  }

  get state(): ServerConnectionState {
    return this.#state;
  }

  get clientId(): string | undefined {
    return this.#client?.id;
  }

  info(): ConnectionInfo {
    const base = { remoteAddress: this.remoteAddress, remotePort: this.remotePort };
    return this.#client === undefined ? base : { ...base, clientId: this.#client.id };
  }

  // ---- receiving ----

  #onData(chunk: Buffer): void {
    this.#lastReceivedAt = this.#ctx.options.clock.now();
    if (this.#state === "closed") return;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    this.#frames = frames;
    for (let i = 0; i < frames.length && !this.#isClosed(); i++) {
      this.#frameIndex = i;
      this.#onFrame(frames[i] as Frame);
    }
    this.#frames = [];
    if (this.#client !== undefined) this.#ctx.registry.endRead(this.#client);
  }

  #onFrame(frame: Frame): void {
    // Hot path: a MESSAGE on an open link (what the rule table says: handle it).
    if (frame.type === "message" && this.#state === "open") {
      this.#onMessage(frame.seq, frame.data);
      return;
    }
    switch (serverFrameRule(this.#state, frame.type)) {
      case "ignore":
        return;
      case "violation":
        this.#protocolError(
          new OutlastError(
            "OUTLAST_PROTOCOL_ERROR",
            `unexpected ${frame.type.toUpperCase()} frame in state ${this.#state}`,
            {
              details: { frame: frame.type, state: this.#state },
            },
          ),
        );
        return;
      case "close":
        if (frame.type === "error")
          this.#clientError(
            new OutlastError(
              "OUTLAST_PROTOCOL_ERROR",
              `client sent ERROR ${frame.code}: ${JSON.stringify(frame.message)}`,
              { details: { remoteCode: frame.code } },
            ),
            false,
          );
        this.#end(undefined, "peer left");
        return;
      case "handle":
        break;
    }
    switch (frame.type) {
      case "message":
        this.#onMessage(frame.seq, frame.data);
        return;
      case "hello":
        this.#onHello(frame);
        return;
      case "ping":
        this.#write(encodeFrame({ type: "pong", nonce: frame.nonce }));
        return;
      case "pong":
        return;
      case "goodbye":
        // The client sends nothing more: finish its in-flight handler, ack, end.
        this.drain(false);
        return;
      default:
        return;
    }
  }

  #onMessage(seq: number, data: Uint8Array): void {
    if (seq <= this.#lastReceivedSeq) {
      this.#protocolError(
        new OutlastError(
          "OUTLAST_PROTOCOL_ERROR",
          `MESSAGE seq ${seq} is not above the previous seq ${this.#lastReceivedSeq} on this connection`,
          {
            details: { frame: "message" },
          },
        ),
      );
      return;
    }
    this.#lastReceivedSeq = seq;
    this.#ctx.registry.message(this.#client as ClientState, this, seq, data);
  }

  /** Highest MESSAGE seq in the current read: one "started" mark covers the whole batch. */
  batchHighSeq(): number {
    for (let i = this.#frames.length - 1; i >= this.#frameIndex; i--) {
      const f = this.#frames[i] as Frame;
      if (f.type === "message") return f.seq;
    }
    return 0;
  }

  nextMessageSeq(): number {
    if (this.#state !== "open") return 0;
    const f = this.#frames[this.#frameIndex + 1];
    return f !== undefined && f.type === "message" && f.seq > this.#lastReceivedSeq ? f.seq : 0;
  }

  // ---- handshake ----

  #onHello(hello: HelloFrame): void {
    this.#state = "authenticating";
    const version = chooseVersion(hello);
    if (!version.ok) {
      this.#reject(new OutlastError(version.code, version.message, { details: { requestedClientId: hello.clientId } }));
      return;
    }
    this.#idleMs = Math.max(this.#ctx.options.idleTimeoutMs, 3 * hello.heartbeatIntervalMs);
    authenticateHello(this.#socket, this.#ctx.options.authenticate, hello, {
      authenticating: () => this.#state === "authenticating",
      bind: (clientId) => this.#bind(hello, version.version, clientId),
      reject: (err) => this.#reject(err),
    });
  }

  #bind(hello: HelloFrame, version: number, clientId: string): void {
    this.#clearTimer("handshake");
    const client = this.#ctx.registry.get(clientId);
    this.#client = client;
    this.#ctx.registry.attach(
      client,
      this,
      (old) => (old as ServerConnection).drain(true),
      () => this.#welcome(hello, version, client),
    );
  }

  #welcome(hello: HelloFrame, version: number, client: ClientState): void {
    if (this.#state !== "authenticating") return;
    this.#state = "open";
    this.#decoder.setMaxFrameBytes(this.#ctx.options.maxFrameBytes);
    this.#lastAckSent = client.durableSeq;
    this.#lastReceivedAt = this.#ctx.options.clock.now();
    this.#write(
      encodeFrame({
        type: "welcome",
        version,
        clientId: client.id,
        lastSeq: client.durableSeq,
        maxFrameBytes: this.#ctx.options.maxFrameBytes,
      }),
    );
    this.#armIdle(this.#idleMs);
    const info = {
      clientId: client.id,
      requestedClientId: hello.clientId,
      version,
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
    };
    if (handshakeChannel.hasSubscribers) handshakeChannel.publish(info);
    this.#ctx.emitConnection(info);
  }

  #reject(err: OutlastError): void {
    this.#clientError(err, true);
    this.#end(makeErrorFrame(err.code, err.message), err.code);
  }

  #onHandshakeTimeout(): void {
    this.#handshakeTimer = undefined;
    if (this.#state !== "awaiting-hello" && this.#state !== "authenticating") return;
    this.#reject(
      new OutlastError(
        "OUTLAST_TIMEOUT",
        `handshake not completed within handshakeTimeoutMs ${this.#ctx.options.handshakeTimeoutMs}`,
        {
          details: { timeoutMs: this.#ctx.options.handshakeTimeoutMs },
        },
      ),
    );
  }

  // ---- idle timeout (checked lazily: no timer reset per read) ----

  #armIdle(ms: number): void {
    this.#idleTimer = this.#ctx.options.clock.setTimeout(() => this.#onIdleTimer(), ms);
  }

  #onIdleTimer(): void {
    this.#idleTimer = undefined;
    if (this.#state === "closed") return;
    const silentMs = this.#ctx.options.clock.now() - this.#lastReceivedAt;
    if (silentMs < this.#idleMs) {
      this.#armIdle(this.#idleMs - silentMs);
      return;
    }
    this.#reject(
      new OutlastError(
        "OUTLAST_HEARTBEAT_TIMEOUT",
        `nothing received from the client for ${Math.round(silentMs)} ms (idle limit ${this.#idleMs} ms)`,
        {
          details: { timeoutMs: this.#idleMs },
        },
      ),
    );
  }

  // ---- sending ----

  #write(buf: Buffer): void {
    if (this.#ended || this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(buf);
    if (this.#socket.writableLength > MAX_WRITE_BACKLOG_BYTES) {
      this.#clientError(
        new OutlastError("OUTLAST_PROTOCOL_ERROR", "client does not read what the server sends; connection dropped"),
        true,
      );
      this.#destroy("slow reader");
    }
  }

  flushAck(seq: number): void {
    if (this.#state !== "open" && this.#state !== "draining") return;
    if (seq <= this.#lastAckSent && this.duplicates === 0) return;
    if (seq > this.#lastAckSent) this.#lastAckSent = seq;
    const duplicates = Math.min(this.duplicates, 0xffff_ffff);
    this.duplicates = 0;
    this.#write(encodeFrame({ type: "ack", seq: this.#lastAckSent, duplicates }));
  }

  handlerFailed(error: unknown, retryAfterMs: number): void {
    const client = this.#client;
    if (this.#state === "closed" || client === undefined) return;
    const text = error instanceof Error ? error.message : String(error);
    const frame = makeErrorFrame("OUTLAST_HANDLER_FAILED", `handler failed: ${text}`, retryAfterMs);
    // Later MESSAGEs are ignored ("draining"); the ACK for what succeeded before goes out first
    // (with `state`, once it is durable), then the ERROR.
    this.#draining = true;
    this.#state = "draining";
    this.#clearTimer("idle");
    this.#ctx.registry.whenSettled(client, () => {
      this.flushAck(client.durableSeq);
      this.#end(frame, "handler failed");
    });
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (this.#state !== "closed") this.#socket.resume();
  }

  // ---- closing ----

  /**
   * Graceful: stop processing new MESSAGEs, let the in-flight handler finish, send the
   * last ACK, then GOODBYE (when `goodbye`) and end. Used by server.close(), by a newer
   * connection of the same clientId, and when the client says GOODBYE.
   */
  drain(goodbye: boolean): void {
    if (this.#state === "closed" || this.#draining) return;
    this.#draining = true;
    const client = this.#client;
    const finish = (): void => {
      if (client !== undefined && this.#state === "draining") this.flushAck(client.durableSeq);
      this.#end(goodbye ? { type: "goodbye" } : undefined, goodbye ? "drained" : "client said goodbye");
    };
    if (this.#state !== "open" || client === undefined) {
      // Not welcomed yet (handshaking, or waiting for an older connection of its clientId).
      this.#end(
        makeErrorFrame("OUTLAST_SERVER_BUSY", "server is closing or this connection was superseded; retry later", 1000),
        "drained before WELCOME",
      );
      return;
    }
    this.#state = "draining";
    this.#clearTimer("idle");
    this.#ctx.registry.whenSettled(client, finish);
  }

  #end(frame: Frame | undefined, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#clearTimer("handshake");
    this.#clearTimer("idle");
    if (this.#client !== undefined) this.#ctx.registry.detach(this.#client, this);
    if (frame !== undefined) this.#write(encodeFrame(frame));
    this.#ended = true;
    this.#socket.resume(); // keep reading (and discarding) until the peer's FIN
    if (!this.#socket.writableEnded) this.#socket.end();
    this.#lingerTimer = this.#ctx.options.clock.setTimeout(() => this.#destroy(reason), LINGER_MS);
    if (closeChannel.hasSubscribers) closeChannel.publish({ ...this.info(), reason });
  }

  /** At once: no frame, no drain. */
  destroy(reason = "destroyed"): void {
    this.#destroy(reason);
  }

  #destroy(reason: string): void {
    if (this.#state !== "closed") {
      this.#state = "closed";
      if (this.#client !== undefined) this.#ctx.registry.detach(this.#client, this);
      if (closeChannel.hasSubscribers) closeChannel.publish({ ...this.info(), reason });
    }
    this.#ended = true;
    this.#socket.destroy();
  }

  #clearTimer(which: "handshake" | "idle" | "linger"): void {
    const clock = this.#ctx.options.clock;
    if (which === "handshake" && this.#handshakeTimer !== undefined) clock.clearTimeout(this.#handshakeTimer);
    if (which === "idle" && this.#idleTimer !== undefined) clock.clearTimeout(this.#idleTimer);
    if (which === "linger" && this.#lingerTimer !== undefined) clock.clearTimeout(this.#lingerTimer);
    if (which === "handshake") this.#handshakeTimer = undefined;
    else if (which === "idle") this.#idleTimer = undefined;
    else this.#lingerTimer = undefined;
  }

  #protocolError(err: unknown): void {
    const error = isOutlastError(err)
      ? err
      : new OutlastError(
          "OUTLAST_PROTOCOL_ERROR",
          `protocol error: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
    this.#ctx.countProtocolError();
    this.#clientError(error, true);
    this.#end(makeErrorFrame("OUTLAST_PROTOCOL_ERROR", error.message), "protocol error");
  }

  #clientError(err: Error, publish: boolean): void {
    if (publish && clientErrorChannel.hasSubscribers) clientErrorChannel.publish({ error: err, ...this.info() });
    this.#ctx.emitClientError(err, this.info());
  }

  #onSocketError(err: Error): void {
    // ECONNRESET, EPIPE, TLS alerts...: this connection only. 'close' follows.
    if (this.#state !== "closed") this.#clientError(err, true);
  }

  #onClose(): void {
    this.#clearTimer("handshake");
    this.#clearTimer("idle");
    this.#clearTimer("linger");
    if (this.#state !== "closed") {
      this.#state = "closed";
      if (this.#client !== undefined) this.#ctx.registry.detach(this.#client, this);
      if (closeChannel.hasSubscribers) closeChannel.publish({ ...this.info(), reason: "socket closed" });
    }
    this.#ctx.connectionClosed(this);
    this.#resolveClosed();
  }
}
