/**
 * The outlast protocol's Link (transport/transport.ts; tcp:// and tls://): one
 * socket's life: connect (TCP or TLS), HELLO/WELCOME within connectTimeoutMs,
 * frames in and out, heartbeat, and exactly one `onClose` with the error that
 * ended it (undefined for a clean end). The client decides what to do next; a
 * Connection never reconnects. How a batch of records becomes MESSAGE writes is
 * record-frames.ts; the errors that end a link are made in link-errors.ts.
 */

import net from "node:net";
import tls from "node:tls";
import type { Timer } from "../errors/clock.js";
import { OutlastError } from "../errors/outlast-error.js";
import { errorFromFrame, makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import { FrameDecoder } from "../protocol/frame-decoder.js";
import { recognizeForeignPeer } from "../protocol/foreign-peer.js";
import type { ClientLinkState } from "../protocol/frame-rules.js";
import { clientFrameRule } from "../protocol/frame-rules.js";
import type { Frame, HelloFrame, WelcomeFrame } from "../protocol/frames.js";
import { PROTOCOL_VERSION } from "../protocol/frames.js";
import { checkWelcome, SUPPORTED_VERSIONS } from "../protocol/handshake.js";
import type { OutboxRecord } from "../outbox/outbox.js";
import { maxDataBytesInFrame } from "./drops.js";
import { Heartbeat } from "./heartbeat.js";
import type { ConnectPhase } from "./link-errors.js";
import {
  closedInsideFrame,
  closedWithoutGoodbye,
  connectTimeout,
  foreignPeer,
  unexpectedFrame,
} from "./link-errors.js";
import type { ResolvedOptions } from "./options.js";
import { writeRecordFrames } from "./record-frames.js";
import type { Link, LinkEvents } from "./transport/transport.js";
import type { Endpoint } from "./url.js";
import { serverNameFor } from "./url.js";

/** After we send an ERROR or GOODBYE, the peer has this long to close before we destroy the socket. */
const LINGER_MS = 1000;

export class Connection implements Link {
  readonly #o: ResolvedOptions;
  readonly #events: LinkEvents;
  readonly #socket: net.Socket;
  readonly #decoder: FrameDecoder;
  readonly #hello: HelloFrame;
  #link: ClientLinkState = "connecting";
  #phase: ConnectPhase = "tcp";
  #connectTimer: Timer | undefined;
  #lingerTimer: Timer | undefined;
  #heartbeat: Heartbeat | undefined;
  #error: Error | undefined;
  #goodbye = false;
  #closed = false;
  /** Until the first bytes from the server arrive: they are checked for a peer that is not outlast. */
  #sniffing = true;
  readonly #href: string;
  readonly #secure: boolean;
  /** The server's maxFrameBytes (after WELCOME). */
  peerMaxFrameBytes = 0;
  /** After WELCOME: the server beats (v2, WELCOME.beatMs <= heartbeatIntervalMs): this client pings only while owed an answer. */
  serverBeats = false;
  /** Highest seq written, and acknowledged, on this link: more written than acknowledged = an answer is owed. */
  #sentSeq = 0;
  #ackedSeq = 0;
  /** The client's send window rules alone: the server reads what it can and TCP pushes back. */
  readonly maxInFlightMessages = Infinity;

  constructor(endpoint: Endpoint, clientId: string, options: ResolvedOptions, events: LinkEvents) {
    this.#o = options;
    this.#events = events;
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
    this.#href = endpoint.href;
    this.#secure = endpoint.secure;
    this.#hello = {
      type: "hello",
      minVersion: SUPPORTED_VERSIONS[0] ?? PROTOCOL_VERSION,
      maxVersion: SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1] ?? PROTOCOL_VERSION,
      clientId,
      token: options.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      maxFrameBytes: options.maxFrameBytes,
    };
    this.#connectTimer = options.clock.setTimeout(() => this.#connectTimedOut(), options.connectTimeoutMs);
    if (endpoint.secure) {
      const servername = serverNameFor(endpoint.host);
      this.#socket = tls.connect({
        ...(servername === undefined ? {} : { servername }),
        ...options.tls,
        host: endpoint.host,
        port: endpoint.port,
      });
      this.#socket.once("connect", () => {
        this.#phase = "tls";
      });
      this.#socket.once("secureConnect", () => this.#sendHello());
    } else {
      this.#socket = net.connect({ host: endpoint.host, port: endpoint.port });
      this.#socket.once("connect", () => this.#sendHello());
    }
    this.#socket.setNoDelay(true);
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on("drain", () => this.#events.onDrain());
    this.#socket.on("error", (err: Error) => {
      this.#error ??= err;
    });
    this.#socket.on("end", () => this.#onEnd());
    this.#socket.on("close", () => this.#onClose());
  }

  get isOpen(): boolean {
    return this.#link === "open" || this.#link === "draining";
  }

  /** When the last byte arrived from the server (clock ms); -Infinity before WELCOME. */
  get lastHeardMs(): number {
    return this.#heartbeat?.lastHeardMs ?? -Infinity;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Data bytes of the largest MESSAGE frame the server takes (after WELCOME). */
  get maxRecordBytes(): number {
    return maxDataBytesInFrame(this.peerMaxFrameBytes);
  }

  /** Writes MESSAGE frames for `records` (record-frames.ts); false when the socket's buffer is full (wait for onDrain). */
  writeRecords(records: readonly OutboxRecord[]): boolean {
    const socket = this.#socket;
    // After the server's GOODBYE or ERROR we ended our side: nothing more is written (a write
    // would fail with ERR_STREAM_WRITE_AFTER_END and turn a drain into an error). What was not
    // acknowledged is resent on the next link.
    if (socket.writableEnded || socket.destroyed) return false;
    const n = records.length;
    if (n > 0) {
      this.#sentSeq = Math.max(this.#sentSeq, (records[n - 1] as OutboxRecord).seq);
      this.#heartbeat?.owe();
    }
    return writeRecordFrames(socket, records);
  }

  get writableNeedDrain(): boolean {
    return this.#socket.writableNeedDrain;
  }

  /** Graceful: GOODBYE, then end our side; the socket closes when the server closes its side (or after a linger). */
  sayGoodbye(): void {
    if (this.#closed) return;
    this.#link = "draining";
    this.#stopTimers();
    if (this.#socket.writable) this.#socket.end(encodeFrame({ type: "goodbye" }));
    this.#linger();
  }

  /** Ends the socket at once; onClose follows with `err`. */
  destroy(err?: Error): void {
    if (this.#closed) return;
    if (err !== undefined) this.#error ??= err;
    this.#stopTimers();
    this.#socket.destroy();
  }

  #sendHello(): void {
    if (this.#closed) return;
    this.#phase = "handshake";
    this.#link = "handshaking";
    this.#socket.write(encodeFrame(this.#hello));
  }

  #connectTimedOut(): void {
    this.#connectTimer = undefined;
    this.destroy(connectTimeout(this.#phase, this.#o.connectTimeoutMs));
  }

  #onData(chunk: Buffer): void {
    this.#heartbeat?.heard();
    if (this.#sniffing) {
      // The first bytes of the answer to HELLO: a web server or a TLS server is named as such (src/protocol/foreign-peer.ts).
      this.#sniffing = false;
      const peer = recognizeForeignPeer(chunk);
      if (peer !== undefined) {
        this.#protocolViolation(foreignPeer(peer, this.#href));
        return;
      }
    }
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#protocolViolation(err as Error);
      return;
    }
    for (let i = 0; i < frames.length && !this.#closed; i++) this.#onFrame(frames[i] as Frame);
  }

  #onFrame(frame: Frame): void {
    const rule = clientFrameRule(this.#link, frame.type);
    if (rule === "violation") {
      this.#protocolViolation(unexpectedFrame(frame.type, this.#link));
      return;
    }
    if (rule === "ignore") return;
    switch (frame.type) {
      case "welcome":
        this.#onWelcome(frame);
        return;
      case "ack":
        if (frame.seq > this.#ackedSeq) this.#ackedSeq = frame.seq;
        this.#heartbeat?.answered(this.#ackedSeq < this.#sentSeq);
        this.#events.onAck(frame.seq, frame.duplicates);
        return;
      case "ping":
        this.#socket.write(encodeFrame({ type: "pong", nonce: frame.nonce }));
        return;
      case "pong":
        // Nonce 0 is a server's beat (or an answer to nothing we sent): liveness only, not an answer.
        if (frame.nonce !== 0) this.#heartbeat?.answered(this.#ackedSeq < this.#sentSeq);
        return;
      case "error":
        this.#error ??= errorFromFrame(frame, "server");
        this.#stopTimers();
        this.#socket.end();
        this.#linger();
        return;
      case "goodbye":
        this.#goodbye = true;
        this.#stopTimers();
        this.#socket.end();
        this.#linger();
        return;
      case "hello":
      case "message":
        return; // unreachable: the rule table calls these violations
      default: {
        const never: never = frame;
        throw new Error(`unknown frame ${JSON.stringify(never)}`);
      }
    }
  }

  #onWelcome(welcome: WelcomeFrame): void {
    const problem = checkWelcome(this.#hello, welcome);
    if (problem !== undefined) {
      this.#protocolViolation(new OutlastError(problem.code, problem.message, { details: { frame: "welcome" } }));
      return;
    }
    if (this.#connectTimer !== undefined) this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#link = "open";
    this.peerMaxFrameBytes = welcome.maxFrameBytes;
    this.#sentSeq = this.#ackedSeq = welcome.lastSeq;
    // A v2 server that keeps at least our pace beats on its own (docs/protocol.md §5): we ping only while owed an answer.
    const beatMs = welcome.beatMs ?? 0;
    this.serverBeats = beatMs > 0 && beatMs <= this.#o.heartbeatIntervalMs;
    this.#heartbeat = new Heartbeat({
      clock: this.#o.clock,
      intervalMs: this.#o.heartbeatIntervalMs,
      timeoutMs: this.#o.heartbeatTimeoutMs,
      serverBeats: this.serverBeats,
      ping: (nonce) => {
        if (!this.#closed) this.#socket.write(encodeFrame({ type: "ping", nonce }));
      },
      onTimeout: (err) => this.destroy(err),
    });
    this.#events.onOpen(welcome.lastSeq);
  }

  /** Tell the server what was wrong, then close. */
  #protocolViolation(err: Error): void {
    this.#error ??= err;
    this.#stopTimers();
    const code = err instanceof OutlastError ? err.code : "OUTLAST_PROTOCOL_ERROR";
    if (this.#socket.writable) this.#socket.end(encodeFrame(makeErrorFrame(code, err.message)));
    this.#linger();
  }

  #onEnd(): void {
    if (this.#error === undefined && !this.#goodbye) {
      try {
        this.#decoder.end();
      } catch (err) {
        // A FIN inside a frame: a cut link, not a protocol violation (link-errors.ts says why no `cause`).
        this.#error = closedInsideFrame(this.#link, err);
        return;
      }
      // The server's FIN without GOODBYE or ERROR: a crash, or a proxy or NAT box closing.
      // Not a byte in answer to HELLO on a plain link: what a TLS server does with plain text.
      const unanswered = this.#sniffing && this.#link === "handshaking" && !this.#secure;
      this.#error = closedWithoutGoodbye(this.#link, this.#href, unanswered);
    }
  }

  #linger(): void {
    if (this.#lingerTimer !== undefined || this.#closed) return;
    this.#lingerTimer = this.#o.clock.setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#socket.destroy();
    }, LINGER_MS);
  }

  #stopTimers(): void {
    if (this.#connectTimer !== undefined) this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#heartbeat?.stop();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#link = "closed";
    this.#stopTimers();
    if (this.#lingerTimer !== undefined) this.#o.clock.clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#events.onClose(this.#error, this.#goodbye);
  }
}
