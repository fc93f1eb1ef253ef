/**
 * The IPC messages between a pool's primary and its workers (child_process channel, JSON
 * serialization: cheaper per hand-off than "advanced", measured). Every message has `type` "outlast:pool:*".
 */

import type { ServerStats } from "../server.js";

/** Worker -> primary: the server is open and serving adopted sockets. */
export interface ReadyMessage {
  readonly type: "outlast:pool:ready";
}
/** Worker -> primary: opening the server failed (e.g. OUTLAST_STATE_LOCKED); the worker exits. */
export interface FailedMessage {
  readonly type: "outlast:pool:failed";
  readonly message: string;
  readonly code: string | undefined;
  readonly details: unknown;
}
/** Primary -> worker (with the socket handle): serve it; `head`: the bytes the primary read, in base64. */
export interface SocketMessage {
  readonly type: "outlast:pool:socket";
  readonly head: string;
}
/** Primary -> worker: send your stats (answered with the same id). */
export interface StatsRequest {
  readonly type: "outlast:pool:stats";
  readonly id: number;
}
export interface StatsReply {
  readonly type: "outlast:pool:stats";
  readonly id: number;
  readonly stats: ServerStats;
}
/** Primary -> worker: drain (Server.drain with windowMs), then exit. */
export interface DrainMessage {
  readonly type: "outlast:pool:drain";
  readonly windowMs: number;
}
/** Primary -> worker: destroy the server, then exit. */
export interface DestroyMessage {
  readonly type: "outlast:pool:destroy";
}

export type ToPrimary = ReadyMessage | FailedMessage | StatsReply;
export type ToWorker = SocketMessage | StatsRequest | DrainMessage | DestroyMessage;

/** The `type` of an IPC message when it is one of ours, else undefined (other messages are the application's). */
export function poolMessageType(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const type = (message as { type?: unknown }).type;
  return typeof type === "string" && type.startsWith("outlast:pool:") ? type : undefined;
}
