/**
 * Contender "plain-tcp": the limit. Plain node:net with outlast's own framing
 * (src/protocol: length-prefixed MESSAGE frames, cumulative ACK frames) and
 * nothing else: no handshake, no outbox, no dedup, no per-message promise,
 * no heartbeat. The client copies a batch of frames into one buffer per write
 * (as outlast's client does); the server acknowledges the highest seq once per
 * received chunk (outlast's server coalesces once per event-loop turn).
 */

import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { FrameDecoder } from "../../src/protocol/frame-decoder.js";
import { encodeFrame, writeMessageHeader } from "../../src/protocol/frame-encoder.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../../src/protocol/frames.js";
import { MESSAGE_HEADER_BYTES } from "../../src/protocol/limits.js";
import type { BenchClient, Contender } from "./contender.js";
import { forkNodeServer } from "./node-server-process.js";

/** Frames are copied into buffers of at most this size (as outlast's client does). */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** Server side (runs in server-child): decode frames, ack the highest seq once per chunk. */
export async function servePlainTcp(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
    let lastSeq = 0;
    socket.on("data", (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      const before = lastSeq;
      for (const f of frames) if (f.type === "message") lastSeq = f.seq;
      if (lastSeq !== before) socket.write(encodeFrame({ type: "ack", seq: lastSeq, duplicates: 0 }));
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

class PlainTcpClient implements BenchClient {
  readonly #socket: net.Socket;
  readonly #decoder = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
  #nextSeq = 1;
  #ackedSeq = 0;
  #onAck: (() => void) | undefined;
  #failed: ((err: Error) => void) | undefined;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const f of this.#decoder.push(chunk)) if (f.type === "ack") this.#ackedSeq = f.seq;
      this.#onAck?.();
    });
    const fail = (err?: Error) => this.#failed?.(err ?? new Error("plain-tcp: connection closed"));
    socket.on("error", fail);
    socket.on("close", () => fail());
  }

  /** Writes frames nextSeq..toSeq, copied into buffers of at most WRITE_BUFFER_BYTES. */
  #writeUpTo(toSeq: number, payload: Buffer): void {
    const frameBytes = MESSAGE_HEADER_BYTES + payload.length;
    const perBuffer = Math.max(1, Math.floor(WRITE_BUFFER_BYTES / frameBytes));
    while (this.#nextSeq <= toSeq) {
      const n = Math.min(perBuffer, toSeq - this.#nextSeq + 1);
      const buf = Buffer.allocUnsafe(n * frameBytes);
      let o = 0;
      for (let i = 0; i < n; i++) {
        o = writeMessageHeader(buf, o, this.#nextSeq++, payload.length);
        o += payload.copy(buf, o);
      }
      this.#socket.write(buf);
    }
  }

  pipelined(payload: Buffer, count: number, window: number): Promise<number> {
    const first = this.#nextSeq;
    const last = first + count - 1;
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      const fill = () => {
        if (this.#ackedSeq >= last) {
          this.#onAck = undefined;
          resolve(this.#ackedSeq - first + 1);
          return;
        }
        const upTo = Math.min(last, this.#ackedSeq + window);
        if (this.#nextSeq <= upTo) this.#writeUpTo(upTo, payload);
      };
      this.#onAck = fill;
      fill();
    });
  }

  roundTrip(payload: Buffer): Promise<void> {
    return this.pipelined(payload, 1, 1).then(() => undefined);
  }

  async close(): Promise<void> {
    this.#failed = undefined;
    this.#socket.end();
    if (!this.#socket.destroyed) await once(this.#socket, "close");
  }
}

export const contender: Contender = {
  name: "plain-tcp",
  description: "node:net + outlast framing, no handshake/outbox/dedup/promises (the limit)",
  clientVersion: () => `node:net ${process.version}`,
  startServer: (o) => forkNodeServer("plain-tcp", `node:net ${process.version}`, o.execArgv),
  async openClient(port: number): Promise<BenchClient> {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
    await once(socket, "connect");
    return new PlainTcpClient(socket);
  },
};
