/**
 * One client socket of a gateway: the server side of the outlast protocol (frames,
 * HELLO/WELCOME, PING/PONG, idle timeout, ACK/ERROR/GOODBYE) in front of the client's
 * ClientPipeline. It follows the same frame rules as the server (src/protocol/frame-rules.ts);
 * what differs is that WELCOME waits for the mark read from the stream, and an ACK
 * follows JetStream's PubAcks.
 */

import type { Socket } from "node:net";
import type { Clock, Timer } from "../errors/clock.js";
import { OutlastError, isOutlastError } from "../errors/outlast-error.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import { FrameDecoder } from "../protocol/frame-decoder.js";
import type { ServerConnectionState } from "../protocol/frame-rules.js";
import { serverFrameRule } from "../protocol/frame-rules.js";
import type { Frame, HelloFrame } from "../protocol/frames.js";
import { chooseVersion } from "../protocol/handshake.js";
import { MAX_HELLO_FRAME_BYTES } from "../protocol/limits.js";
import type { Authenticate } from "../server/options.js";
import { authenticateHello } from "../server/server-handshake.js";
import type { ClientPipeline, PipelineConnection } from "./client-pipeline.js";

const LINGER_MS = 2000;
const MAX_WRITE_BACKLOG_BYTES = 1024 * 1024;

export interface GatewayConnectionContext {
  readonly clock: Clock;
  readonly authenticate: Authenticate | undefined;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  pipeline(clientId: string): ClientPipeline;
  connected(info: { clientId: string; requestedClientId: string; lastSeq: number }): void;
  clientError(err: Error, clientId: string | undefined): void;
  closed(conn: GatewayConnection): void;
}

export class GatewayConnection implements PipelineConnection {
  #state: ServerConnectionState = "awaiting-hello";
  readonly #socket: Socket;
  readonly #ctx: GatewayConnectionContext;
  readonly #decoder: FrameDecoder;
  #pipeline: ClientPipeline | undefined;
  #lastReceivedSeq = 0;
  #lastAckSent = 0;
  #duplicates = 0;
  #lastReceivedAt: number;
  #idleMs = 0;
  #handshakeTimer: Timer | undefined;
  #idleTimer: Timer | undefined;
  #lingerTimer: Timer | undefined;
  readonly closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  constructor(socket: Socket, ctx: GatewayConnectionContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#decoder = new FrameDecoder({ maxFrameBytes: Math.max(ctx.maxFrameBytes, MAX_HELLO_FRAME_BYTES) });
    this.#lastReceivedAt = ctx.clock.now();
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => {
      if (this.#state !== "closed") ctx.clientError(err, this.#pipeline?.id);
    });
    socket.on("close", () => this.#onClose());
    this.#handshakeTimer = ctx.clock.setTimeout(() => this.#onHandshakeTimeout(), ctx.handshakeTimeoutMs);
  }

  #isClosed(): boolean {
    return this.#state === "closed";
  }

  get clientId(): string | undefined {
    return this.#pipeline?.id;
  }

