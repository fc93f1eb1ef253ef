/**
 * `outlast serve --forward URLS --stream NAME`: the flags that turn serve into a
 * stateless gateway into NATS JetStream (docs/scale-out.md). Only parsing here: the
 * NATS client is loaded by serve-gateway.ts, and only when --forward is given.
 */

import { UsageError } from "../command.js";
import { parseDurationMs } from "../config.js";

export const FORWARD_OPTIONS = {
  forward: { type: "string" },
  stream: { type: "string" },
  "subject-prefix": { type: "string" },
  replicas: { type: "string" },
  "duplicate-window": { type: "string" },
  "publish-timeout": { type: "string" },
  "nats-user": { type: "string" },
  "nats-pass": { type: "string" },
  "nats-token": { type: "string" },
  "nats-creds": { type: "string" },
  "nats-tls-ca": { type: "string" },
  "nats-tls-cert": { type: "string" },
  "nats-tls-key": { type: "string" },
} as const;

export const FORWARD_HELP = `Gateway mode (stateless; several can serve one stream; docs/scale-out.md):
  --forward URLS          forward every message into NATS JetStream instead of
                          writing it: comma-separated nats:// (or tls://) URLs of
                          the cluster, e.g. nats://n1:4222,nats://n2:4222. A message
                          is acknowledged only after JetStream's PubAck
  --stream NAME           the stream (created when missing: subjects NAME.>,
                          R3, file storage; an existing one is checked and refused
                          when a setting could lose a client's last message)
  --subject-prefix P      client subjects are P.<client> (default: from the
                          stream's P.> subject)
  --replicas N            replicas of a created stream (default 3); when given,
                          also the least an existing one may have (when not,
                          an existing stream is used as it is, with a warning
                          below 3)
  --duplicate-window DURATION  of a created stream (default 2m; at least 1s)
  --publish-timeout DURATION   a publish without a PubAck by then is retried
                          after re-reading the stream (default 2s)
  --nats-user NAME --nats-pass PASSWORD | --nats-token TOKEN | --nats-creds FILE
                          NATS credentials
  --nats-tls-ca FILE [--nats-tls-cert FILE --nats-tls-key FILE]
                          TLS to NATS (PEM files)
`;

export interface ForwardFlags {
  readonly servers: string;
  readonly stream: string;
  readonly subjectPrefix: string | undefined;
  readonly replicas: number | undefined;
  readonly duplicateWindowMs: number | undefined;
  readonly publishTimeoutMs: number | undefined;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly credsFile: string | undefined;
  readonly tls: { caFile?: string; certFile?: string; keyFile?: string } | undefined;
  readonly source: (name: keyof typeof FORWARD_OPTIONS) => string;
}

type Values = { readonly [K in keyof typeof FORWARD_OPTIONS]: string | undefined };

/** What the gateway's NATS client will parse (nats://:::: passes the pattern but not this). */
function parsesAsUrl(url: string): boolean {
  try {
    return new URL(url).hostname !== "";
  } catch {
    return false;
  }
}

/** The gateway flags, or undefined without --forward. Throws UsageError naming the flag. */
export function readForwardFlags(
  v: Values,
  source: (name: keyof typeof FORWARD_OPTIONS) => string,
  conflicting: readonly [given: boolean, flag: string][],
): ForwardFlags | undefined {
  if (v.forward === undefined) {
    for (const name of Object.keys(FORWARD_OPTIONS) as (keyof typeof FORWARD_OPTIONS)[])
      if (v[name] !== undefined) throw new UsageError(`${source(name)} needs --forward (gateway mode)`);
    return undefined;
  }
  if (v.forward.trim() === "") throw new UsageError(`${source("forward")} needs nats:// URLs`);
  for (const url of v.forward.split(",").map((s) => s.trim())) {
    if (url === "" || !/^(nats|tls):\/\/[^/\s]+$/.test(url) || !parsesAsUrl(url))
      throw new UsageError(
        `${source("forward")}: ${JSON.stringify(url)} is not a NATS URL like nats://127.0.0.1:4222 (comma-separated)`,
      );
  }
  if (v.stream === undefined || v.stream === "") throw new UsageError(`${source("forward")} needs --stream NAME`);
  if (/[.*>\s/\\]/.test(v.stream))
    throw new UsageError(
      `${source("stream")} ${JSON.stringify(v.stream)}: a stream name has no '.', '*', '>', '/' or spaces`,
    );
  for (const [given, flag] of conflicting)
    if (given) throw new UsageError(`${flag} does not apply with --forward: the stream is the state and the output`);
  let replicas: number | undefined;
  if (v.replicas !== undefined) {
    replicas = Number(v.replicas);
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5)
      throw new UsageError(`${source("replicas")} must be 1 to 5, not ${JSON.stringify(v.replicas)}`);
  }
  const duplicateWindowMs =
    v["duplicate-window"] === undefined
      ? undefined
      : parseDurationMs(v["duplicate-window"], source("duplicate-window"));
  if (duplicateWindowMs !== undefined && duplicateWindowMs < 1000)
    throw new UsageError(`${source("duplicate-window")} must be at least 1s, not ${v["duplicate-window"]}`);
  const publishTimeoutMs =
    v["publish-timeout"] === undefined ? undefined : parseDurationMs(v["publish-timeout"], source("publish-timeout"));
  if (publishTimeoutMs !== undefined && publishTimeoutMs < 100)
    throw new UsageError(`${source("publish-timeout")} must be at least 100ms, not ${v["publish-timeout"]}`);
  if ((v["nats-user"] === undefined) !== (v["nats-pass"] === undefined))
    throw new UsageError(
      v["nats-user"] === undefined
        ? `${source("nats-pass")} needs --nats-user`
        : `${source("nats-user")} needs --nats-pass`,
    );
  if ((v["nats-tls-cert"] === undefined) !== (v["nats-tls-key"] === undefined))
    throw new UsageError(
      v["nats-tls-cert"] === undefined
        ? `${source("nats-tls-key")} needs --nats-tls-cert`
        : `${source("nats-tls-cert")} needs --nats-tls-key`,
    );
  const tlsGiven = v["nats-tls-ca"] !== undefined || v["nats-tls-cert"] !== undefined;
  return {
    servers: v.forward,
    stream: v.stream,
    subjectPrefix: v["subject-prefix"],
    replicas,
    duplicateWindowMs,
    publishTimeoutMs,
    user: v["nats-user"],
    pass: v["nats-pass"],
    token: v["nats-token"],
    credsFile: v["nats-creds"],
    tls: tlsGiven
      ? {
          ...(v["nats-tls-ca"] === undefined ? {} : { caFile: v["nats-tls-ca"] }),
          ...(v["nats-tls-cert"] === undefined ? {} : { certFile: v["nats-tls-cert"] }),
          ...(v["nats-tls-key"] === undefined ? {} : { keyFile: v["nats-tls-key"] }),
        }
      : undefined,
    source,
  };
}
