/**
 * The primary's first look at each socket: read until its first frame is complete (the decoder of
 * src/protocol, with the HELLO size limit: no second parser), then hand it on with every byte read.
 * A HELLO names its clientId (the pool routes it to that clientId's worker); anything else (garbage,
 * an HTTP request, a TLS ClientHello, an oversized length, a FIN, nothing within helloWaitMs) goes on
 * without one, so a worker answers it exactly as a plain server would.
 *
 * Per socket: a few fields on one small object (the chunks, a decoder made on the first byte), the
 * socket's listeners shared by all (no closure per socket), and no timer: one sweep for helloWaitMs
 * walks the sockets in arrival order (their deadlines grow with it, like turn-away.ts).
 */

import type { Socket } from "node:net";
import type { Clock } from "../../errors/clock.js";
import { FrameDecoder } from "../../protocol/frame-decoder.js";
import type { Frame } from "../../protocol/frames.js";
import { MAX_HELLO_FRAME_BYTES } from "../../protocol/limits.js";
import { DeadlineQueue } from "../deadline-queue.js";

/** Called once per socket that did not close first: `clientId` when its first frame was a valid HELLO. */
export type HelloDone = (socket: Socket, head: Buffer, clientId: string | undefined) => void;

interface Reading {
  readonly reader: HelloReader;
  chunks: Buffer[];
  decoder: FrameDecoder | undefined;
}

const READING = Symbol("outlast.pool.reading");
type ReadingSocket = Socket & { [READING]?: Reading | undefined };

export function ignoreError(): void {}

/** The libuv handle under a net.Socket (Node's own `_handle`; `reading` is Node's flag for an active readStart). */
interface StreamHandle {
  reading?: boolean;
  readStop?: () => number;
}

/**
 * Stops the socket's descriptor from being read in this process, as Node's own Socket.pause() does for a
 * socket with an `onread` buffer (a plain pause() only stops 'data' events: libuv keeps reading).
 */
function stopReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (handle?.reading !== true || typeof handle.readStop !== "function") return;
  handle.reading = false;
  handle.readStop();
}

export class HelloReader {
  readonly #done: HelloDone;
  /** Sockets in arrival order, each handed on anyway waitMs after it came (if still being read). */
  readonly #waiting: DeadlineQueue<ReadingSocket>;

  constructor(clock: Clock, waitMs: number, done: HelloDone) {
    this.#done = done;
    this.#waiting = new DeadlineQueue<ReadingSocket>(clock, waitMs, (s) => {
      if (s[READING] !== undefined) this.#finish(s, undefined);
    });
  }

  /** Sockets whose first frame is still awaited. */
  get reading(): number {
    let n = 0;
    this.#waiting.forEach((s) => {
      if (s[READING] !== undefined) n++;
    });
    return n;
  }

  /** Starts reading a socket accepted paused. */
  read(socket: Socket): void {
    const s = socket as ReadingSocket;
    s[READING] = { reader: this, chunks: [], decoder: undefined };
    s.on("error", ignoreError); // kept: the socket may fail until a worker owns it
    s.on("data", HelloReader.#onData);
    s.on("end", HelloReader.#onEnd);
    s.on("close", HelloReader.#onClose);
    this.#waiting.add(s);
    s.resume();
  }

  /** Stops reading every socket still being read and gives each to `each` (the pool is closing). */
  abandonAll(each: (socket: Socket) => void): void {
    this.#waiting.clear((s) => {
      if (s[READING] === undefined) return;
      HelloReader.#detach(s);
      each(s);
    });
  }

  static #onData(this: Socket, chunk: Buffer): void {
    const s = this as ReadingSocket;
    const r = s[READING];
    if (r === undefined) return;
    r.chunks.push(chunk);
    let frames: Frame[];
    try {
      frames = (r.decoder ??= new FrameDecoder({ maxFrameBytes: MAX_HELLO_FRAME_BYTES })).push(chunk);
    } catch {
      r.reader.#finish(s, undefined); // not a frame the server reads first: a worker answers it
      return;
    }
    const first = frames[0];
    if (first !== undefined) r.reader.#finish(s, first.type === "hello" ? first.clientId : undefined);
  }

  static #onEnd(this: Socket): void {
    const s = this as ReadingSocket;
    const r = s[READING];
    if (r !== undefined) r.reader.#finish(s, undefined); // FIN before a whole frame: a worker answers as a plain server would
  }

  static #onClose(this: Socket): void {
    HelloReader.#detach(this); // gone before a worker got it: nothing to hand on
  }

  /** Removes our listeners (not the error one) and the reading state; returns the chunks read. */
  static #detach(s: ReadingSocket): Buffer[] {
    const chunks = s[READING]?.chunks ?? [];
    s[READING] = undefined;
    s.off("data", HelloReader.#onData);
    s.off("end", HelloReader.#onEnd);
    s.off("close", HelloReader.#onClose);
    return chunks;
  }

  #finish(s: ReadingSocket, clientId: string | undefined): void {
    const chunks = HelloReader.#detach(s);
    // Take every byte already read, then stop the descriptor's reads here: from the moment Node sends the handle
    // until the worker's ACK of it comes back (when Node closes the primary's copy), whatever this process still
    // read would go nowhere (Node sets the handle's onread to a no-op). Unread bytes stay in the kernel for the worker.
    s.pause();
    for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) chunks.push(c);
    stopReading(s);
    this.#done(s, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), clientId);
  }
}
