/**
 * nats:// options of connect(): `subject` and `stream` (required there), and `nats`
 * (credentials and the writer's limits). Types are checked in resolveOptions(); the
 * nats transport's checkOptions() requires them and refuses them for other schemes' sake.
 */

import { invalidOption } from "../../../errors/outlast-error.js";

export interface NatsConnectOptions {
  /** A NATS user and its password. */
  readonly user?: string;
  readonly pass?: string;
  /** A NATS token. */
  readonly token?: string;
  /** A NATS .creds file (JWT + NKey seed). */
  readonly credsFile?: string;
  /** A publish without a PubAck by then is in doubt: the mark is re-read (ms). Default 2000. */
  readonly publishTimeoutMs?: number;
  /** Publishes in flight at once (pipelined, in order). Default 256. */
  readonly maxInFlight?: number;
}

export interface ResolvedNatsOptions {
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly credsFile: string | undefined;
  readonly publishTimeoutMs: number;
  readonly maxInFlight: number;
}

export const NATS_DEFAULTS = { publishTimeoutMs: 2000, maxInFlight: 256 } as const;

/** The literal subject a client publishes on: tokens of visible characters, no wildcards. */
const SUBJECT = /^[^\s*>.]+(\.[^\s*>.]+)*$/;
const STREAM = /^[^.*>\s/\\]+$/;

function text(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") invalidOption(name, "must be a non-empty string");
  return value;
}

function int(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    invalidOption(name, `must be an integer in [${min}, ${max}]`);
  return value;
}

/** subject, stream, nats: checked for type and shape (whether they apply is the transport's check). */
export function resolveNatsOptions(o: {
  readonly subject?: unknown;
  readonly stream?: unknown;
  readonly nats?: unknown;
}): { subject: string | undefined; stream: string | undefined; nats: ResolvedNatsOptions & { given: boolean } } {
  const subject = text("subject", o.subject);
  if (subject !== undefined && !SUBJECT.test(subject))
    invalidOption("subject", `${JSON.stringify(subject)} is not a literal NATS subject like robots.r1 (no wildcards)`);
  const stream = text("stream", o.stream);
  if (stream !== undefined && !STREAM.test(stream))
    invalidOption("stream", "must be a JetStream stream name (no '.', '*', '>', '/', '\\' or whitespace)");
  if (o.nats !== undefined && (typeof o.nats !== "object" || o.nats === null))
    invalidOption("nats", "must be an object");
  const n = (o.nats ?? {}) as NatsConnectOptions;
  const user = text("nats.user", n.user);
  const pass = text("nats.pass", n.pass);
  if ((user === undefined) !== (pass === undefined))
    invalidOption(user === undefined ? "nats.pass" : "nats.user", "needs nats.user and nats.pass together");
  return {
    subject,
    stream,
    nats: {
      user,
      pass,
      token: text("nats.token", n.token),
      credsFile: text("nats.credsFile", n.credsFile),
      publishTimeoutMs: int(
        "nats.publishTimeoutMs",
        n.publishTimeoutMs,
        NATS_DEFAULTS.publishTimeoutMs,
        100,
        2 ** 31 - 1,
      ),
      maxInFlight: int("nats.maxInFlight", n.maxInFlight, NATS_DEFAULTS.maxInFlight, 1, 65_536),
      given: o.nats !== undefined,
    },
  };
}
