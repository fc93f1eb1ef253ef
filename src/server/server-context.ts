/**
 * What a ServerConnection needs from its server: options, the client registry,
 * and a few callbacks for events and stats. Keeps server-connection.ts free of
 * the Server class (and its EventEmitter typing).
 */

import type { OutlastError } from "../errors/outlast-error.js";
import type { ClientRegistry } from "./client-registry.js";
import type { IdleSweep } from "./idle-sweep.js";
import type { ResolvedServerOptions } from "./options.js";
import type { ReadBudget } from "./read-budget.js";
import type { ServerConnection } from "./server-connection.js";

/** The `connection` event's argument: a client finished its handshake. */
export interface ConnectionEvent {
  readonly clientId: string;
  /** What the client asked for in HELLO (differs from clientId when `authenticate` mapped it). */
  readonly requestedClientId: string;
  readonly version: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

export interface ConnectionInfo {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Bound clientId, once authenticated. */
  readonly clientId?: string;
}

export interface ServerContext {
  readonly options: ResolvedServerOptions;
  readonly registry: ClientRegistry;
  /** How much of one event-loop turn reads may take (shared by every connection). */
  readonly readBudget: ReadBudget;
  /** The idle limit's and the beats' one timer (its `now()` is the time connections note). */
  readonly idleSweep: IdleSweep;
  emitConnection(event: ConnectionEvent): void;
  emitClientError(err: Error, info: ConnectionInfo): void;
  countProtocolError(): void;
  /** A PING was answered (heartbeat load). */
  countPing(): void;
  /** A beat (an unsolicited PONG, or a PING asking for an answer) was sent on a v2 link. */
  countBeat(): void;
  /** A connection left its handshake (welcomed or closed before). */
  handshakeEnded(): void;
  connectionClosed(conn: ServerConnection): void;
  /**
   * Whether this server may bind `clientId` (in a pool worker, only the clientIds that hash to it): undefined
   * when it may, else the ERROR to send (with `retryAfterMs`, a turn-away the client retries soon).
   */
  refuseClientId(
    clientId: string,
    requestedClientId: string,
  ): { error: OutlastError; retryAfterMs?: number } | undefined;
}

/**
 * What a server in a pool worker may bind (pool/pool-worker.ts sets it): undefined to serve the clientId,
 * or why not (an ERROR frame; with `retryAfterMs` a turn-away the client retries, without it a rejection).
 */
export type ClientIdFilter = (
  clientId: string,
  requestedClientId: string,
) => { error: OutlastError; retryAfterMs?: number } | undefined;

/** Sets a server's ClientIdFilter; not part of the package's API (only src/server/pool uses it). */
export const setClientIdFilter = Symbol("outlast.setClientIdFilter");
/** Whether a server speaks TLS (a pool worker must not: the primary reads HELLO in the clear). Internal like the above. */
export const usesTls = Symbol("outlast.usesTls");