  #onData(chunk: Buffer): void {
    this.#lastReceivedAt = this.#ctx.clock.now();
    if (this.#state === "closed") return;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    for (const frame of frames) {
      if (this.#isClosed()) return;
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: Frame): void {
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
        this.#end(undefined);
        return;
      case "handle":
        break;
    }
    switch (frame.type) {
      case "hello":
        this.#onHello(frame);
        return;
      case "ping":
        this.#write(encodeFrame({ type: "pong", nonce: frame.nonce }));
        return;
      case "goodbye":
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
          { details: { frame: "message" } },
        ),
      );
      return;
    }
    this.#lastReceivedSeq = seq;
    this.#pipeline?.message(this, seq, data);
  }

  #onHello(hello: HelloFrame): void {
    this.#state = "authenticating";
    const version = chooseVersion(hello);
    if (!version.ok) {
      this.#reject(new OutlastError(version.code, version.message, { details: { requestedClientId: hello.clientId } }));
      return;
    }
    this.#idleMs = Math.max(this.#ctx.idleTimeoutMs, 3 * hello.heartbeatIntervalMs);
    authenticateHello(this.#socket, this.#ctx.authenticate, hello, {
      authenticating: () => this.#state === "authenticating",
      bind: (clientId) => {
        const pipeline = this.#ctx.pipeline(clientId);
        this.#pipeline = pipeline;
        this.#version = version.version;
        this.#requestedClientId = hello.clientId;
        pipeline.attach(this);
      },
      reject: (err) => this.#reject(err),
    });
  }

  #version = 1;
  #requestedClientId = "";

  // ---- PipelineConnection ----

  welcome(lastSeq: number): void {
    if (this.#state !== "authenticating" || this.#pipeline === undefined) return;
    this.#clearTimers(false);
    this.#state = "open";
    this.#decoder.setMaxFrameBytes(this.#ctx.maxFrameBytes);
    this.#lastAckSent = lastSeq;
    this.#lastReceivedAt = this.#ctx.clock.now();
    this.#write(
      encodeFrame({
        type: "welcome",
        version: this.#version,
        clientId: this.#pipeline.id,
        lastSeq,
        maxFrameBytes: this.#ctx.maxFrameBytes,
      }),
    );
    this.#armIdle(this.#idleMs);
    this.#ctx.connected({ clientId: this.#pipeline.id, requestedClientId: this.#requestedClientId, lastSeq });
  }

  turnAway(err: OutlastError, retryAfterMs: number): void {
    this.#ctx.clientError(err, this.#pipeline?.id);
    this.#end(makeErrorFrame(err.code, err.message, retryAfterMs));
  }

  ack(seq: number): void {
    if (this.#state !== "open" && this.#state !== "draining") return;
    if (seq <= this.#lastAckSent && this.#duplicates === 0) return;
    if (seq > this.#lastAckSent) this.#lastAckSent = seq;
    const duplicates = Math.min(this.#duplicates, 0xffff_ffff);
    this.#duplicates = 0;
    this.#write(encodeFrame({ type: "ack", seq: this.#lastAckSent, duplicates }));
  }

  duplicate(): void {
    this.#duplicates++;
  }

  fail(err: OutlastError, retryAfterMs: number): void {
    if (this.#state === "closed") return;
    this.#ctx.clientError(err, this.#pipeline?.id);
    this.#end(makeErrorFrame(err.code, err.message, retryAfterMs));
  }

  superseded(): void {
    this.#end(
      makeErrorFrame("OUTLAST_SERVER_BUSY", "a newer connection of this clientId took over; retry later", 1000),
    );
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (this.#state !== "closed") this.#socket.resume();
  }

  /** Graceful: take no more MESSAGEs, wait for the PubAcks in flight, ACK, then GOODBYE (when `goodbye`) and end. */
  drain(goodbye: boolean): void {
    if (this.#state === "closed" || this.#state === "draining") return;
    const pipeline = this.#pipeline;
    if (this.#state !== "open" || pipeline === undefined) {
      this.#end(makeErrorFrame("OUTLAST_SERVER_BUSY", "gateway is closing; retry later", 1000));
      return;
    }
    this.#state = "draining";
    this.#clearTimers(true);
    pipeline.whenSettled(() => {
      // The ACK of the last answers is scheduled for the next turn: send GOODBYE after it.
      setImmediate(() => this.#end(goodbye ? { type: "goodbye" } : undefined));
    });
  }

  /** At once: no frame. */
  destroy(): void {
    this.#markClosed();
    this.#socket.destroy();
  }

  // ---- timers, errors, closing ----

  #onHandshakeTimeout(): void {
    this.#handshakeTimer = undefined;
    if (this.#state !== "awaiting-hello" && this.#state !== "authenticating") return;
    this.#reject(
      new OutlastError(
        "OUTLAST_TIMEOUT",
        `handshake not completed within handshakeTimeoutMs ${this.#ctx.handshakeTimeoutMs}`,
        {
          details: { timeoutMs: this.#ctx.handshakeTimeoutMs },
        },
      ),
    );
  }

  #armIdle(ms: number): void {
    this.#idleTimer = this.#ctx.clock.setTimeout(() => this.#onIdleTimer(), ms);
  }

  #onIdleTimer(): void {
    this.#idleTimer = undefined;
    if (this.#state !== "open") return;
    const silentMs = this.#ctx.clock.now() - this.#lastReceivedAt;
    if (silentMs < this.#idleMs) {
      this.#armIdle(this.#idleMs - silentMs);
      return;
    }
    this.#reject(
      new OutlastError(
        "OUTLAST_HEARTBEAT_TIMEOUT",
        `nothing received from the client for ${Math.round(silentMs)} ms (idle limit ${this.#idleMs} ms)`,
        { details: { timeoutMs: this.#idleMs } },
      ),
    );
  }

  #reject(err: OutlastError): void {
    this.#ctx.clientError(err, this.#pipeline?.id);
    this.#end(makeErrorFrame(err.code, err.message));
  }

  #protocolError(err: unknown): void {
    const error = isOutlastError(err)
      ? err
      : new OutlastError(
          "OUTLAST_PROTOCOL_ERROR",
          `protocol error: ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
          },
        );
    this.#reject(error);
  }

  #write(buf: Buffer): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(buf);
    if (this.#socket.writableLength > MAX_WRITE_BACKLOG_BYTES) this.destroy();
  }

  #end(frame: Frame | undefined): void {
    if (this.#state === "closed") return;
    this.#markClosed();
    if (frame !== undefined) this.#write(encodeFrame(frame));
    this.#socket.resume();
    if (!this.#socket.writableEnded) this.#socket.end();
    this.#lingerTimer = this.#ctx.clock.setTimeout(() => this.#socket.destroy(), LINGER_MS);
  }

  #markClosed(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#clearTimers(true);
    this.#pipeline?.detach(this);
  }

  #clearTimers(idleToo: boolean): void {
    const clock = this.#ctx.clock;
    if (this.#handshakeTimer !== undefined) clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    if (idleToo && this.#idleTimer !== undefined) clock.clearTimeout(this.#idleTimer);
    if (idleToo) this.#idleTimer = undefined;
  }

  #onClose(): void {
    this.#markClosed();
    if (this.#lingerTimer !== undefined) this.#ctx.clock.clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#ctx.closed(this);
    this.#resolveClosed();
  }
}
