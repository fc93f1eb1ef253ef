/**
 * A pool of server processes sharing one port (docs/server.md, "Several processes"): the primary
 * owns the port, reads each socket's first frame (hello-reader.ts), and hands the socket to one
 * worker process: the one a HELLO's clientId hashes to (affinity.ts), so each clientId's dedup
 * state has exactly one writer; anything else round-robin, so a worker answers it as a plain
 * server would. A dead worker is started again (worker-slot.ts); meanwhile its clients are
 * turned away with OUTLAST_SERVER_BUSY and a retry hint.
 */

import { EventEmitter } from "node:events";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { createServer as createNetServer } from "node:net";
import { debuglog } from "node:util";
import { OutlastError } from "../../errors/outlast-error.js";
import type { ListenOptions } from "../options.js";
import { DEFAULT_LISTEN_HOST } from "../options.js";
import type { ServerStats } from "../server.js";
import { TurnAway } from "../turn-away.js";
import { workerFor } from "./affinity.js";
import { HelloReader, ignoreError } from "./hello-reader.js";
import { handoffChannel, workerExitChannel } from "./pool-diagnostics.js";
import type { ResolvedPoolOptions, ServerPoolOptions } from "./pool-options.js";
import { resolvePoolOptions } from "./pool-options.js";
import { WorkerSlot } from "./worker-slot.js";

const debug = debuglog("outlast");

export interface WorkerExitInfo {
  readonly index: number;
  readonly code: number | null;
  readonly signal: string | null;
}

export interface WorkerReadyInfo {
  readonly index: number;
  readonly pid: number;
}

export interface ServerPoolEvents {
  /** A worker process exited (crashed, or stopped by drain/close/destroy); a crashed one is started again. */
  workerExit: [info: WorkerExitInfo];
  /** A worker (first start or restart) is serving. */
  workerReady: [info: WorkerReadyInfo];
  /** The primary's listening socket failed: the pool stops accepting. */
  error: [error: Error];
}

type Phase = "idle" | "starting" | "listening" | "closing" | "closed";

const ZERO_STATS: ServerStats = {
  connections: 0,
  clients: 0,
  messagesProcessed: 0,
  duplicatesSkipped: 0,
  handlerFailures: 0,
  deadLettered: 0,
  protocolErrors: 0,
  authRejected: 0,
  busyRejected: 0,
  handshakesBusyRejected: 0,
  fdRefused: 0,
  pings: 0,
  beats: 0,
  connectionsAccepted: 0,
};

