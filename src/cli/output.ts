/**
 * Where a command writes its data (stdout or a file), with a promise per write
 * that settles only when the bytes were handed to the OS, so a caller can
 * acknowledge exactly what was written:
 *
 * - a regular file (`--output FILE`, or stdout redirected to a file): writes are
 *   group-committed, every batch is fdatasync'd before its promises resolve;
 * - anything else (a pipe, a terminal, /dev/null): the write callback of the stream.
 *
 * A failed output (EPIPE when the reader of a pipe went away, ENOSPC, EIO) never
 * throws out of an event handler: every pending and later write rejects with the
 * error, and `failed` resolves with it once.
 */

import { close, fdatasync, fstat, open, write } from "node:fs";
import type { Writable } from "node:stream";
import { promisify } from "node:util";

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fstatAsync = promisify(fstat);
const fdatasyncAsync = promisify(fdatasync);
const writeAsync = promisify(write);

export interface OutputSink {
  /** What the output is, for messages: `stdout` or the file's path. */
  readonly name: string;
  /** True when writes are fdatasync'd before they resolve. */
  readonly synced: boolean;
  /** Resolves when the bytes were written (and synced, when `synced`); rejects when the output failed. */
  write(chunk: Uint8Array): Promise<void>;
  /** Resolves, once, with the error that broke the output. Never rejects. */
  readonly failed: Promise<Error>;
  /** Waits for pending writes, then closes what the sink opened. Idempotent. */
  close(): Promise<void>;
}

interface Pending {
  readonly chunk: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

class Failure {
  error: Error | undefined;
  readonly failed: Promise<Error>;
  #resolve: (err: Error) => void = () => {};
  constructor() {
    this.failed = new Promise((resolve) => (this.#resolve = resolve));
  }
  set(err: Error): void {
    if (this.error !== undefined) return;
    this.error = err;
    this.#resolve(err);
  }
}

/** Writes to a file descriptor with group commit: one write() and one fdatasync per batch. */
class FdSink implements OutputSink {
  readonly failed: Promise<Error>;
  readonly #failure = new Failure();
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly synced: boolean,
    readonly ownsFd: boolean,
  ) {
    this.failed = this.#failure.failed;
  }

  write(chunk: Uint8Array): Promise<void> {
    const failed = this.#failure.error;
    if (failed !== undefined) return Promise.reject(failed);
    if (this.#closed !== undefined) return Promise.reject(new Error(`${this.name} is closed`));
    return new Promise((resolve, reject) => {
      this.#queue.push({ chunk, resolve, reject });
      // #drain clears #running itself, in the same turn it sees the queue empty: no lost wake-up.
      this.#running ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        const bytes = Buffer.concat(batch.map((p) => p.chunk));
        for (let off = 0; off < bytes.length;)
          off += (await writeAsync(this.fd, bytes, off, bytes.length - off, null)).bytesWritten;
        if (this.synced) await fdatasyncAsync(this.fd);
        for (const p of batch) p.resolve();
      } catch (err) {
        this.#failure.set(err as Error);
        for (const p of [...batch, ...this.#queue.splice(0)]) p.reject(err as Error);
      }
    }
    this.#running = undefined;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#running;
      if (this.ownsFd) await closeAsync(this.fd);
    })();
    return this.#closed;
  }
}

/** Writes to a stream (stdout on a pipe or terminal): each write resolves in its callback. */
class StreamSink implements OutputSink {
  readonly synced = false;
  readonly failed: Promise<Error>;
  readonly #failure = new Failure();
  readonly #pending = new Set<Pending>();
  readonly #inflight = new Set<Promise<void>>();
  #closed: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly stream: Writable,
  ) {
    this.failed = this.#failure.failed;
    const fail = (err: Error): void => {
      this.#failure.set(err);
      for (const p of this.#pending) p.reject(err);
      this.#pending.clear();
    };
    stream.on("error", fail);
    stream.on("close", () => fail(Object.assign(new Error(`${name} was closed`), { code: "EPIPE" })));
  }

  write(chunk: Uint8Array): Promise<void> {
    const failed = this.#failure.error;
    if (failed !== undefined) return Promise.reject(failed);
    const written = new Promise<void>((resolve, reject) => {
      const p: Pending = { chunk, resolve, reject };
      this.#pending.add(p);
      this.stream.write(chunk, (err) => {
        if (!this.#pending.delete(p)) return; // already rejected by the stream's failure
        if (err === undefined || err === null) resolve();
        else reject(err);
      });
    });
    this.#inflight.add(written);
    const forget = (): void => void this.#inflight.delete(written);
    written.then(forget, forget);
    return written;
  }

  /** The stream is not ours to end (stdout): waits for what we wrote. */
  close(): Promise<void> {
    this.#closed ??= Promise.allSettled([...this.#inflight]).then(() => undefined);
    return this.#closed;
  }
}

async function isRegularFile(fd: number): Promise<boolean> {
  try {
    return (await fstatAsync(fd)).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens the output: `-` (or undefined) is stdout, anything else a file opened for
 * appending (created if missing). Rejects with the open error (ENOENT, EACCES, ...).
 */
export async function openOutput(target: string | undefined): Promise<OutputSink> {
  if (target === undefined || target === "-") {
    if (await isRegularFile(1)) return new FdSink("stdout", 1, true, false);
    return new StreamSink("stdout", process.stdout);
  }
  const fd = await openAsync(target, "a");
  return new FdSink(target, fd, await isRegularFile(fd), true);
}
