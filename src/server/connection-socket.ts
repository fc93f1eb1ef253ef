/**
 * The socket side of one server connection, the base of ConnectionLifecycle and ServerConnection: the socket's
 * listeners (the same three functions for every socket: no closure per connection),
 * the shared read budget and the two reasons reading pauses (backpressure from the
 * registry; a chunk set aside for a later turn), whether anything arrived or was
 * written since the last idle sweep, writes with a backlog limit, ending with a last frame, and the
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
/** Something arrived since the last idle sweep. */
const HEARD = 1;
/** The socket emitted 'close'. */
const SOCKET_CLOSED = 2;
/** Reading is paused by the registry's backpressure / while a chunk waits for a later turn (read budget). */
const FLOW_PAUSED = 4;
const BUDGET_PAUSED = 8;
/** Something was written since the last idle sweep. */
const WROTE = 16;

export abstract class ConnectionSocket implements DeferredReader {
  protected readonly socket: Socket;
  /** HEARD | SOCKET_CLOSED | FLOW_PAUSED | BUDGET_PAUSED | WROTE: one small integer, not five fields per connection. */
  #flags = 0;
  /** Since when (sweep time) nothing has arrived, unless HEARD. */
  #quietSinceMs = 0;
  /** Since when (sweep time) nothing was written, unless WROTE. */
  #writeQuietSinceMs = 0;
  /** The `closed` promise, made only when someone asks (server close/drain). */
  #closed: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    void socket.remoteAddress; // read once, so Node keeps the peer's address for events after the socket is gone
    (socket as OwnedSocket)[OWNER] = this;
    socket.on("data", ConnectionSocket.#onSocketData);
    socket.on("error", ConnectionSocket.#onSocketError);
    socket.on("close", ConnectionSocket.#onSocketClose);
    socket.setNoDelay(true);
    socket.resume(); // the server accepts paused (a refused socket is never read)
  }

  /** The server's read budget (shared by every connection). */
  protected abstract readBudget(): ReadBudget;
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
    conn.#flags |= SOCKET_CLOSED;
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
    if ((this.#flags & SOCKET_CLOSED) !== 0) return Promise.resolve();
    if (this.#closed === undefined) {
      let resolve = (): void => {};
      const promise = new Promise<void>((r) => (resolve = r));
      this.#closed = { promise, resolve };
    }
    return this.#closed.promise;
  }

  // ---- reading ----

  #onData(chunk: Buffer): void {
    this.#flags |= HEARD;
    if (this.isClosed()) return;
    const budget = this.readBudget();
    if (budget.admit(this, chunk)) {
      this.read(chunk);
      budget.done();
      return;
    }
    // This turn's read budget is spent: the chunk waits for a later turn, nothing more from this socket until then.
    this.#flags |= BUDGET_PAUSED;
    this.socket.pause();
  }

  /** A chunk the read budget set aside comes back on a later turn. */
  readLater(chunk: Buffer): void {
    this.#flags &= ~BUDGET_PAUSED;
    if (this.isClosed()) return;
    this.read(chunk);
    if ((this.#flags & (FLOW_PAUSED | BUDGET_PAUSED)) === 0 && !this.isClosed()) this.socket.resume();
  }

  /** Backpressure: the registry has too much queued for this client. */
  pause(): void {
    this.#flags |= FLOW_PAUSED;
    this.socket.pause();
  }

  resume(): void {
    this.#flags &= ~FLOW_PAUSED;
    if (!this.isClosed() && (this.#flags & BUDGET_PAUSED) === 0) this.socket.resume();
  }

  // ---- silence, both ways (the idle sweep asks) ----

  /** Starts counting silence (both ways) from `nowMs` (sweep time). */
  protected quietFrom(nowMs: number): void {
    this.#flags &= ~(HEARD | WROTE);
    this.#quietSinceMs = nowMs;
    this.#writeQuietSinceMs = nowMs;
  }

  /** How long (at least) nothing has arrived, as of this sweep at `nowMs`: 0 when something arrived since the last one. */
  protected silentMs(nowMs: number): number {
    if ((this.#flags & HEARD) !== 0) {
      this.quietFrom(nowMs);
      return 0;
    }
    return nowMs - this.#quietSinceMs;
  }

  /** How long (at least) nothing was written, as of this sweep at `nowMs`: 0 when something was since the last one. */
  protected writeSilentMs(nowMs: number): number {
    if ((this.#flags & WROTE) !== 0) {
      this.#flags &= ~WROTE;
      this.#writeQuietSinceMs = nowMs;
      return 0;
    }
    return nowMs - this.#writeQuietSinceMs;
  }

  // ---- writing and ending ----

  protected write(buf: Buffer): void {
    const socket = this.socket;
    if (this.isClosed() || socket.destroyed || socket.writableEnded) return;
    this.#flags |= WROTE;
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