export class ServerPool extends EventEmitter<ServerPoolEvents> {
  readonly #options: ResolvedPoolOptions;
  readonly #slots: WorkerSlot[];
  readonly #net: NetServer;
  readonly #reader: HelloReader;
  readonly #turnAway: TurnAway;
  #phase: Phase = "idle";
  #listening: Promise<{ port: number; host: string }> | undefined;
  #closing: Promise<void> | undefined;
  /** Where the next socket without a clientId goes. */
  #roundRobin = 0;
  #accepted = 0;
  #fdRefused = 0;
  /** Settles listen() while the workers start: the first failure, or all ready. */
  #starting: { waiting: number; resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(options: ServerPoolOptions) {
    super();
    this.#options = resolvePoolOptions(options);
    const o = this.#options;
    this.#turnAway = new TurnAway(o.clock, "this client's pool worker is restarting; retry later", o.busyRetryAfterMs);
    this.#reader = new HelloReader(o.clock, o.helloWaitMs, (socket, head, clientId) =>
      this.#handOff(socket, head, clientId),
    );
    const listener = {
      ready: (slot: WorkerSlot, pid: number) => {
        this.emit("workerReady", { index: slot.index, pid });
        const s = this.#starting;
        if (s !== undefined && --s.waiting === 0) s.resolve();
      },
      failed: (_slot: WorkerSlot, error: Error) => this.#starting?.reject(error),
      exit: (slot: WorkerSlot, code: number | null, signal: string | null, failure: Error | undefined) => {
        const info = { index: slot.index, code, signal };
        if (workerExitChannel.hasSubscribers) workerExitChannel.publish(info);
        this.emit("workerExit", info);
        if (failure !== undefined) this.#starting?.reject(failure);
      },
    };
    this.#slots = Array.from({ length: o.workers }, (_, i) => new WorkerSlot(i, o, listener));
    this.#net = createNetServer({ pauseOnConnect: true }, (socket) => this.#accept(socket));
    this.#net.on("drop", () => this.#fdRefused++);
    this.#net.on("error", (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EMFILE" || code === "ENFILE") {
        this.#fdRefused++;
        return;
      }
      if (this.#phase === "listening") {
        debug("server pool: listening socket failed: %s", err.message);
        void this.destroy();
        this.emit("error", err);
      }
    });
  }

  /**
   * Forks the workers, waits until every one is ready (a worker that fails to start rejects with its own
   * error, e.g. OUTLAST_STATE_LOCKED, and the others are stopped), then binds. Resolves with the address.
   */
  listen(options: ListenOptions = {}): Promise<{ port: number; host: string }> {
    if (this.#listening !== undefined) return this.#listening;
    if (this.#phase !== "idle")
      return Promise.reject(new OutlastError("OUTLAST_CLOSED", "server pool is closed; create a new one"));
    this.#listening = this.#listen(options);
    return this.#listening;
  }

  async #listen(options: ListenOptions): Promise<{ port: number; host: string }> {
    this.#phase = "starting";
    try {
      await new Promise<void>((resolve, reject) => {
        this.#starting = { waiting: this.#slots.length, resolve, reject };
        for (const slot of this.#slots) slot.start();
      });
      if (this.#phase !== "starting") throw new OutlastError("OUTLAST_CLOSED", "server pool was closed while starting");
      await new Promise<void>((resolve, reject) => {
        this.#net.once("error", reject);
        this.#net.listen({ port: options.port ?? 0, host: options.host ?? DEFAULT_LISTEN_HOST }, () => {
          this.#net.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      this.#starting = undefined;
      if (this.#phase === "starting") {
        this.#phase = "closing";
        await Promise.all(this.#slots.map((slot) => slot.stop("destroy", 0)));
        this.#phase = "closed";
      }
      throw err;
    }
    this.#starting = undefined;
    if (this.#phase !== "starting") {
      this.#net.close();
      throw new OutlastError("OUTLAST_CLOSED", "server pool was closed while starting");
    }
    this.#phase = "listening";
    for (const slot of this.#slots) slot.respawn = true;
    const address = this.#net.address() as AddressInfo;
    debug("server pool (%d workers) listening on %s:%d", this.#slots.length, address.address, address.port);
    return { port: address.port, host: address.address };
  }

  #accept(socket: Socket): void {
    this.#accepted++;
    if (this.#phase !== "listening") {
      socket.on("error", ignoreError);
      this.#turnAway.refuse(socket, "closing");
      return;
    }
    this.#reader.read(socket);
  }

  /** The first frame is in (or the wait is over): the socket goes to its worker. */
  #handOff(socket: Socket, head: Buffer, clientId: string | undefined): void {
    if (this.#phase !== "listening") {
      this.#turnAway.refuse(socket, "closing");
      return;
    }
    const slots = this.#slots;
    let slot: WorkerSlot | undefined;
    if (clientId !== undefined) {
      slot = slots[workerFor(clientId, slots.length)];
      if (slot !== undefined && !slot.send(socket, head)) slot = undefined;
    } else {
      for (let k = 0; k < slots.length && slot === undefined; k++) {
        const candidate = slots[(this.#roundRobin + k) % slots.length] as WorkerSlot;
        if (candidate.send(socket, head)) slot = candidate;
      }
      this.#roundRobin = ((slot?.index ?? this.#roundRobin) + 1) % slots.length;
    }
    if (slot === undefined) {
      // Its worker is restarting (or, without a clientId, every worker is): come back in busyRetryAfterMs.
      this.#turnAway.refuse(socket, "full");
      return;
    }
    if (handoffChannel.hasSubscribers) handoffChannel.publish({ worker: slot.index, clientId, bytes: head.length });
  }

  /**
   * The workers' stats summed (a worker that is restarting counts nothing), plus the primary's own:
   * `connectionsAccepted` is every socket the primary accepted, `busyRejected` adds the sockets it
   * turned away because their worker was restarting, `fdRefused` adds its own.
   */
  async stats(): Promise<ServerStats> {
    const all = await Promise.all(this.#slots.map((slot) => slot.stats()));
    const sum: Record<keyof ServerStats, number> = { ...ZERO_STATS };
    for (const stats of all) {
      if (stats === undefined) continue;
      for (const key of Object.keys(sum) as (keyof ServerStats)[]) sum[key] += stats[key];
    }
    sum.connectionsAccepted = this.#accepted;
    sum.busyRejected += this.#turnAway.counts.full;
    sum.fdRefused += this.#fdRefused;
    return sum;
  }

  /**
   * Stops accepting, then each worker drains (Server.drain with `windowMs`: each client gets GOODBYE at a
   * random moment within it) and exits. Resolves once every worker process exited. Idempotent (with close()).
   */
  drain({ windowMs = 0 }: { windowMs?: number } = {}): Promise<void> {
    if (!Number.isFinite(windowMs) || windowMs < 0) {
      return Promise.reject(
        new OutlastError("OUTLAST_INVALID_OPTION", `invalid option windowMs: ${String(windowMs)} is not >= 0`, {
          details: { option: "windowMs" },
        }),
      );
    }
    this.#closing ??= this.#stop("drain", windowMs);
    return this.#closing;
  }

  /** drain() with windowMs 0: every client gets its last ACK and GOODBYE now. */
  close(): Promise<void> {
    return this.drain({ windowMs: 0 });
  }

  /** Stops at once: each worker destroys its server and exits (no signal is sent). Idempotent; overrides a drain. */
  destroy(): Promise<void> {
    const closing = (this.#closing ??= this.#stop("destroy", 0));
    if (this.#phase === "closing") for (const slot of this.#slots) void slot.stop("destroy", 0);
    return closing;
  }

  async #stop(kind: "drain" | "destroy", windowMs: number): Promise<void> {
    if (this.#phase === "idle") {
      this.#phase = "closed";
      return;
    }
    if (this.#phase === "starting") this.#phase = "closing"; // listen() sees it and stops the workers
    await this.#listening?.catch(() => undefined);
    if (this.#phase === "closed") return;
    this.#phase = "closing";
    const netClosed = this.#net.listening
      ? new Promise<void>((resolve) => this.#net.close(() => resolve()))
      : Promise.resolve();
    this.#reader.abandonAll((socket) => this.#turnAway.refuse(socket, "closing"));
    await Promise.all(this.#slots.map((slot) => slot.stop(kind, windowMs)));
    await netClosed;
    this.#turnAway.destroyAll();
    this.#phase = "closed";
  }
}

/** Creates a pool; call `listen()` to start its workers and bind. Throws OUTLAST_INVALID_OPTION on a bad option. */
export function createServerPool(options: ServerPoolOptions): ServerPool {
  return new ServerPool(options);
}
