/**
 * A tiny protocol client built on the codec only (no reconnects, no outbox), for
 * driving the server frame by frame: send exactly these bytes, expect exactly
 * these frames. Every wait has its own timeout so a test never hangs.
 */

import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { connect as tlsConnect } from "node:tls";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame } from "../../src/protocol/frame-encoder.js";
import type { AckFrame, ErrorFrame, Frame, HelloFrame, WelcomeFrame } from "../../src/protocol/frames.js";

export interface RawClientOptions {
  readonly port: number;
  readonly host?: string;
  /** Connect with TLS using these options. */
  readonly tls?: ConnectionOptions;
}

export interface HelloOptions {
  readonly clientId: string;
  readonly token?: Uint8Array | string;
  readonly minVersion?: number;
  readonly maxVersion?: number;
  readonly heartbeatIntervalMs?: number;
  readonly maxFrameBytes?: number;
}

const DEFAULT_WAIT_MS = 5000;

export class RawClient {
  readonly socket: Socket;
  /** Every frame received, in order (including consumed ones). */
  readonly received: Frame[] = [];
  /** Raw socket error, if any. */
  error: Error | undefined;
  #queue: Frame[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 0xffff_ffff });

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const f of this.#decoder.push(chunk)) {
          this.received.push(f);
          this.#queue.push(f);
        }
      } catch (err) {
        this.error = err as Error;
        socket.destroy();
      }
      this.#wake();
    });
    socket.on("error", (err) => (this.error = err));
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.#closed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  static connect(options: RawClientOptions): Promise<RawClient> {
    const host = options.host ?? "127.0.0.1";
    return new Promise((resolve, reject) => {
      const socket =
        options.tls === undefined
          ? netConnect({ port: options.port, host })
          : tlsConnect({ port: options.port, host, ...options.tls });
      const client = new RawClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`raw client: connect to ${host}:${options.port} timed out`));
      }, DEFAULT_WAIT_MS);
      socket.once(options.tls === undefined ? "connect" : "secureConnect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(client);
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err as Error);
      });
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(frame: Frame): void {
    this.socket.write(encodeFrame(frame));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  /** Sends HELLO and resolves with WELCOME; rejects with the ERROR frame's content when the server refuses. */
  async hello(options: HelloOptions, timeoutMs = DEFAULT_WAIT_MS): Promise<WelcomeFrame> {
    this.send(helloFrame(options));
    const frame = await this.next(timeoutMs);
    if (frame.type === "welcome") return frame;
    if (frame.type === "error")
      throw Object.assign(new Error(`server refused: ${frame.code} ${frame.message}`), { frame });
    throw new Error(`expected WELCOME, got ${frame.type}`);
  }

  /** Sends MESSAGE frames seq = from..from+count-1 in one write. */
  sendMessages(from: number, count: number, data: Uint8Array | string = "x"): void {
    const payload = typeof data === "string" ? Buffer.from(data) : data;
    const bufs: Buffer[] = [];
    for (let i = 0; i < count; i++) bufs.push(encodeFrame({ type: "message", seq: from + i, data: payload }));
    this.socket.write(Buffer.concat(bufs));
  }

  /** Next frame; rejects after timeoutMs or when the socket closed with nothing left to read. */
  async next(timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#queue.shift();
      if (f !== undefined) return f;
      if (this.#closed) throw new Error("raw client: connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`raw client: no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Skips frames until one matches; returns it. */
  async waitFor<T extends Frame>(match: (f: Frame) => f is T, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.next(Math.max(1, deadline - Date.now()));
      if (match(f)) return f;
    }
  }

  /** Waits until an ACK with seq >= `seq`; returns the sum of duplicates in the ACKs seen on the way. */
  async waitAck(seq: number, timeoutMs = DEFAULT_WAIT_MS): Promise<{ acks: AckFrame[]; duplicates: number }> {
    const acks: AckFrame[] = [];
    let duplicates = 0;
    for (;;) {
      const f = await this.waitFor(isAck, timeoutMs);
      acks.push(f);
      duplicates += f.duplicates;
      if (f.seq >= seq) return { acks, duplicates };
    }
  }

  /** Waits for an ERROR frame (skipping others). */
  waitError(timeoutMs = DEFAULT_WAIT_MS): Promise<ErrorFrame> {
    return this.waitFor(isError, timeoutMs);
  }

  /** Resolves when the server closed the connection, or rejects after timeoutMs. */
  async waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`raw client: not closed within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Ends our side and waits for the close. */
  async close(): Promise<void> {
    this.socket.end();
    await this.waitClosed().catch(() => this.socket.destroy());
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A HELLO; versions default to [1, 1] (a v1 client: no beats from the server), heartbeatIntervalMs to 2000. */
export function helloFrame(options: HelloOptions): HelloFrame {
  const token = options.token ?? new Uint8Array(0);
  return {
    type: "hello",
    minVersion: options.minVersion ?? 1,
    maxVersion: options.maxVersion ?? 1,
    clientId: options.clientId,
    token: typeof token === "string" ? Buffer.from(token) : token,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2000,
    maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
  };
}

export function isAck(f: Frame): f is AckFrame {
  return f.type === "ack";
}

export function isError(f: Frame): f is ErrorFrame {
  return f.type === "error";
}

/** Connects and completes the handshake. */
export async function openClient(
  port: number,
  clientId: string,
  extra: Omit<HelloOptions, "clientId"> & { tls?: ConnectionOptions } = {},
): Promise<{ client: RawClient; welcome: WelcomeFrame }> {
  const client = await RawClient.connect(extra.tls === undefined ? { port } : { port, tls: extra.tls });
  const welcome = await client.hello({ clientId, ...extra });
  return { client, welcome };
}
