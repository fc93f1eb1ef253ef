/** connect() options: defaults and validation (an invalid option throws OUTLAST_INVALID_OPTION naming it). */

import { randomUUID } from "node:crypto";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { checkBackoffOptions } from "../errors/backoff.js";
import type { Clock } from "../errors/clock.js";
import { systemClock } from "../errors/clock.js";
import { invalidOption } from "../errors/outlast-error.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/frames.js";
import { clientIdProblem } from "../protocol/handshake.js";
import { MAX_TOKEN_BYTES, MAX_U32, MIN_MAX_FRAME_BYTES } from "../protocol/limits.js";
import { FileOutbox } from "../outbox/file-outbox.js";
import { MemoryOutbox } from "../outbox/memory-outbox.js";
import type { Outbox } from "../outbox/outbox.js";
import type { NatsConnectOptions, ResolvedNatsOptions } from "./transport/nats/nats-options.js";
import { resolveNatsOptions } from "./transport/nats/nats-options.js";

export type WhenFull = "wait" | "reject";

/** MQTT protocol version: "auto" tries MQTT 5 and falls back to 3.1.1 when the broker refuses 5. */
export type MqttVersion = "auto" | "5" | "3.1.1";

export interface MqttConnectOptions {
  /** Default "auto": MQTT 5 where the broker speaks it (identity in user properties), else 3.1.1. */
  readonly version?: MqttVersion;
  /**
   * Opt-in: prefix every payload with a JSON line carrying `outlast-client-id` and `outlast-seq`
   * (docs/brokers.md), so consumers of an MQTT 3.1.1 broker can remove duplicates. Default false:
   * the payload is the message, unchanged.
   */
  readonly envelope?: boolean;
}

export interface BackoffConnectOptions {
  /** Scale of the first retry delay (ms). Default 50. */
  readonly baseMs?: number;
  /** Longest delay between attempts (ms). Default 800. Raise it for large fleets. */
  readonly capMs?: number;
  /** The attempt counter resets after the link stayed open this long (ms). Default 5000. */
  readonly resetAfterMs?: number;
}

export interface ConnectOptions {
  /** Default: a random UUID; a durable outbox's persisted clientId wins over both. */
  readonly clientId?: string;
  /** Credential sent in HELLO for the server's `authenticate`. */
  readonly token?: string | Uint8Array;
  /** Passed to node:tls.connect for tls:// and mqtts:// URLs (ca, cert, key, servername, ...). Certificates are verified by default. */
  readonly tls?: TlsConnectionOptions;
  /**
   * Where messages wait until acknowledged: an Outbox, or a directory path for the durable
   * FileOutbox (created when missing; it keeps the clientId and sequence numbers across restarts).
   * Default: a new MemoryOutbox. The client closes it on close()/destroy().
   */
  readonly outbox?: Outbox | string;
  /** TCP connect + TLS handshake + HELLO/WELCOME must finish within this (ms). Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Ping after this long without hearing from the server (ms), unless the server beats (protocol v2); sent in HELLO as the pace the server beats at. Default 6000. */
  readonly heartbeatIntervalMs?: number;
  /** The link is dead after this long without a byte from the server (ms). Default 10000 (3 x heartbeatIntervalMs when only that is set). */
  readonly heartbeatTimeoutMs?: number;
  readonly backoff?: BackoffConnectOptions;
  /** Messages sent and not yet acknowledged. Default 4096. */
  readonly maxInFlightMessages?: number;
  /** Bytes (message data) sent and not yet acknowledged. Default 4 MiB. */
  readonly maxInFlightBytes?: number;
  /** Messages stored and not yet acknowledged. Default 100000. */
  readonly maxQueuedMessages?: number;
  /** Bytes stored and not yet acknowledged. Default 64 MiB. */
  readonly maxQueuedBytes?: number;
  /** What send() does when the queue is full. Default "wait". */
  readonly whenFull?: WhenFull;
  /** Largest frame we accept, and the cap on a message frame we send. Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** mqtt:// and mqtts://: the topic every message is published to (QoS 1). Required there. */
  readonly topic?: string;
  /** mqtt:// and mqtts://: the CONNECT username. */
  readonly username?: string;
  /** mqtt:// and mqtts://: the CONNECT password. */
  readonly password?: string | Uint8Array;
  /** mqtt:// and mqtts:// only. */
  readonly mqtt?: MqttConnectOptions;
  /** nats://: the subject every message is published on (JetStream, acknowledged by PubAck). Required there. */
  readonly subject?: string;
  /** nats://: the JetStream stream that holds `subject` (checked at connect, never created). Required there. */
  readonly stream?: string;
  /** nats:// only: credentials and the writer's limits. */
  readonly nats?: NatsConnectOptions;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
  /** Random source in [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
}

export interface ResolvedOptions {
  readonly clientId: string;
  readonly token: Uint8Array;
  readonly tls: TlsConnectionOptions;
  readonly outbox: Outbox;
  readonly connectTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly backoff: { readonly baseMs: number; readonly capMs: number; readonly resetAfterMs: number };
  readonly maxInFlightMessages: number;
  readonly maxInFlightBytes: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly whenFull: WhenFull;
  readonly maxFrameBytes: number;
  /** Broker options, checked here for type, required (or refused) by each transport's checkOptions. */
  readonly topic: string | undefined;
  readonly username: string | undefined;
  readonly password: Uint8Array | undefined;
  readonly mqtt: { readonly version: MqttVersion; readonly envelope: boolean; readonly given: boolean };
  /** nats:// options, checked here for type, required (or refused) by the nats transport's checkOptions. */
  readonly subject: string | undefined;
  readonly stream: string | undefined;
  readonly nats: ResolvedNatsOptions & { readonly given: boolean };
  readonly clock: Clock;
  readonly random: () => number;
}

