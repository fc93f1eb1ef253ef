/**
 * One flow of a link: reads from one socket, passes every item through the
 * stages of the stream faults that act on this flow, writes to the other
 * socket. Items go one at a time, in order. Backpressure is kept: the source is
 * paused while the queue holds HIGH_WATER_BYTES or more, and a write that the
 * destination cannot take yet is awaited ('drain').
 */

import type { Socket } from "node:net";
import type { Clock } from "../errors/clock.js";
import type { Flow, Item, Stage } from "./faults/fault.js";

const HIGH_WATER_BYTES = 64 * 1024;

/** What a pipe needs from its link. */
export interface PipeOwner {
  readonly clock: Clock;
  /** The stages that act on `flow` now, in order. */
  stagesFor(flow: Flow): readonly Stage[];
  /** `n` bytes were written to the destination. */
  forwarded(flow: Flow, n: number): void;
  /** A bug in a stage: the link is destroyed. */
  failed(err: unknown): void;
}

export class Pipe {
  readonly flow: Flow;
  readonly #source: Socket;
  readonly #sink: Socket;
  readonly #owner: PipeOwner;
  readonly #queue: Item[] = [];
  #queuedBytes = 0;
  #pumping = false;
  /** The destination was ended (FIN) or reset: later items are dropped. */
  #sinkDone = false;
  #userPaused = false;
  #sourcePaused = false;
  #stopped = false;

  constructor(flow: Flow, source: Socket, sink: Socket, owner: PipeOwner) {
    this.flow = flow;
    this.#source = source;
    this.#sink = sink;
    this.#owner = owner;
  }

  start(): void {
    this.#source.on("data", (data: Buffer) => {
      this.#push({ type: "data", data, at: this.#owner.clock.now() });
    });
    this.#source.on("end", () => {
      this.#push({ type: "end", at: this.#owner.clock.now() });
    });
    this.#source.on("error", () => {
      // The peer reset (or the socket failed): pass an RST on, after what came before it.
      this.#push({ type: "reset", at: this.#owner.clock.now() });
    });
    this.#source.resume();
  }

  /** True once FIN or RST was sent to the destination. */
  get done(): boolean {
    return this.#sinkDone;
  }

  /** Stops reading the source (the link's pause). */
  pause(): void {
    this.#userPaused = true;
    this.#source.pause();
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#sourcePaused && !this.#source.destroyed) this.#source.resume();
  }

  /** Sends FIN to the destination now (after what was already written); drops what is queued and what comes later. */
  finish(): void {
    this.#drop();
    if (this.#sinkDone) return;
    this.#sinkDone = true;
    if (!this.#sink.destroyed && !this.#sink.writableEnded) this.#sink.end();
  }

  /** Sends RST to the destination now; drops what is queued and what comes later. */
  reset(): void {
    this.#drop();
    this.#sinkDone = true;
    if (this.#sink.destroyed) return;
    // libuv refuses an RST on a socket we already ended (a close fault came first): "reset EINVAL",
    // and the socket never emits 'close'. Its FIN is out already; destroying it is all that is left.
    if (this.#sink.writableEnded) this.#sink.destroy();
    else this.#sink.resetAndDestroy();
  }

  /** The link closed: drop everything, stop pumping. */
  stop(): void {
    this.#stopped = true;
    this.#drop();
  }

  #drop(): void {
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#maybeResumeSource();
  }

  #push(item: Item): void {
    if (this.#stopped || this.#sinkDone) return; // nowhere to go: read and discard, so the peer is not stuck
    this.#queue.push(item);
    if (item.type === "data") {
      this.#queuedBytes += item.data.length;
      if (this.#queuedBytes >= HIGH_WATER_BYTES && !this.#sourcePaused) {
        this.#sourcePaused = true;
        this.#source.pause();
      }
    }
    if (!this.#pumping) void this.#pump();
  }

  #maybeResumeSource(): void {
    if (this.#sourcePaused && this.#queuedBytes < HIGH_WATER_BYTES / 2) {
      this.#sourcePaused = false;
      if (!this.#userPaused && !this.#source.destroyed) this.#source.resume();
    }
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (;;) {
        const item = this.#queue.shift();
        if (item === undefined || this.#stopped) break;
        const stages = this.#owner.stagesFor(this.flow);
        const run = (i: number, it: Item): Promise<void> => {
          const stage = stages[i];
          return stage === undefined ? this.#deliver(it) : stage.process(it, (x) => run(i + 1, x));
        };
        await run(0, item);
        if (item.type === "data") {
          this.#queuedBytes = Math.max(0, this.#queuedBytes - item.data.length);
          this.#maybeResumeSource();
        }
      }
    } catch (err) {
      this.#owner.failed(err);
    } finally {
      this.#pumping = false;
    }
  }

  async #deliver(item: Item): Promise<void> {
    const sink = this.#sink;
    if (this.#stopped || this.#sinkDone || sink.destroyed) return;
    switch (item.type) {
      case "data": {
        this.#owner.forwarded(this.flow, item.data.length);
        if (!sink.write(item.data)) await drainOrClose(sink);
        return;
      }
      case "end":
        this.finish();
        return;
      case "reset":
        this.reset();
        return;
      default: {
        const never: never = item;
        throw new Error(`unknown item ${String(never)}`);
      }
    }
  }
}

function drainOrClose(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}
