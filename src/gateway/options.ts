/**
 * createGateway() options: the listening side (like createServer's) and `forward`,
 * where and how to forward into JetStream. Checked at once: a bad value throws
 * OUTLAST_INVALID_OPTION naming it.
 */

import type { TlsOptions } from "node:tls";
import type { Clock } from "../errors/clock.js";
import { systemClock } from "../errors/clock.js";
import { invalidOption } from "../errors/outlast-error.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../protocol/frames.js";
import { MIN_MAX_FRAME_BYTES } from "../protocol/limits.js";
import type { Authenticate } from "../server/options.js";
import type { NatsCredentials } from "../jetstream/nats-link.js";
import { MIN_DUPLICATE_WINDOW_MS } from "../jetstream/stream-setup.js";

/** Where and how to forward; `user`/`pass`, `token`, `credsFile`, `tls` (PEM files) and `name` as for any NATS link. */
export interface ForwardOptions extends NatsCredentials {
  /** nats:// or tls:// URLs of the cluster's servers (a comma-separated string or a list). */
  readonly servers: string | readonly string[];
  /** The JetStream stream every message goes to. */
  readonly stream: string;
  /** Client subjects are `<subjectPrefix>.<client>`. Default: from the stream's `P.>` subject; a new stream: its name. */
  readonly subjectPrefix?: string;
  /** Create the stream when missing. Default true. */
  readonly createStream?: boolean;
  /**
   * Replicas of a created stream (default 3). When given, also the least an existing stream
   * may have; when not, an existing stream is used with the replicas it has.
   */
  readonly replicas?: number;
  /** Duplicate window of a created stream (ms). Default 120000. */
  readonly duplicateWindowMs?: number;
  /** A publish without a PubAck by then is in doubt: the gateway re-reads the mark (ms). Default 2000. */
  readonly publishTimeoutMs?: number;
  /** Publishes of one client in flight at once. Default 256. */
  readonly maxInFlightPerClient?: number;
  /** Publishes in flight at once, all clients together (keeps 100 busy clients from flooding NATS). Default 1024. */
  readonly maxInFlight?: number;
  /** Dial timeout per NATS server (ms). Default 2000. */
  readonly connectTimeoutMs?: number;
}

export interface GatewayOptions {
  readonly forward: ForwardOptions;
  /** Serve TLS to clients with these node:tls options. */
  readonly tls?: TlsOptions;
  readonly authenticate?: Authenticate;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  /** Default: the server's (the process's file-descriptor limit minus a reserve). */
  readonly maxConnections?: number;
  /** The retryAfterMs a full gateway asks of those it refuses (jittered). Default: the server's, 300000. */
  readonly busyRetryAfterMs?: number;
  readonly clock?: Clock;
}

export interface ResolvedForward {
  readonly servers: readonly string[];
  readonly stream: string;
  readonly subjectPrefix: string | undefined;
  readonly createStream: boolean;
  readonly replicas: number;
  /** `replicas` when the caller gave it (then an existing stream must have as many), else 1. */
  readonly minReplicas: number;
  readonly duplicateWindowMs: number;
  readonly publishTimeoutMs: number;
  readonly maxInFlightPerClient: number;
  readonly maxInFlight: number;
  readonly connectTimeoutMs: number;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly credsFile: string | undefined;
  readonly tls: ForwardOptions["tls"];
  readonly name: string | undefined;
}

export interface ResolvedGatewayOptions {
  readonly forward: ResolvedForward;
  readonly tls: TlsOptions | undefined;
  readonly authenticate: Authenticate | undefined;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number | undefined;
  readonly busyRetryAfterMs: number | undefined;
  readonly clock: Clock;
}

export const GATEWAY_DEFAULTS = {
  replicas: 3,
  duplicateWindowMs: 120_000,
  publishTimeoutMs: 2000,
  maxInFlightPerClient: 256,
  maxInFlight: 1024,
  connectTimeoutMs: 2000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
} as const;

function integer(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    invalidOption(
      name,
      `must be an integer in [${min}, ${max}], got ${typeof value === "number" ? value : typeof value}`,
    );
  return value;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") invalidOption(name, "must be a non-empty string");
  return value;
}

/** Splits and checks NATS URLs: nats://, tls://, or host:port. */
export function parseNatsServers(value: string | readonly string[], name = "forward.servers"): string[] {
  const list = typeof value === "string" ? value.split(",") : [...value];
  const servers = list.map((s) => (typeof s === "string" ? s.trim() : "")).filter((s) => s !== "");
  if (servers.length === 0) invalidOption(name, "needs at least one NATS URL, e.g. nats://127.0.0.1:4222");
  for (const s of servers) {
    const withScheme = s.includes("://") ? s : `nats://${s}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      invalidOption(name, `${JSON.stringify(s)} is not a URL like nats://host:4222`);
    }
    if (url.protocol !== "nats:" && url.protocol !== "tls:")
      invalidOption(name, `${JSON.stringify(s)}: the scheme must be nats:// or tls://`);
    if (url.hostname === "") invalidOption(name, `${JSON.stringify(s)} has no host`);
  }
  return servers;
}

