/**
 * One worker process of a pool: forking it, knowing when it is ready, handing it sockets, asking
 * it for stats, stopping it, and starting it again after it died (backoff 100 ms doubling to 5 s,
 * back to 100 ms once a worker stayed up a minute). The pool decides what to do with each event.
 */

import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import type { Socket } from "node:net";
import { debuglog } from "node:util";
import type { Timer } from "../../errors/clock.js";
import { OutlastError, isOutlastErrorCode } from "../../errors/outlast-error.js";
import type { ServerStats } from "../server.js";
import type { ToPrimary, ToWorker } from "./pool-messages.js";
import { poolMessageType } from "./pool-messages.js";
import type { ResolvedPoolOptions } from "./pool-options.js";

const debug = debuglog("outlast");

const RESPAWN_BASE_MS = 100;
const RESPAWN_CAP_MS = 5000;
/** A worker up this long starts the backoff over when it dies. */
const RESPAWN_RESET_AFTER_MS = 60_000;
/** How long stats() waits for a worker's answer before counting it as nothing. */
const STATS_TIMEOUT_MS = 2000;

/** What a slot reports to its pool. */
export interface SlotListener {
  ready(slot: WorkerSlot, pid: number): void;
  /** It cannot serve (its own error, e.g. OUTLAST_STATE_LOCKED); it exits next. */
  failed(slot: WorkerSlot, error: Error): void;
  /** The process exited; `failure` when it had not become ready (its own error, or why it died). */
  exit(slot: WorkerSlot, code: number | null, signal: string | null, failure: Error | undefined): void;
}

type Stopping = "drain" | "destroy";

export class WorkerSlot {
  readonly index: number;
  readonly #options: ResolvedPoolOptions;
  readonly #listener: SlotListener;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #ready = false;
  #readyAtMs = 0;
  #failure: Error | undefined;
  #stopping: Stopping | undefined;
  #attempt = 0;
  #respawnTimer: Timer | undefined;
  /** Start again after any exit (off until the pool has started; a worker that was ready once is always restarted). */
  respawn = false;
  #everReady = false;
  readonly #requests = new Map<number, (stats: ServerStats | undefined) => void>();
  #nextRequest = 1;

  constructor(index: number, options: ResolvedPoolOptions, listener: SlotListener) {
    this.index = index;
    this.#options = options;
    this.#listener = listener;
  }