export const DEFAULTS = {
  connectTimeoutMs: 5000,
  heartbeatIntervalMs: 6000,
  heartbeatTimeoutMs: 10_000,
  backoff: { baseMs: 50, capMs: 800, resetAfterMs: 5000 },
  maxInFlightMessages: 4096,
  maxInFlightBytes: 4 * 1024 * 1024,
  maxQueuedMessages: 100_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  whenFull: "wait",
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
} as const;

function int(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    invalidOption(
      name,
      `must be an integer in [${min}, ${max}], got ${typeof value === "number" ? String(value) : typeof value}`,
    );
  }
  return value;
}

export function resolveOptions(options: ConnectOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    invalidOption("options", `must be an object, got ${typeof options}`);
  }
  const o: ConnectOptions = options ?? {};

  let clientId: string = randomUUID();
  if (o.clientId !== undefined) {
    const problem = typeof o.clientId === "string" ? clientIdProblem(o.clientId) : "must be a string";
    if (problem !== undefined) invalidOption("clientId", problem);
    clientId = o.clientId;
  }

  let token: Uint8Array = new Uint8Array(0);
  if (o.token !== undefined) {
    if (typeof o.token === "string") token = Buffer.from(o.token, "utf8");
    else if (o.token instanceof Uint8Array) token = o.token.slice();
    else invalidOption("token", `must be a string or Uint8Array, got ${typeof o.token}`);
    if (token.length > MAX_TOKEN_BYTES) invalidOption("token", `is ${token.length} bytes; at most ${MAX_TOKEN_BYTES}`);
  }

  if (o.tls !== undefined && (typeof o.tls !== "object" || o.tls === null))
    invalidOption("tls", "must be an object of node:tls connect options");

  if (typeof o.outbox === "string" && o.outbox.length === 0)
    invalidOption("outbox", "must be a directory path or an Outbox, got an empty string");
  const outbox = typeof o.outbox === "string" ? new FileOutbox(o.outbox) : (o.outbox ?? new MemoryOutbox());
  for (const method of ["open", "append", "read", "acknowledge", "drop", "close"] as const) {
    if (typeof (outbox as unknown as Record<string, unknown>)[method] !== "function") {
      invalidOption("outbox", `must implement the Outbox interface (missing ${method}())`);
    }
  }

  const connectTimeoutMs = int("connectTimeoutMs", o.connectTimeoutMs, DEFAULTS.connectTimeoutMs, 1, 2 ** 31 - 1);
  const heartbeatIntervalMs = int(
    "heartbeatIntervalMs",
    o.heartbeatIntervalMs,
    DEFAULTS.heartbeatIntervalMs,
    1,
    MAX_U32,
  );
  const heartbeatTimeoutMs = int(
    "heartbeatTimeoutMs",
    o.heartbeatTimeoutMs,
    Math.max(DEFAULTS.heartbeatTimeoutMs, o.heartbeatIntervalMs === undefined ? 0 : heartbeatIntervalMs * 3),
    1,
    2 ** 31 - 1,
  );
  if (heartbeatTimeoutMs <= heartbeatIntervalMs) {
    invalidOption(
      "heartbeatTimeoutMs",
      `must be greater than heartbeatIntervalMs (${heartbeatIntervalMs}), got ${heartbeatTimeoutMs}`,
    );
  }

  if (o.backoff !== undefined && (typeof o.backoff !== "object" || o.backoff === null))
    invalidOption("backoff", "must be an object");
  const backoff = {
    baseMs: o.backoff?.baseMs ?? DEFAULTS.backoff.baseMs,
    capMs: o.backoff?.capMs ?? Math.max(DEFAULTS.backoff.capMs, o.backoff?.baseMs ?? 0),
    resetAfterMs: int("backoff.resetAfterMs", o.backoff?.resetAfterMs, DEFAULTS.backoff.resetAfterMs, 0, 2 ** 31 - 1),
  };
  checkBackoffOptions(backoff, "backoff.");
  if (backoff.capMs > 2 ** 31 - 1) invalidOption("backoff.capMs", `must be at most ${2 ** 31 - 1}`);

  const maxFrameBytes = int("maxFrameBytes", o.maxFrameBytes, DEFAULTS.maxFrameBytes, MIN_MAX_FRAME_BYTES, MAX_U32);
  const maxInFlightMessages = int(
    "maxInFlightMessages",
    o.maxInFlightMessages,
    DEFAULTS.maxInFlightMessages,
    1,
    1 << 24,
  );
  const maxInFlightBytes = int(
    "maxInFlightBytes",
    o.maxInFlightBytes,
    DEFAULTS.maxInFlightBytes,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const maxQueuedMessages = int(
    "maxQueuedMessages",
    o.maxQueuedMessages,
    DEFAULTS.maxQueuedMessages,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const maxQueuedBytes = int("maxQueuedBytes", o.maxQueuedBytes, DEFAULTS.maxQueuedBytes, 1, Number.MAX_SAFE_INTEGER);

  const whenFull = o.whenFull ?? DEFAULTS.whenFull;
  if (whenFull !== "wait" && whenFull !== "reject")
    invalidOption("whenFull", `must be "wait" or "reject", got ${String(whenFull)}`);

  const broker = resolveBrokerOptions(o);

  const clock = o.clock ?? systemClock;
  if (
    typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  ) {
    invalidOption("clock", "must implement now(), setTimeout(fn, ms) and clearTimeout(timer)");
  }
  const random = o.random ?? Math.random;
  if (typeof random !== "function") invalidOption("random", "must be a function returning a number in [0, 1)");

  return {
    clientId,
    token,
    tls: o.tls ?? {},
    outbox,
    connectTimeoutMs,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    backoff,
    maxInFlightMessages,
    maxInFlightBytes,
    maxQueuedMessages,
    maxQueuedBytes,
    whenFull,
    maxFrameBytes,
    ...broker,
    ...resolveNatsOptions(o),
    clock,
    random,
  };
}

/** topic, username, password, mqtt: types only (whether they apply is the transport's check). */
function resolveBrokerOptions(o: ConnectOptions): Pick<ResolvedOptions, "topic" | "username" | "password" | "mqtt"> {
  if (o.topic !== undefined && (typeof o.topic !== "string" || o.topic === ""))
    invalidOption(
      "topic",
      `must be a non-empty string, got ${typeof o.topic === "string" ? "an empty string" : typeof o.topic}`,
    );
  if (o.username !== undefined && typeof o.username !== "string")
    invalidOption("username", `must be a string, got ${typeof o.username}`);
  let password: Uint8Array | undefined;
  if (o.password !== undefined) {
    if (typeof o.password === "string") password = Buffer.from(o.password, "utf8");
    else if (o.password instanceof Uint8Array) password = Buffer.from(o.password);
    else invalidOption("password", `must be a string or Uint8Array, got ${typeof o.password}`);
  }
  if (o.mqtt !== undefined && (typeof o.mqtt !== "object" || o.mqtt === null))
    invalidOption("mqtt", "must be an object");
  const version = o.mqtt?.version ?? "auto";
  if (version !== "auto" && version !== "5" && version !== "3.1.1")
    invalidOption("mqtt.version", `must be "auto", "5" or "3.1.1", got ${JSON.stringify(version)}`);
  const envelope = o.mqtt?.envelope ?? false;
  if (typeof envelope !== "boolean") invalidOption("mqtt.envelope", `must be a boolean, got ${typeof envelope}`);
  return {
    topic: o.topic,
    username: o.username,
    password,
    mqtt: { version, envelope, given: o.mqtt !== undefined },
  };
}
