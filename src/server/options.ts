/**
 * createServer() options: the public types, their defaults, and validation.
 * An invalid option throws OutlastError OUTLAST_INVALID_OPTION naming it.
 */

import type { PeerCertificate, TlsOptions } from "node:tls";
import type { Clock } from "../errors/clock.js";
import { systemClock } from "../errors/clock.js";
import { invalidOption } from "../errors/outlast-error.js";
import type { DedupState } from "./dedup-state.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/frames.js";
import { defaultMaxConnections } from "./fd-limit.js";
import { MAX_U32, MIN_MAX_FRAME_BYTES } from "../protocol/limits.js";

/** What `onMessage` receives: one message of one client. */
export interface IncomingMessage {
  /** The clientId the connection is bound to (what `authenticate` returned). */
  readonly clientId: string;
  /** Per-client sequence number (strictly increasing, gaps allowed). */
  readonly seq: number;
  /** The payload. Valid after the handler returns (it is not reused by the server). */
  readonly data: Uint8Array;
  /**
   * True when this (clientId, seq) may have been handed to a handler before: an earlier
   * attempt threw/rejected, or (with `state`) a server crashed after handing it over and
   * before recording its success. Make such a message's side effects idempotent.
   */
  readonly redelivery: boolean;
}

/** What `authenticate` receives. */
export interface AuthenticateRequest {
  /** The clientId the client asked for in HELLO. */
  readonly clientId: string;
  /** The credential from HELLO (empty when the client sent none). */
  readonly token: Uint8Array;
  /** The TLS client certificate, when the server uses TLS and the client presented one. */
  readonly peerCertificate: PeerCertificate | undefined;
  /**
   * HELLO's heartbeatIntervalMs: how often the client wants to hear from the server when idle
   * (0 = never). On a v2 link the server beats at this pace (>= 1000), so an operator who wants to
   * bound what heartbeats cost rejects small intervals here.
   */
  readonly heartbeatIntervalMs: number;
}

/** Returns the clientId to bind the connection to; `false` (or a throw) rejects the client. */
export type Authenticate = (request: AuthenticateRequest) => string | false | Promise<string | false>;

export type MessageHandler = (message: IncomingMessage) => void | Promise<void>;

/**
 * The batch handler: a run of ONE client's messages, in seq order (never two clients,
 * never a seq twice). Every message of the batch is acknowledged once it returns / its
 * Promise resolves; if it throws or rejects, none of the batch is.
 */
export type BatchHandler = (batch: readonly IncomingMessage[]) => void | Promise<void>;

/** Called once a message reached `maxHandlerAttempts` failures; when it returns, the message is acknowledged. */
export type DeadLetterHandler = (message: IncomingMessage, error: unknown) => void | Promise<void>;

export interface ServerOptions {
  /**
   * The application's handler, one message per call. A message is acknowledged only after it
   * returns / its Promise resolves. Give this or `onMessages`, not both.
   */
  readonly onMessage?: MessageHandler;
  /**
   * The batch handler: called with every message of one client that is waiting when its previous
   * call finished (a client's pipelined messages from one socket read, or what queued behind a
   * slow call), so a handler can write and sync them at once. The batch is acknowledged after it
   * returns / resolves; a failed batch is not acknowledged (docs/server.md, "Batch handler").
   * Give this or `onMessage`, not both.
   */
  readonly onMessages?: BatchHandler;
  /**
   * Directory for the persisted dedup state (crash-safe), or a DedupState of your own (a store
   * shared by several servers, such as the gateway's JetStream state). Without it, dedup state
   * lives in memory only.
   */
  readonly state?: string | DedupState;
  /** node:tls server options (`{ key, cert, ca, requestCert }`); without it the server speaks plain TCP. */
  readonly tls?: TlsOptions;
  /** Binds each connection to a clientId; default: the clientId the client asked for. */
  readonly authenticate?: Authenticate;
  /** Largest frame (length field value) accepted. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Time from accept to an authenticated HELLO. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** A connection that sent nothing for max(idleTimeoutMs, 3 x the client's heartbeatIntervalMs) is closed. Default 30000. */
  readonly idleTimeoutMs?: number;
  /**
   * Connections beyond this get ERROR OUTLAST_SERVER_BUSY and are closed. Default: the process's
   * soft file-descriptor limit minus 5% (at least 64) kept free, so the server refuses with a
   * code before the kernel refuses without one (10,000 where the limit cannot be read).
   */
  readonly maxConnections?: number;
  /**
   * The retryAfterMs a full server asks of the clients it refuses, jittered 0.5-1.5x per
   * refusal, so an oversized fleet does not retry every second. Default 300000 (5 min).
   */
  readonly busyRetryAfterMs?: number;
  /**
   * Connections accepted but not yet past their handshake beyond which new ones are turned away
   * with OUTLAST_SERVER_BUSY and a retryAfterMs spread over 2.5-7.5 s: in a reconnect storm a
   * server that has fallen behind paces its fleet instead of reading HELLOs their clients have
   * already given up on. Default 1000.
   */
  readonly maxPendingHandshakes?: number;
  /** Give up on a message after this many failed handler calls (needs `onDeadLetter`). Default Infinity (retry forever). */
  readonly maxHandlerAttempts?: number;
  /** Receives a message that failed `maxHandlerAttempts` times; required when maxHandlerAttempts is finite. */
  readonly onDeadLetter?: DeadLetterHandler;
  /** Injected time source (tests). Default: the system clock. */
  readonly clock?: Clock;
}

