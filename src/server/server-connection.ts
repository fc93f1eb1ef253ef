/**
 * One accepted socket's protocol: decoding, the server side of the handshake, the frame
 * rules of each state (src/protocol/frame-rules.ts), the idle limit and beats, and the ACKs.
 * It is the top of three layers: the socket mechanics (listeners, read budget, pausing,
 * writes) are connection-socket.ts; the states, their timers and every way of ending (drain,
 * close with an ERROR or GOODBYE frame, destroy) are connection-lifecycle.ts. The errors it
 * reports are made in connection-errors.ts, the beats and the lone PING/PONG read in
 * heartbeat-frames.ts, the `authenticate` call in server-handshake.ts. Every socket error is
 * handled: one bad peer never affects another, and never throws out of the server.
 */

import type { Socket } from "node:net";
import { OutlastError } from "../errors/outlast-error.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import { FrameDecoder } from "../protocol/frame-decoder.js";
import { serverFrameRule } from "../protocol/frame-rules.js";
import type { Frame, HelloFrame } from "../protocol/frames.js";
import { FrameType } from "../protocol/frames.js";
import { chooseVersion } from "../protocol/handshake.js";
import { MAX_HELLO_FRAME_BYTES } from "../protocol/limits.js";
import type { ClientState } from "./client-state.js";
import { clientOf } from "./connection-state.js";
import { handshakeChannel } from "./diagnostics.js";
import type { ServerContext } from "./server-context.js";
import type { Swept } from "./idle-sweep.js";
import { clientSentError, idleTimeout, seqNotAbove, unexpectedFrame } from "./connection-errors.js";
import { ConnectionLifecycle } from "./connection-lifecycle.js";
import { ASK, BEAT, beatMsFor, loneControlFrame, pongFor } from "./heartbeat-frames.js";
import { authenticateHello } from "./server-handshake.js";

const STALE_MESSAGE = "a newer connection of this clientId is open; this one was superseded";

export class ServerConnection extends ConnectionLifecycle implements Swept {
  duplicates = 0;
  /** Only while a frame is partly received (or before WELCOME): an idle connection holds no decoder. */
  #decoder: FrameDecoder | undefined;
  #lastAckSent = 0;
  #lastReceivedSeq = 0;

  /** Accept order on this server: a HELLO read late never displaces a connection accepted after it. */
  readonly #acceptSeq: number;

  constructor(socket: Socket, ctx: ServerContext, acceptSeq: number) {
    super(socket, ctx);
    this.#acceptSeq = acceptSeq;
    // HELLO may carry a 64 KiB token: read it with the HELLO limit, then switch to ours.
    this.#decoder = new FrameDecoder({ maxFrameBytes: Math.max(ctx.options.maxFrameBytes, MAX_HELLO_FRAME_BYTES) });
  }

  /** The socket is gone: the connection has ended (connection-lifecycle.ts), and the server forgets it. */
  protected override socketClosed(): void {
    super.socketClosed();
    this.ctx.connectionClosed(this);
  }

  // ---- receiving ----

