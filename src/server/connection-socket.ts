/**
 * The socket side of one server connection, the base of ServerConnection: the socket's
 * listeners (the same three functions for every socket: no closure per connection),
 * the shared read budget and the two reasons reading pauses (backpressure from the
 * registry; a chunk set aside for a later turn), whether anything arrived since the
 * last idle sweep, writes with a backlog limit, ending with a last frame, and the
 * `closed` promise. What the bytes mean is ServerConnection's business.
 *
 * Memory matters here: a server holds tens of thousands of these, mostly idle. So
 * nothing is allocated per connection beyond the object itself: no timer (the idle
 * limit is one IdleSweep per server), no promise until someone awaits `closed`.
 */

import type { Socket } from "node:net";
import type { DeferredReader, ReadBudget } from "./read-budget.js";

/** A peer that does not read what we send (acks, pongs) is cut off past this backlog. */
const MAX_WRITE_BACKLOG_BYTES = 1024 * 1024;
/** The socket's own connection, so the listeners can be shared. */
const OWNER = Symbol("outlast.connection");
type OwnedSocket = Socket & { [OWNER]: ConnectionSocket };

export abstract class ConnectionSocket implements DeferredReader {
  protected readonly socket: Socket;
  readonly #readBudget: ReadBudget;
  /** Something arrived since the last idle sweep; since when (sweep time) nothing has. */
  #heard = false;
  #quietSinceMs = 0;
  /** The `closed` promise, made only when someone asks (server close/drain). */
  #closed: { promise: Promise<void>; resolve: () => void } | undefined;
  #socketClosed = false;
  /** Reading is paused: the registry's backpressure (flow), or a chunk waiting for a later turn (budget). */
  #flowPaused = false;
  #budgetPaused = false;

  constructor(socket: Socket, readBudget: ReadBudget) {
    this.socket = socket;
    this.#readBudget = readBudget;
    void socket.remoteAddress; // read once, so Node keeps the peer's address for events after the socket is gone
    (socket as OwnedSocket)[OWNER] = this;
    socket.on("data", ConnectionSocket.#onSocketData);
    socket.on("error", ConnectionSocket.#onSocketError);
    socket.on("close", ConnectionSocket.#onSocketClose);
  }

  /** Handles a chunk the read budget admitted (now or on a later turn). */
  protected abstract read(chunk: Buffer): void;
  /** The connection has ended (FIN sent or destroyed): nothing more is written or read. */
  protected abstract isClosed(): boolean;
  /** ECONNRESET, EPIPE, TLS alerts...; 'close' follows. */
  protected abstract socketError(err: Error): void;
  protected abstract socketClosed(): void;
  /** The peer let MAX_WRITE_BACKLOG_BYTES pile up unread: the connection must go. */
  protected abstract slowReader(): void;

  static #onSocketData(this: Socket, chunk: Buffer): void {
    (this as OwnedSocket)[OWNER].#onData(chunk);
  }

  static #onSocketError(this: Socket, err: Error): void {
    (this as OwnedSocket)[OWNER].socketError(err);
  }

  static #onSocketClose(this: Socket): void {
    const conn = (this as OwnedSocket)[OWNER];
    conn.socketClosed();
    conn.#socketClosed = true;
    conn.#closed?.resolve();
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** Resolves when the socket is closed. */
  get closed(): Promise<void> {
    if (this.#socketClosed) return Promise.resolve();
    if (this.#closed === undefined) {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => (resolve = r));
      this.#closed = { promise, resolve };
    }
    return this.#closed.promise;
  }

  // ---- reading ----

  #onData(chunk: Buffer): void {
    this.#heard = true;
    if (this.isClosed()) return;
    if (this.#readBudget.admit(this, chunk)) {
      this.read(chunk);
      this.#readBudget.done();
      return;
    }
    // This turn's read budget is spent: the chunk waits for a later turn, nothing more from this socket until then.
    this.#budgetPaused = true;
    this.socket.pause();
  }

  /** A chunk the read budget set aside comes back on a later turn. */
  readLater(chunk: Buffer): void {
    this.#budgetPaused = false;
    if (this.isClosed()) return;
    this.read(chunk);
    if (!this.#flowPaused && !this.isClosed() && !this.#budgetPaused) this.socket.resume();
  }

  /** Backpressure: the registry has too much queued for this client. */
  pause(): void {
    this.#flowPaused = true;
    this.socket.pause();
  }

  resume(): void {
    this.#flowPaused = false;
    if (!this.isClosed() && !this.#budgetPaused) this.socket.resume();
  }

  // ---- silence (the idle sweep asks) ----

  /** Starts counting silence from `nowMs` (sweep time). */
  protected quietFrom(nowMs: number): void {
    this.#heard = false;
    this.#quietSinceMs = nowMs;
  }

  /** How long (at least) nothing has arrived, as of this sweep at `nowMs`: 0 when something arrived since the last one. */
  protected silentMs(nowMs: number): number {
    if (this.#heard) {
      this.quietFrom(nowMs);
      return 0;
    }
    return nowMs - this.#quietSinceMs;
  }

  // ---- writing and ending ----

  protected write(buf: Buffer): void {
    const socket = this.socket;
    if (this.isClosed() || socket.destroyed || socket.writableEnded) return;
    socket.write(buf);
    if (socket.writableLength > MAX_WRITE_BACKLOG_BYTES) this.slowReader();
  }

  /** Sends `last` (if any) and FIN, and keeps reading (discarding) until the peer's FIN. */
  protected endSocket(last: Buffer | undefined): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (last !== undefined) socket.write(last);
    socket.resume();
    socket.end();
  }

  protected destroySocket(): void {
    this.socket.destroy();
  }
}