export interface ResolvedServerOptions {
  /** Exactly one of onMessage / onMessages is set. */
  readonly onMessage: MessageHandler | undefined;
  readonly onMessages: BatchHandler | undefined;
  readonly state: string | DedupState | undefined;
  readonly tls: TlsOptions | undefined;
  readonly authenticate: Authenticate | undefined;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly busyRetryAfterMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxHandlerAttempts: number;
  readonly onDeadLetter: DeadLetterHandler | undefined;
  readonly clock: Clock;
}

export const SERVER_DEFAULTS = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  handshakeTimeoutMs: 5000,
  idleTimeoutMs: 30_000,
  /** The process's soft file-descriptor limit minus a reserve (5%, at least 64); 10,000 when it cannot be read. */
  maxConnections: defaultMaxConnections(),
  busyRetryAfterMs: 300_000,
  maxPendingHandshakes: 1000,
  maxHandlerAttempts: Infinity,
} as const;

/** The u32 length field's range. */
const MAX_MAX_FRAME_BYTES = MAX_U32;

function positiveInteger(
  name: string,
  value: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    invalidOption(
      name,
      `must be an integer in [${min}, ${max}], got ${typeof value === "number" ? value : typeof value}`,
    );
  return value;
}

function optionalFunction<T>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") invalidOption(name, `must be a function, got ${typeof value}`);
  return value as T;
}

/** Validates and fills in defaults. Throws OUTLAST_INVALID_OPTION naming the first bad option. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options !== "object" || options === null)
    invalidOption("options", "createServer() needs an options object");
  const onMessage = optionalFunction<MessageHandler>("onMessage", options.onMessage);
  const onMessages = optionalFunction<BatchHandler>("onMessages", options.onMessages);
  if (onMessage === undefined && onMessages === undefined)
    invalidOption(
      "onMessage",
      "is required: a function ({ clientId, seq, data, redelivery }) => void | Promise<void> (or onMessages, for batches)",
    );
  if (onMessage !== undefined && onMessages !== undefined)
    invalidOption("onMessages", "cannot be given with onMessage: pick the per-message or the batch handler");
  if (
    options.state !== undefined &&
    (typeof options.state === "string"
      ? options.state === ""
      : typeof options.state !== "object" || options.state === null || typeof options.state.load !== "function")
  )
    invalidOption("state", "must be a non-empty directory path (or a DedupState)");
  if (options.tls !== undefined && (typeof options.tls !== "object" || options.tls === null))
    invalidOption("tls", "must be node:tls server options ({ key, cert, ca, requestCert })");
  const authenticate = optionalFunction<Authenticate>("authenticate", options.authenticate);
  const onDeadLetter = optionalFunction<DeadLetterHandler>("onDeadLetter", options.onDeadLetter);
  let maxHandlerAttempts: number = SERVER_DEFAULTS.maxHandlerAttempts;
  if (options.maxHandlerAttempts !== undefined && options.maxHandlerAttempts !== Infinity)
    maxHandlerAttempts = positiveInteger("maxHandlerAttempts", options.maxHandlerAttempts, Infinity);
  if (maxHandlerAttempts !== Infinity && onDeadLetter === undefined)
    invalidOption(
      "onDeadLetter",
      "is required when maxHandlerAttempts is finite: it decides what happens to a message the server gives up on",
    );
  const clock = options.clock ?? systemClock;
  if (
    typeof clock !== "object" ||
    typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  )
    invalidOption("clock", "must be a Clock ({ now, setTimeout, clearTimeout })");
  return {
    onMessage,
    onMessages,
    state: options.state,
    tls: options.tls,
    authenticate,
    maxFrameBytes: positiveInteger(
      "maxFrameBytes",
      options.maxFrameBytes,
      SERVER_DEFAULTS.maxFrameBytes,
      MIN_MAX_FRAME_BYTES,
      MAX_MAX_FRAME_BYTES,
    ),
    handshakeTimeoutMs: positiveInteger(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      SERVER_DEFAULTS.handshakeTimeoutMs,
    ),
    idleTimeoutMs: positiveInteger("idleTimeoutMs", options.idleTimeoutMs, SERVER_DEFAULTS.idleTimeoutMs),
    maxConnections: positiveInteger("maxConnections", options.maxConnections, SERVER_DEFAULTS.maxConnections),
    busyRetryAfterMs: positiveInteger(
      "busyRetryAfterMs",
      options.busyRetryAfterMs,
      SERVER_DEFAULTS.busyRetryAfterMs,
      1,
      2 ** 31 - 1,
    ),
    maxPendingHandshakes: positiveInteger(
      "maxPendingHandshakes",
      options.maxPendingHandshakes,
      SERVER_DEFAULTS.maxPendingHandshakes,
    ),
    maxHandlerAttempts,
    onDeadLetter,
    clock,
  };
}

/** listen() options. */
export interface ListenOptions {
  /** Port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to bind; default 127.0.0.1 (loopback only, like `outlast serve`): pass "0.0.0.0" or "::" for every interface. */
  readonly host?: string;
}

/** Where listen() binds without a host: loopback, so nothing is exposed to the network unless asked for. */
export const DEFAULT_LISTEN_HOST = "127.0.0.1";
