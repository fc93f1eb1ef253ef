/**
 * The stream MQTT.js reads from and writes to: our socket, with every write
 * MQTT.js makes while corked copied into one buffer.
 *
 * MQTT.js (mqtt-packet's writeToStream) writes a PUBLISH as many small
 * chunks: fixed header, length, topic length, topic, packet id, properties
 * length, and per user property its id, name length, name, value length,
 * value; then the payload, about 16 writes for an outlast message. It corks
 * the stream around each packet and uncorks on the next tick, so a batch of
 * PUBLISHes reaches a bare socket as one writev of ~1,000 chunks, strings
 * among them: measured, that writev was a third of a busy publisher's CPU.
 * Here the corked chunks are copied into one Buffer and the socket gets a
 * single write per batch. MQTT.js still encodes every packet; this only moves
 * bytes.
 *
 * Backpressure: a flush hands the bytes to the socket at once and completes
 * the write, so the socket's buffer is the one that fills
 * (`writableNeedDrain` and 'drain' of the socket, and of this stream while a
 * corked batch grows past its high-water mark). Reads pass through with the
 * socket paused while MQTT.js is behind.
 */

import { Duplex } from "node:stream";
import type { Socket } from "node:net";

interface Chunk {
  chunk: Buffer | string;
  encoding: BufferEncoding | "buffer";
}

export class WriteCoalescer extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    super({ decodeStrings: false, allowHalfOpen: false });
    this.#socket = socket;
    socket.on("data", (data: Buffer) => {
      if (!this.push(data)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (err: Error) => this.destroy(err));
    socket.on("close", () => this.destroy());
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding | "buffer", done: (err?: Error) => void): void {
    if (typeof chunk === "string") this.#socket.write(chunk, encoding as BufferEncoding);
    else this.#socket.write(chunk);
    done();
  }

  override _writev(chunks: Chunk[], done: (err?: Error) => void): void {
    // Strings take at most 3 bytes per UTF-16 unit in UTF-8: size for that, write, then trim.
    let most = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = (chunks[i] as Chunk).chunk;
      most += typeof c === "string" ? c.length * 3 : c.length;
    }
    const out = Buffer.allocUnsafe(most);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      const { chunk, encoding } = chunks[i] as Chunk;
      if (typeof chunk === "string") at += out.write(chunk, at, encoding === "buffer" ? "utf8" : encoding);
      else {
        out.set(chunk, at);
        at += chunk.length;
      }
    }
    this.#socket.write(at === most ? out : out.subarray(0, at));
    done();
  }

  override _final(done: (err?: Error) => void): void {
    this.#socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.#socket.destroy();
    done(err);
  }
}