  protected read(chunk: Buffer): void {
    if (this.#decoder === undefined && this.#readControl(chunk)) return;
    let frames: Frame[];
    try {
      // After WELCOME a decoder lives only while a frame straddles reads (a new one is ~100 bytes).
      const decoder = (this.#decoder ??= new FrameDecoder({ maxFrameBytes: this.ctx.options.maxFrameBytes }));
      frames = decoder.push(chunk);
      if (decoder.bufferedBytes === 0 && this.state !== "awaiting-hello" && this.state !== "authenticating")
        this.#decoder = undefined;
    } catch (err) {
      this.protocolError(err);
      return;
    }
    for (let i = 0; i < frames.length && !this.isClosed(); i++) this.#onFrame(frames[i] as Frame);
    const client = clientOf(this.connectionState);
    if (client !== undefined) this.ctx.registry.endRead(client);
  }

  /**
   * The read of an idle fleet: one whole PING or PONG (a v1 client's ping, the answer to a beat's ask) on an
   * open link, handled without a decoder, frame objects or arrays. False: not that; decode as usual.
   */
  #readControl(chunk: Buffer): boolean {
    const state = this.connectionState;
    if (state.name !== "open") return false;
    const type = loneControlFrame(chunk);
    if (type === undefined) return false;
    if (type === FrameType.Ping) {
      this.ctx.countPing();
      this.write(pongFor(chunk));
    }
    this.ctx.registry.endRead(state.client);
    return true;
  }

  #onFrame(frame: Frame): void {
    const state = this.connectionState;
    // Hot path: a MESSAGE on an open link (what the rule table says: handle it).
    if (frame.type === "message" && state.name === "open") {
      this.#onMessage(state.client, frame.seq, frame.data);
      return;
    }
    const rule = serverFrameRule(state.name, frame.type);
    switch (rule) {
      case "ignore":
        return;
      case "violation":
        this.protocolError(unexpectedFrame(frame.type, state.name));
        return;
      case "close":
        if (frame.type === "error") this.clientError(clientSentError(frame), false);
        this.close({ frame: undefined, reason: "peer left" });
        return;
      case "handle":
        this.#handle(frame);
        return;
      default: {
        const never: never = rule;
        throw new Error(`outlast server bug: unknown frame rule ${String(never)}`);
      }
    }
  }