  /** Serving: forked, said it is ready, not stopping. */
  get ready(): boolean {
    return this.#ready && this.#stopping === undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Forks the worker process. */
  start(): void {
    const o = this.#options;
    const child = fork(o.modulePath, [...o.args], {
      execArgv: [...o.execArgv],
      env: {
        ...process.env,
        ...o.env,
        OUTLAST_POOL_WORKER: String(this.index),
        OUTLAST_POOL_WORKERS: String(o.workers),
      },
      // JSON, the head in base64: measured cheaper per hand-off than "advanced" (bench/pool-handoff.ts).
      serialization: "json",
    });
    this.#child = child;
    this.#ready = false;
    this.#failure = undefined;
    let exited = (): void => {};
    this.#exited = new Promise<void>((resolve) => (exited = resolve));
    child.on("message", (message: unknown) => this.#onMessage(child, message as ToPrimary));
    child.on("error", (err) => {
      debug("pool worker %d: %s", this.index, err.message);
      if (child.pid === undefined) {
        // It never started: no 'exit' follows.
        this.#failure ??= err;
        this.#onExit(child, null, null, exited);
      }
    });
    child.once("exit", (code, signal) => this.#onExit(child, code, signal, exited));
  }

  #onMessage(child: ChildProcess, message: ToPrimary): void {
    if (child !== this.#child || poolMessageType(message) === undefined) return;
    switch (message.type) {
      case "outlast:pool:ready":
        this.#ready = true;
        this.#everReady = true;
        this.#readyAtMs = this.#options.clock.now();
        this.#listener.ready(this, child.pid as number);
        return;
      case "outlast:pool:failed":
        this.#failure = rebuildError(message.message, message.code, message.details);
        this.#listener.failed(this, this.#failure);
        return;
      case "outlast:pool:stats":
        this.#requests.get(message.id)?.(message.stats);
        this.#requests.delete(message.id);
        return;
      default:
        return;
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: string | null, exited: () => void): void {
    if (child !== this.#child) return;
    const wasReady = this.#ready;
    closeUndelivered(child);
    this.#child = undefined;
    this.#ready = false;
    for (const answer of this.#requests.values()) answer(undefined);
    this.#requests.clear();
    const failure = wasReady
      ? undefined
      : (this.#failure ??
        new OutlastError(
          "OUTLAST_INVALID_OPTION",
          `pool worker ${this.index} (module ${this.#options.modulePath}) exited (code ${code}, signal ${signal}) ` +
            `before serveFromPool() said it was ready; see its stderr`,
          { details: { option: "module" } },
        ));
    exited();
    this.#listener.exit(this, code, signal, failure);
    if (!(this.respawn || this.#everReady) || this.#stopping !== undefined) return;
    if (wasReady && this.#options.clock.now() - this.#readyAtMs >= RESPAWN_RESET_AFTER_MS) this.#attempt = 0;
    const delayMs = Math.min(RESPAWN_CAP_MS, RESPAWN_BASE_MS * 2 ** this.#attempt);
    this.#attempt++;
    debug("pool worker %d exited (code %s, signal %s); starting it again in %d ms", this.index, code, signal, delayMs);
    this.#respawnTimer = this.#options.clock.setTimeout(() => {
      this.#respawnTimer = undefined;
      if (this.#stopping === undefined) this.start();
    }, delayMs);
  }

  /** Hands `socket` (and the bytes read of it) to the worker; false when it is not serving (the caller refuses it). */
  send(socket: Socket, head: Buffer): boolean {
    const child = this.#child;
    if (!this.ready || child === undefined || !child.connected) return false;
    const message: ToWorker = { type: "outlast:pool:socket", head: head.toString("base64") };
    child.send(message, socket, { keepOpen: false }, (err) => {
      if (err !== null) socket.destroy(); // the worker went away before it got the socket: the client reconnects
    });
    return true;
  }

  /** The worker's stats, or undefined when it is not serving (or dies before answering). */
  stats(): Promise<ServerStats | undefined> {
    const child = this.#child;
    if (!this.#ready || child === undefined || !child.connected) return Promise.resolve(undefined);
    const id = this.#nextRequest++;
    const clock = this.#options.clock;
    return new Promise((resolve) => {
      // A worker whose event loop is stuck does not hold up the pool's stats (a metrics scrape): it counts nothing.
      const timer = clock.setTimeout(() => answer(undefined), STATS_TIMEOUT_MS);
      const answer = (stats: ServerStats | undefined): void => {
        clock.clearTimeout(timer);
        this.#requests.delete(id);
        resolve(stats);
      };
      this.#requests.set(id, answer);
      const message: ToWorker = { type: "outlast:pool:stats", id };
      child.send(message, (err) => {
        if (err !== null) answer(undefined);
      });
    });
  }

  /**
   * Stops the worker: "drain" (Server.drain with windowMs, then it exits) or "destroy" (Server.destroy,
   * then it exits); a later "destroy" overrides a "drain". Resolves once the process exited.
   */
  stop(kind: Stopping, windowMs: number): Promise<void> {
    if (this.#stopping === "destroy" || (this.#stopping === "drain" && kind === "drain")) return this.#exited;
    this.#stopping = kind;
    if (this.#respawnTimer !== undefined) this.#options.clock.clearTimeout(this.#respawnTimer);
    this.#respawnTimer = undefined;
    const child = this.#child;
    if (child === undefined) return this.#exited;
    if (!this.#ready) {
      // Not serving yet (its script may not even listen for our messages): the closed channel stops it.
      if (child.connected) child.disconnect();
      return this.#exited;
    }
    const message: ToWorker =
      kind === "drain" ? { type: "outlast:pool:drain", windowMs } : { type: "outlast:pool:destroy" };
    if (child.connected) child.send(message, (err) => err !== null && child.connected && child.disconnect());
    return this.#exited;
  }
}

/** Node's bookkeeping of the handles it is sending a child (ChildProcess internals, Node 20-24). */
interface HandleQueues {
  _pendingMessage?: { handle?: { close?: () => void } } | null;
  _handleQueue?: { handle?: { destroy?: () => void } }[] | null;
}

/**
 * Closes the primary's copies of the sockets a dead worker never acknowledged: the one sent and awaiting the
 * worker's ACK (Node closes it only on that ACK, and forgets it when the child dies: its client would wait out
 * its connect timeout on a connection nobody serves), and those still queued behind it. Their clients see the
 * connection close and reconnect (to the worker's replacement).
 */
function closeUndelivered(child: ChildProcess): void {
  const queues = child as unknown as HandleQueues;
  try {
    queues._pendingMessage?.handle?.close?.();
    if (queues._pendingMessage !== undefined) queues._pendingMessage = null;
    for (const queued of queues._handleQueue ?? []) queued.handle?.destroy?.();
  } catch (err) {
    debug("pool: closing the sockets a dead worker never got failed: %s", (err as Error).message);
  }
}

/** The worker's error as the primary rethrows it: its code (an outlast one stays an OutlastError), message, details. */
function rebuildError(message: string, code: string | undefined, details: unknown): Error {
  if (isOutlastErrorCode(code)) {
    return new OutlastError(code, message, { details: details as never });
  }
  const err = new Error(message) as Error & { code?: string };
  if (code !== undefined) err.code = code;
  return err;
}
