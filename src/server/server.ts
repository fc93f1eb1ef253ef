/**
 * The outlast server: accepts TCP or TLS connections, enforces maxConnections,
 * owns the client registry and the dedup state, drains on close().
 */

import { EventEmitter } from "node:events";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { createServer as createNetServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { debuglog } from "node:util";
import { OutlastError } from "../errors/outlast-error.js";
import type { HandlerFailure } from "./client-registry.js";
import { ClientRegistry } from "./client-registry.js";
import type { DedupState } from "./dedup-state.js";
import { clientErrorChannel, connectionChannel } from "./diagnostics.js";
import { hardConnectionLimit } from "./fd-limit.js";
import { FileDedupState } from "./file-dedup-state.js";
import { MemoryDedupState } from "./memory-dedup-state.js";
import type { ListenOptions, ResolvedServerOptions, ServerOptions } from "./options.js";
import { DEFAULT_LISTEN_HOST, resolveServerOptions } from "./options.js";
import { ServerConnection } from "./server-connection.js";
import { IdleSweep, idleSweepPeriodMs } from "./idle-sweep.js";
import { ReadBudget } from "./read-budget.js";
import { TurnAway } from "./turn-away.js";
import type { ClientIdFilter, ConnectionEvent, ConnectionInfo, ServerContext } from "./server-context.js";
import { setClientIdFilter, usesTls } from "./server-context.js";

const debug = debuglog("outlast");

/** A socket's error listener until a ServerConnection (or the rejection path) owns it: one function for all. */
function ignoreError(): void {}

export interface ServerStats {
  /** Open connections (handshaking, open or draining). */
  readonly connections: number;
  /** clientIds the server has state for. */
  readonly clients: number;
  /** Handler calls that succeeded (plus dead-lettered messages). */
  readonly messagesProcessed: number;
  /** Resends skipped because their seq was already processed (acknowledged without a handler call). */
  readonly duplicatesSkipped: number;
  /** Handler calls that threw or rejected. */
  readonly handlerFailures: number;
  /** Messages given to onDeadLetter after maxHandlerAttempts failures. */
  readonly deadLettered: number;
  /** Connections closed for a protocol violation (garbage, oversized frame, frame out of order...). */
  readonly protocolErrors: number;
  /** Connections rejected by `authenticate`. */
  readonly authRejected: number;
  /** Connections turned away with OUTLAST_SERVER_BUSY (maxConnections). */
  readonly busyRejected: number;
  /** Connections turned away with OUTLAST_SERVER_BUSY while maxPendingHandshakes handshakes were under way (a storm). */
  readonly handshakesBusyRejected: number;
  /**
   * Connections closed without a frame at the file-descriptor limit: past the hard limit (the fd limit
   * minus half the reserve, fd-limit.ts), or refused by the kernel (EMFILE/ENFILE on accept).
   */
  readonly fdRefused: number;
  /** PINGs answered (v1 clients' heartbeats: ~1 per heartbeatIntervalMs per idle client, none on a busy link). */
  readonly pings: number;
  /** Beats sent on v2 links (one-way PONGs and PINGs that ask for an answer: ~1 per 7 s per idle client, none on a busy link). */
  readonly beats: number;
  /** Sockets accepted since start. */
  readonly connectionsAccepted: number;
}

export interface ServerEvents {
  /** A client finished its handshake. */
  connection: [event: ConnectionEvent];
  /** A problem with one connection (protocol error, auth rejected, timeouts, socket error); the server keeps serving. */
  clientError: [error: Error, info: ConnectionInfo];
  /** onMessage threw or rejected; the message was not acknowledged (or went to onDeadLetter). */
  handlerError: [error: unknown, info: HandlerFailure];
  /** The server itself failed (e.g. the state directory could not be written): it stops serving. */
  error: [error: Error];
}

type Phase = "idle" | "listening" | "closing" | "closed";

export class Server extends EventEmitter<ServerEvents> {
  readonly #options: ResolvedServerOptions;
  readonly #state: DedupState;
  readonly #registry: ClientRegistry;
  readonly #net: NetServer;
  readonly #connections = new Set<ServerConnection>();
  /** Refuses sockets (full / closing) cheaply, and keeps those still open. */
  readonly #turnAway: TurnAway;
  readonly #context: ServerContext;
  readonly #idleSweep: IdleSweep;
  #phase: Phase = "idle";
  #opening: Promise<void> | undefined;
  #clientIdFilter: ClientIdFilter | undefined;
  #listening: Promise<{ port: number; host: string }> | undefined;
  #closing: Promise<void> | undefined;
  #stateOpen = false;
  #protocolErrors = 0;
  #authRejected = 0;
  #fdRefused = 0;
  #pings = 0;
  #beats = 0;
  /** Connections accepted and not yet past their handshake. */
  #handshaking = 0;
  #accepted = 0;

  constructor(options: ServerOptions) {
    super();
    this.#options = resolveServerOptions(options);
    this.#turnAway = new TurnAway(
      this.#options.clock,
      `server has maxConnections ${this.#options.maxConnections} connections; retry later`,
      this.#options.busyRetryAfterMs,
    );
    const state = this.#options.state;
    this.#state =
      state === undefined ? new MemoryDedupState() : typeof state === "string" ? new FileDedupState(state) : state;
    this.#registry = new ClientRegistry(this.#state, {
      onMessage: this.#options.onMessage,
      onMessages: this.#options.onMessages,
      onDeadLetter: this.#options.onDeadLetter,
      maxHandlerAttempts: this.#options.maxHandlerAttempts,
      handlerError: (err, info) => this.emit("handlerError", err, info),
    });
    this.#state.setListeners(
      (committed) => this.#registry.committed(committed),
      (err) => this.#fatal(err),
    );
    this.#idleSweep = new IdleSweep(
      this.#options.clock,
      idleSweepPeriodMs(this.#options.idleTimeoutMs),
      this.#connections,
    );
    this.#context = {
      options: this.#options,
      registry: this.#registry,
      readBudget: new ReadBudget(),
      idleSweep: this.#idleSweep,
      emitConnection: (event) => this.emit("connection", event),
      emitClientError: (err, info) => {
        if ((err as { code?: unknown }).code === "OUTLAST_AUTH_REJECTED") this.#authRejected++;
        this.emit("clientError", err, info);
      },
      countProtocolError: () => this.#protocolErrors++,
      countPing: () => this.#pings++,
      countBeat: () => this.#beats++,
      handshakeEnded: () => this.#handshaking--,
      connectionClosed: (conn) => this.#connections.delete(conn),
      refuseClientId: (clientId, requestedClientId) => this.#clientIdFilter?.(clientId, requestedClientId),
    };
    if (this.#options.tls === undefined) {
      // Paused: a refused socket is never read (turn-away.ts); a connection starts reading in ConnectionSocket.
      this.#net = createNetServer({ pauseOnConnect: true }, (socket) => this.#accept(socket));
    } else {
      const tlsServer = createTlsServer({ noDelay: true, ...this.#options.tls }, (socket) => this.#accept(socket));
      tlsServer.on("tlsClientError", (err, socket) => {
        // A failed TLS handshake (no/bad client certificate, plaintext on a TLS port): that socket only.
        const info = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
        if (clientErrorChannel.hasSubscribers) clientErrorChannel.publish({ error: err, ...info });
        this.emit("clientError", err, info);
      });
      this.#net = tlsServer;
    }
    // Past the hard limit Node closes the connection before making a Socket of it ('drop'): counted.
    const hard = hardConnectionLimit(this.#options.maxConnections);
    if (hard !== undefined) this.#net.maxConnections = hard;
    this.#net.on("drop", () => this.#fdRefused++);
    this.#net.on("error", (err) => {
      // Out of file descriptors: libuv closed the connection it could not accept (no frame is
      // possible). Count it; the server keeps serving. maxConnections normally refuses first.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EMFILE" || code === "ENFILE") {
        this.#fdRefused++;
        debug("accept failed with %s: a connection was refused at the file-descriptor limit", code);
        return;
      }
      if (this.#phase === "listening" && this.#net.listening) this.#fatal(err); // not a failed bind: listen() rejects with that
    });
  }

  /**
   * Opens the state (when `state` is set) and starts serving without binding a port: the server then
   * serves the sockets given to `adopt()` (a pool worker does this). `listen()` is open() plus the bind.
   * Idempotent; rejects with OUTLAST_CLOSED once the server was closed.
   */
  open(): Promise<void> {
    if (this.#phase === "closing" || this.#phase === "closed")
      return Promise.reject(new OutlastError("OUTLAST_CLOSED", "server is closed; create a new one"));
    if (this.#opening !== undefined) return this.#opening;
    this.#opening = this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    await this.#state.open();
    this.#stateOpen = true;
    if (this.#phase !== "idle") throw new OutlastError("OUTLAST_CLOSED", "server was closed while starting");
    this.#phase = "listening";
    this.#idleSweep.start();
  }

  /** Opens the state (when `state` is set) and starts listening. Resolves with the bound address. */
  listen(options: ListenOptions = {}): Promise<{ port: number; host: string }> {
    if (this.#listening !== undefined) return this.#listening;
    if (this.#phase !== "idle" && this.#opening === undefined)
      return Promise.reject(new OutlastError("OUTLAST_CLOSED", "server is closed; create a new one"));
    this.#listening = this.#listen(options);
    return this.#listening;
  }

  async #listen(options: ListenOptions): Promise<{ port: number; host: string }> {
    await this.open();
    if (this.#phase !== "listening") throw new OutlastError("OUTLAST_CLOSED", "server was closed while starting");
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#net.once("error", onError);
      this.#net.listen({ port: options.port ?? 0, host: options.host ?? DEFAULT_LISTEN_HOST }, () => {
        this.#net.off("error", onError);
        resolve();
      });
    }).catch(async (err: unknown) => {
      this.#phase = "closed";
      this.#idleSweep.stop();
      await this.#state.close(false);
      throw err;
    });
    if (this.#phase !== "listening") {
      // close() ran while the port was being bound: it found nothing listening, so the port is closed here.
      this.#net.close();
      throw new OutlastError("OUTLAST_CLOSED", "server was closed while starting");
    }
    const address = this.#net.address() as AddressInfo;
    debug("server listening on %s:%d", address.address, address.port);
    return { port: address.port, host: address.address };
  }

  /**
   * Serves an already-connected socket as if this server had accepted it, with the same limits and
   * refusals (maxConnections, maxPendingHandshakes, closing). `head`: bytes of it already read
   * elsewhere (a pool's primary reads the HELLO to choose the worker); they are read first. A plain
   * TCP socket only (not one of a `tls` server). Before open()/listen() or after close() the socket
   * is refused with OUTLAST_SERVER_BUSY (shutting down) like one accepted then.
   */
  adopt(socket: Socket, head?: Uint8Array): void {
    socket.pause();
    if (head !== undefined && head.byteLength > 0 && !socket.destroyed)
      socket.unshift(Buffer.isBuffer(head) ? head : Buffer.from(head.buffer, head.byteOffset, head.byteLength));
    this.#accept(socket);
  }

  /** Only src/server/pool calls this (a symbol the package does not export). */
  [setClientIdFilter](filter: ClientIdFilter | undefined): void {
    this.#clientIdFilter = filter;
  }

  get [usesTls](): boolean {
    return this.#options.tls !== undefined;
  }

  #accept(socket: Socket): void {
    this.#accepted++;
    if (connectionChannel.hasSubscribers)
      connectionChannel.publish({ remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
    if (this.#phase !== "listening") {
      socket.on("error", ignoreError);
      this.#turnAway.refuse(socket, "closing");
      return;
    }
    if (this.#connections.size >= this.#options.maxConnections) {
      socket.on("error", ignoreError);
      this.#turnAway.refuse(socket, "full");
      // The error object (a stack trace) only when someone looks: refusals must stay cheap.
      if (clientErrorChannel.hasSubscribers || this.listenerCount("clientError") > 0) {
        const info = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
        const err = new OutlastError(
          "OUTLAST_SERVER_BUSY",
          `server has maxConnections ${this.#options.maxConnections} connections; retry later`,
          { details: { maxConnections: this.#options.maxConnections } },
        );
        if (clientErrorChannel.hasSubscribers) clientErrorChannel.publish({ error: err, ...info });
        this.emit("clientError", err, info);
      }
      return;
    }
    if (this.#handshaking >= this.#options.maxPendingHandshakes) {
      // A reconnect storm the server is behind on: pace it (a 2.5-7.5 s hint) rather than queue HELLOs that go stale.
      socket.on("error", ignoreError);
      this.#turnAway.refuse(socket, "handshakes");
      return;
    }
    this.#handshaking++;
    this.#connections.add(new ServerConnection(socket, this.#context, this.#accepted));
  }

  /** Counters since start. */
  stats(): ServerStats {
    const r = this.#registry.stats;
    return {
      connections: this.#connections.size,
      clients: this.#registry.size,
      messagesProcessed: r.messagesProcessed,
      duplicatesSkipped: r.duplicatesSkipped,
      handlerFailures: r.handlerFailures,
      deadLettered: r.deadLettered,
      protocolErrors: this.#protocolErrors,
      authRejected: this.#authRejected,
      busyRejected: this.#turnAway.counts.full,
      handshakesBusyRejected: this.#turnAway.counts.handshakes,
      fdRefused: this.#fdRefused,
      pings: this.#pings,
      beats: this.#beats,
      connectionsAccepted: this.#accepted,
    };
  }

  /**
   * Drains: stops accepting, lets each client's in-flight handler call finish, sends
   * its last ACK and GOODBYE, ends the sockets, makes the state durable and closes it.
   * Messages received but not started are dropped unacknowledged (clients resend them). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close(true);
    return this.#closing;
  }

  /**
   * Lame-duck drain (like NATS's lame-duck mode): stops accepting at once, then tells each
   * connected client to go elsewhere (its in-flight handler call finishes, its ACK is sent,
   * then GOODBYE) at a random moment within `windowMs`, so a fleet does not reconnect in
   * one storm; then closes like close(). `windowMs` 0 is close(). Idempotent (with close()).
   */
  drain({ windowMs = 0, random = Math.random }: { windowMs?: number; random?: () => number } = {}): Promise<void> {
    this.#closing ??= this.#drain(windowMs, random);
    return this.#closing;
  }

  async #drain(windowMs: number, random: () => number): Promise<void> {
    if (this.#phase === "listening" && windowMs > 0) {
      this.#phase = "closing";
      this.#net.close();
      const clock = this.#options.clock;
      const conns = [...this.#connections];
      const timers = conns.map((conn) => clock.setTimeout(() => conn.drain(true), Math.floor(random() * windowMs)));
      let windowTimer: ReturnType<typeof clock.setTimeout> | undefined;
      await Promise.race([
        Promise.all(conns.map((c) => c.closed)),
        new Promise<void>((resolve) => (windowTimer = clock.setTimeout(resolve, windowMs))),
      ]);
      if (windowTimer !== undefined) clock.clearTimeout(windowTimer);
      for (const t of timers) clock.clearTimeout(t);
    }
    return this.#close(true);
  }

  /** Stops at once: destroys every socket, closes the state without waiting. Idempotent. */
  async destroy(err?: Error): Promise<void> {
    if (err !== undefined) debug("server destroyed: %s", err.message);
    for (const conn of this.#connections) conn.destroy("server destroyed");
    this.#turnAway.destroyAll();
    this.#closing ??= this.#close(false);
    return this.#closing;
  }

  async #close(graceful: boolean): Promise<void> {
    this.#phase = "closing";
    this.#idleSweep.stop();
    const netClosed = this.#net.listening
      ? new Promise<void>((resolve) => this.#net.close(() => resolve()))
      : Promise.resolve();
    await (this.#listening ?? this.#opening)?.catch(() => undefined);
    if (graceful) {
      this.#registry.dropAllQueues();
      for (const conn of this.#connections) conn.drain(true);
    } else {
      for (const conn of this.#connections) conn.destroy("server destroyed");
    }
    await Promise.all([...this.#connections].map((c) => c.closed));
    this.#turnAway.destroyAll();
    await netClosed;
    if (this.#stateOpen) {
      this.#registry.flush();
      await this.#state.close(graceful);
    }
    this.#phase = "closed";
  }

  #fatal(err: Error): void {
    debug("server fatal error: %s", err.message);
    void this.destroy(err);
    this.emit("error", err);
  }
}

/** Creates a server; call `listen()` to start it. Throws OUTLAST_INVALID_OPTION on a bad option. */
export function createServer(options: ServerOptions): Server {
  return new Server(options);
}