const STREAM_NAME = /^[^.*>\s/\\]+$/;
const SUBJECT_PREFIX = /^[^*>\s]+$/;

export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  if (typeof options !== "object" || options === null)
    invalidOption("options", "createGateway() needs an options object");
  const f = options.forward;
  if (typeof f !== "object" || f === null)
    invalidOption("forward", "must be { servers: 'nats://host:4222,...', stream: 'NAME' }");
  if (typeof f.stream !== "string" || !STREAM_NAME.test(f.stream))
    invalidOption("forward.stream", "must be a JetStream stream name (no '.', '*', '>', '/', '\\' or whitespace)");
  const subjectPrefix = optionalString("forward.subjectPrefix", f.subjectPrefix);
  if (
    subjectPrefix !== undefined &&
    (!SUBJECT_PREFIX.test(subjectPrefix) || subjectPrefix.startsWith(".") || subjectPrefix.endsWith("."))
  )
    invalidOption("forward.subjectPrefix", "must be a literal subject like robots or fleet.robots (no wildcards)");
  if (f.createStream !== undefined && typeof f.createStream !== "boolean")
    invalidOption("forward.createStream", "must be a boolean");
  if (f.tls !== undefined && (typeof f.tls !== "object" || f.tls === null))
    invalidOption("forward.tls", "must be { caFile, certFile, keyFile }");
  const clock = options.clock ?? systemClock;
  if (options.tls !== undefined && (typeof options.tls !== "object" || options.tls === null))
    invalidOption("tls", "must be node:tls server options ({ key, cert, ca, requestCert })");
  if (options.authenticate !== undefined && typeof options.authenticate !== "function")
    invalidOption("authenticate", "must be a function");
  return {
    forward: {
      servers: parseNatsServers(f.servers),
      stream: f.stream,
      subjectPrefix,
      createStream: f.createStream ?? true,
      replicas: integer("forward.replicas", f.replicas, GATEWAY_DEFAULTS.replicas, 1, 5),
      minReplicas:
        f.replicas === undefined ? 1 : integer("forward.replicas", f.replicas, GATEWAY_DEFAULTS.replicas, 1, 5),
      duplicateWindowMs: integer(
        "forward.duplicateWindowMs",
        f.duplicateWindowMs,
        GATEWAY_DEFAULTS.duplicateWindowMs,
        MIN_DUPLICATE_WINDOW_MS,
      ),
      publishTimeoutMs: integer("forward.publishTimeoutMs", f.publishTimeoutMs, GATEWAY_DEFAULTS.publishTimeoutMs, 100),
      maxInFlightPerClient: integer(
        "forward.maxInFlightPerClient",
        f.maxInFlightPerClient,
        GATEWAY_DEFAULTS.maxInFlightPerClient,
        1,
        65_536,
      ),
      maxInFlight: integer("forward.maxInFlight", f.maxInFlight, GATEWAY_DEFAULTS.maxInFlight, 1, 1_000_000),
      connectTimeoutMs: integer("forward.connectTimeoutMs", f.connectTimeoutMs, GATEWAY_DEFAULTS.connectTimeoutMs, 100),
      user: optionalString("forward.user", f.user),
      pass: optionalString("forward.pass", f.pass),
      token: optionalString("forward.token", f.token),
      credsFile: optionalString("forward.credsFile", f.credsFile),
      tls: f.tls,
      name: optionalString("forward.name", f.name),
    },
    tls: options.tls,
    authenticate: options.authenticate,
    maxFrameBytes: integer(
      "maxFrameBytes",
      options.maxFrameBytes,
      GATEWAY_DEFAULTS.maxFrameBytes,
      MIN_MAX_FRAME_BYTES,
      0xffff_ffff,
    ),
    handshakeTimeoutMs: integer(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      GATEWAY_DEFAULTS.handshakeTimeoutMs,
      1,
    ),
    idleTimeoutMs: integer("idleTimeoutMs", options.idleTimeoutMs, GATEWAY_DEFAULTS.idleTimeoutMs, 1),
    maxConnections:
      options.maxConnections === undefined ? undefined : integer("maxConnections", options.maxConnections, 1, 1),
    busyRetryAfterMs:
      options.busyRetryAfterMs === undefined ? undefined : integer("busyRetryAfterMs", options.busyRetryAfterMs, 1, 1),
    clock,
  };
}
