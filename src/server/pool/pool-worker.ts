/**
 * The worker side of a pool: poolWorker() says whether this process is one (and which), and
 * serveFromPool(server) opens the server without a port, tells the primary it is ready, serves
 * each socket the primary hands it (Server.adopt, with the bytes the primary read), answers stats
 * requests, and drains/destroys on the primary's word, or closes when the primary goes away.
 * While serving, SIGINT and SIGTERM are ignored: Ctrl-C reaches the whole process group, and the
 * primary decides how the pool stops.
 */

import type { Socket } from "node:net";
import { OutlastError } from "../../errors/outlast-error.js";
import type { Server } from "../server.js";
import { setClientIdFilter, usesTls } from "../server-context.js";
import { ownClientIdsOnly } from "./affinity.js";
import type { ToPrimary, ToWorker } from "./pool-messages.js";
import { poolMessageType } from "./pool-messages.js";

/** This process's place in a pool (from the environment the primary set), or undefined outside a pool. */
export function poolWorker(): { index: number; count: number } | undefined {
  const index = Number(process.env["OUTLAST_POOL_WORKER"] ?? NaN);
  const count = Number(process.env["OUTLAST_POOL_WORKERS"] ?? NaN);
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) return undefined;
  if (typeof process.send !== "function") return undefined; // not started by a pool (no IPC channel)
  return { index, count };
}

function ignoreSignal(): void {}

/**
 * Why this worker cannot serve, for the primary's listen() to reject with (code and details kept); then the
 * IPC channel closes, so the process exits even if its script catches the error.
 */
function tellFailed(err: unknown): void {
  const e = err as Error & { code?: unknown; details?: unknown };
  const message: ToPrimary = {
    type: "outlast:pool:failed",
    message: typeof e.message === "string" ? e.message : String(err),
    code: typeof e.code === "string" ? e.code : undefined,
    details: e.details,
  };
  const disconnect = (): void => {
    if (process.connected) process.disconnect();
  };
  if (!process.connected) return;
  try {
    process.send?.(message, undefined, {}, disconnect);
  } catch {
    disconnect(); // details that cannot be serialized: the primary sees the exit alone
  }
}

function tell(message: ToPrimary): void {
  if (!process.connected) return;
  try {
    process.send?.(message);
  } catch {
    // A value that cannot be serialized: nothing of ours.
  }
}

/**
 * Serves `server` as this pool worker until the pool drains, closes or destroys it, or the primary goes
 * away (then it closes); resolves once the server closed (then the IPC channel is closed, so the process
 * can exit). Rejects when the server cannot open (the primary's listen() rejects with the same error),
 * or fails later (its 'error' event). Call it instead of listen().
 */
export async function serveFromPool(server: Server): Promise<void> {
  const me = poolWorker();
  if (me === undefined) {
    throw new OutlastError(
      "OUTLAST_INVALID_OPTION",
      "invalid option module: serveFromPool() runs in a pool worker (a script started by createServerPool), " +
        "and this process is not one (no OUTLAST_POOL_WORKER or no IPC channel)",
      { details: { option: "module" } },
    );
  }
  if (server[usesTls]) {
    const err = new OutlastError(
      "OUTLAST_INVALID_OPTION",
      "invalid option tls: a pool worker serves plain TCP (the primary reads each HELLO to choose the worker); " +
        "terminate TLS in front of the pool",
      { details: { option: "tls" } },
    );
    tellFailed(err);
    throw err;
  }
  server[setClientIdFilter](ownClientIdsOnly(me.index, me.count));
  let stop = (): void => {};
  let fail = (_err: Error): void => {};
  const stopped = new Promise<void>((resolve, reject) => {
    stop = resolve;
    fail = reject;
  });
  const finish = (closing: Promise<void>): void => {
    closing.then(stop, fail);
  };
  const onMessage = (message: unknown, handle: unknown): void => {
    if (poolMessageType(message) === undefined) return; // the application's own messages
    const m = message as ToWorker;
    switch (m.type) {
      case "outlast:pool:socket":
        if (handle !== undefined && handle !== null) server.adopt(handle as Socket, Buffer.from(m.head, "base64"));
        return;
      case "outlast:pool:stats":
        tell({ type: "outlast:pool:stats", id: m.id, stats: server.stats() });
        return;
      case "outlast:pool:drain":
        finish(server.drain({ windowMs: m.windowMs }));
        return;
      case "outlast:pool:destroy":
        finish(server.destroy());
        return;
      default:
        return;
    }
  };
  const onDisconnect = (): void => finish(server.close());
  const onError = (err: Error): void => finish(server.destroy().then(() => Promise.reject(err)));
  process.on("SIGINT", ignoreSignal);
  process.on("SIGTERM", ignoreSignal);
  process.on("message", onMessage);
  process.on("disconnect", onDisconnect);
  server.once("error", onError);
  try {
    try {
      await server.open();
    } catch (err) {
      tellFailed(err);
      throw err;
    }
    if (!process.connected)
      onDisconnect(); // the primary went away while the state opened
    else tell({ type: "outlast:pool:ready" });
    await stopped;
  } finally {
    server.off("error", onError);
    process.off("message", onMessage);
    process.off("disconnect", onDisconnect);
    process.off("SIGINT", ignoreSignal);
    process.off("SIGTERM", ignoreSignal);
    if (process.connected) process.disconnect();
  }
}