  /** A frame the rule table says to handle in the current state. */
  #handle(frame: Frame): void {
    switch (frame.type) {
      case "message": {
        const state = this.connectionState;
        if (state.name === "open") this.#onMessage(state.client, frame.seq, frame.data);
        return;
      }
      case "hello":
        this.#onHello(frame);
        return;
      case "ping":
        this.ctx.countPing();
        this.write(encodeFrame({ type: "pong", nonce: frame.nonce }));
        return;
      case "pong":
        return;
      case "goodbye":
        // The client sends nothing more: finish its in-flight handler, ack, end.
        this.drainWith({ frame: undefined, reason: "client said goodbye" });
        return;
      case "welcome":
      case "ack":
      case "error":
        // The server-side table never says "handle" for these; if it ever did, that is a bug in the table.
        throw new Error(`outlast server bug: frame rule says handle ${frame.type} in state ${this.state}`);
      default: {
        const never: never = frame;
        throw new Error(`outlast server bug: unknown frame ${JSON.stringify(never)}`);
      }
    }
  }

  #onMessage(client: ClientState, seq: number, data: Uint8Array): void {
    if (seq <= this.#lastReceivedSeq) {
      this.protocolError(seqNotAbove(seq, this.#lastReceivedSeq));
      return;
    }
    this.#lastReceivedSeq = seq;
    this.ctx.registry.message(client, this, seq, data);
  }

  // ---- handshake ----

  #onHello(hello: HelloFrame): void {
    const state = this.connectionState;
    if (state.name !== "awaiting-hello") return;
    const idleMs = Math.max(this.ctx.options.idleTimeoutMs, 3 * hello.heartbeatIntervalMs);
    const version = chooseVersion(hello);
    const beatMs = version.ok ? beatMsFor(version.version, hello.heartbeatIntervalMs) : 0;
    this.move({ name: "authenticating", handshakeTimer: state.handshakeTimer, idleMs, beatMs, client: undefined });
    if (!version.ok) {
      this.reject(new OutlastError(version.code, version.message, { details: { requestedClientId: hello.clientId } }));
      return;
    }
    authenticateHello(this.socket, this.ctx.options.authenticate, hello, {
      authenticating: () => this.state === "authenticating",
      bind: (clientId) => this.#bind(hello, version.version, clientId),
      reject: (err) => this.reject(err),
    });
  }

  #bind(hello: HelloFrame, version: number, clientId: string): void {
    const state = this.connectionState;
    if (state.name !== "authenticating") return;
    const refusal = this.ctx.refuseClientId(clientId, hello.clientId);
    if (refusal !== undefined) {
      // A pool worker that does not own this clientId (its dedup state has one writer: the worker it hashes to).
      if (refusal.retryAfterMs === undefined) this.reject(refusal.error);
      else this.turnAway(refusal.error, refusal.retryAfterMs);
      return;
    }
    const client = this.ctx.registry.get(clientId);
    const current = client.connection;
    if (current instanceof ServerConnection && current.#acceptSeq > this.#acceptSeq) {
      // A HELLO read late (the server was busy) on a connection older than the client's live one: the
      // client gave up on it and reconnected. Displacing the live link would only start another round.
      this.close({ frame: makeErrorFrame("OUTLAST_SERVER_BUSY", STALE_MESSAGE, 1000), reason: "stale handshake" });
      return;
    }
    this.bindClient(client);
    this.ctx.registry.attach(
      client,
      this,
      (old) => (old as ServerConnection).drain(true),
      () => this.#welcome(hello, version, client),
    );
  }

  #welcome(hello: HelloFrame, version: number, client: ClientState): void {
    const state = this.connectionState;
    if (state.name !== "authenticating") return;
    const { idleMs, beatMs } = state;
    this.move({ name: "open", client, idleMs, beatMs });
    // An idle connection holds no decoder: drop the HELLO's now, unless a frame is partly read (read() drops
    // it otherwise only on the next read, which on a v2 link comes ~20 s later: ~100 bytes per client meanwhile).
    if (this.#decoder?.bufferedBytes === 0) this.#decoder = undefined;
    else this.#decoder?.setMaxFrameBytes(this.ctx.options.maxFrameBytes);
    this.#lastAckSent = client.durableSeq;
    this.quietFrom(this.ctx.idleSweep.now());
    if (beatMs > 0) this.ctx.idleSweep.beatEvery(beatMs);
    const welcome = {
      type: "welcome",
      version,
      clientId: client.id,
      lastSeq: client.durableSeq,
      maxFrameBytes: this.ctx.options.maxFrameBytes,
    } as const;
    this.write(encodeFrame(version >= 2 ? { ...welcome, beatMs, idleMs } : welcome));
    const info = {
      clientId: client.id,
      requestedClientId: hello.clientId,
      version,
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
    };
    if (handshakeChannel.hasSubscribers) handshakeChannel.publish(info);
    this.ctx.emitConnection(info);
  }

  // ---- idle limit and beats (the server's one IdleSweep: no timer per connection) ----

  sweep(nowMs: number): number {
    const state = this.connectionState;
    if (state.name !== "open") return 0;
    const silentMs = this.silentMs(nowMs);
    if (silentMs >= state.idleMs) {
      this.reject(idleTimeout(silentMs, state.idleMs));
      return 0;
    }
    const beatMs = state.beatMs;
    if (beatMs > 0 && this.writeSilentMs(nowMs) >= beatMs) {
      // Nothing written for beatMs: a beat. Once half the idle limit passed without a byte from the
      // client, the beat is a PING (the client answers), so a live idle client is heard well within it.
      this.write(silentMs * 2 >= state.idleMs ? ASK : BEAT);
      this.ctx.countBeat();
    }
    return beatMs;
  }

  // ---- acknowledging ----

  flushAck(seq: number): void {
    const name = this.state;
    if (name !== "open" && name !== "draining") return;
    if (seq <= this.#lastAckSent && this.duplicates === 0) return;
    if (seq > this.#lastAckSent) this.#lastAckSent = seq;
    const duplicates = Math.min(this.duplicates, 0xffff_ffff);
    this.duplicates = 0;
    this.write(encodeFrame({ type: "ack", seq: this.#lastAckSent, duplicates }));
  }
}
