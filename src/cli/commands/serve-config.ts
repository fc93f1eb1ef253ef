/** `outlast serve`'s flags, help and configuration (flags > OUTLAST_* variables > --config file). */

import { DEFAULT_LISTEN_HOST } from "../../server/options.js";
import { UsageError } from "../command.js";
import { parseChoice, parseDurationMs, parseHostPort, parseSizeBytes, readOptions, type HostPort } from "../config.js";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../observe/log.js";
import { FORWARD_HELP, FORWARD_OPTIONS, readForwardFlags, type ForwardFlags } from "./serve-forward-flags.js";

export const NAME = "serve";
/** Loopback, like server.listen() without a host: nothing is exposed unless asked for. */
const DEFAULT_LISTEN = `${DEFAULT_LISTEN_HOST}:7070`;
/** The protocol's floor for maxFrameBytes (src/protocol/limits.ts). */
const MIN_FRAME_BYTES = 4096;
const DEFAULT_DRAIN_TIMEOUT = "25s";
const DEFAULT_DRAIN_WINDOW = "5s";
/**
 * Below this an --idle-timeout is a typo ("1ms" for "1m"): a welcomed connection is kept at
 * least 3 x its client's heartbeat interval anyway (6 s by default), so less buys nothing.
 */
const MIN_IDLE_TIMEOUT_MS = 1000;

export const HELP = `Usage: outlast serve [--listen HOST:PORT] [--state DIR] [--output FILE|-] [--format jsonl|raw]
                     [--tls-cert FILE --tls-key FILE [--tls-ca FILE --require-client-cert]]
                     [--credentials FILE] [--max-frame-bytes SIZE] [--idle-timeout DURATION]
                     [--max-connections N] [--busy-retry-after DURATION]
                     [--metrics HOST:PORT] [--log-format human|json] [--log-level LEVEL]
                     [--drain-timeout DURATION] [--drain-window DURATION] [--workers N]
                     [--config FILE] [--debug]
       outlast serve --forward nats://HOST:PORT[,...] --stream NAME [--listen HOST:PORT] [...]

Runs an outlast server and writes every delivered message to stdout (or a file).
A message is acknowledged to its client only after it was written, so nothing a
client was told is delivered can be lost by this command.

  --listen HOST:PORT      address to listen on (default ${DEFAULT_LISTEN}; 0.0.0.0:PORT or
                          [::]:PORT for every interface; port 0 picks a free one).
                          The bound address is printed on stderr:
                          "outlast serve: listening on tcp://127.0.0.1:7070"
  --state DIR             keep the dedup state (which seqs each client already
                          delivered) in DIR, crash-safe. Strongly recommended:
                          without it the state is in memory and messages resent
                          after a restart are written again
  --output FILE|-         append messages to FILE (created if missing); - is stdout
                          (default). For a regular file, acknowledged means fdatasync'd
  --format jsonl|raw      jsonl (default): one JSON object per line,
                            {"clientId":"a","seq":1,"data":"hello"}
                          with "encoding":"base64" when the payload is not UTF-8,
                          and "redelivery":true when it may have been written before.
                          raw: the payload bytes exactly, no separator added
  --tls-cert FILE         serve TLS with this certificate (PEM) ...
  --tls-key FILE          ... and this private key (PEM)
  --tls-ca FILE           CA (PEM) that signs client certificates; with
  --require-client-cert   a client must present a certificate signed by --tls-ca
  --credentials FILE      accept a client only if its token matches: lines of
                          "clientId token" (# comments), or a JSON object
                          {"clientId": "token"}
  --max-frame-bytes SIZE  largest frame accepted (default 1MiB; at least 4096)
  --state-wait DURATION   when --state is locked by another server (the one being
                          replaced, still draining), wait up to this long for it
                          (not ready, tried every second), then exit 1
                          (default 0: exit 1 at once)
  --idle-timeout DURATION close a connection silent this long (default 30s, at
                          least 1s; never less than 3 x the client's heartbeat interval)
  --max-connections N     refuse more clients than this with OUTLAST_SERVER_BUSY
                          (default: the open-file limit, ulimit -n, minus 5%)
  --busy-retry-after D    how long a refused client is asked to wait before it
                          comes back (default 5m, jittered 0.5-1.5x per refusal)
  --metrics HOST:PORT     serve Prometheus metrics at /metrics, /healthz (alive),
                          /readyz (listening, state open) and a status page at /
                          on this address
  --log-format human|json human (default): one line per event; json: one JSON
                          object per line (level, time, msg, clientId, ...)
  --log-level LEVEL       debug, info (default), warn or error
  --drain-timeout D       on SIGTERM/SIGINT, stop at once if draining takes
                          longer than this (default ${DEFAULT_DRAIN_TIMEOUT})
  --drain-window D        spread the GOODBYEs that send clients elsewhere over
                          this window (default ${DEFAULT_DRAIN_WINDOW}; less than --drain-timeout)
  --workers N             run N server processes behind one port (default 1: this
                          process alone). Each client always lands on the same
                          worker; with --state DIR worker k keeps its state in
                          DIR/worker-k and DIR records N (start it with the same N
                          every time). Needs --output FILE; refuses TLS and --forward
  --config FILE           read options from a JSON or TOML file; keys are the
                          flag names ("idle-timeout" = "30s"); a flag or an
                          OUTLAST_* variable wins over the file
  --debug                 show stack traces on errors
  -h, --help              show this help

${FORWARD_HELP}
Every option can also be set in the environment: --state is OUTLAST_STATE,
--idle-timeout is OUTLAST_IDLE_TIMEOUT, --require-client-cert=1 is
OUTLAST_REQUIRE_CLIENT_CERT=1, ... A flag wins over its variable.
Durations: 250ms, 5s, 2m, 1h. Sizes: 4096, 64KiB, 1MiB, 1MB.

SIGINT or SIGTERM drains: the listener closes, each client is told (GOODBYE) to
reconnect elsewhere at a random moment within --drain-window, messages being
written finish and are acknowledged, the state is made durable, then the command
exits 0. A second signal stops at once (exit 130 for SIGINT, 143 for SIGTERM).
Messages not acknowledged are resent by their clients.

Examples:
  outlast serve --state ./outlast-state
  outlast serve --listen 0.0.0.0:7070 --state /var/lib/outlast --output messages.jsonl
  outlast serve --format raw --state ./s | my-consumer
  OUTLAST_CREDENTIALS=./clients.txt outlast serve --tls-cert cert.pem --tls-key key.pem --state ./s

Exit codes: 0 stopped by SIGINT/SIGTERM (or the reader of stdout went away),
1 failure (address in use, state directory locked, unreadable file, output
failed, the drain outlasted --drain-timeout), 2 usage error, 130 stopped at
once by a second SIGINT.
`;

const OPTIONS = {
  listen: { type: "string" },
  state: { type: "string" },
  "state-wait": { type: "string" },
  output: { type: "string" },
  format: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" },
  "require-client-cert": { type: "boolean" },
  credentials: { type: "string" },
  "max-frame-bytes": { type: "string" },
  "idle-timeout": { type: "string" },
  "max-connections": { type: "string" },
  "busy-retry-after": { type: "string" },
  metrics: { type: "string" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  "drain-timeout": { type: "string" },
  "drain-window": { type: "string" },
  workers: { type: "string" },
  ...FORWARD_OPTIONS,
} as const;

const FORMATS = ["jsonl", "raw"] as const;
export type Format = (typeof FORMATS)[number];

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
  readonly requireClientCert: boolean;
}

export interface ServeConfig {
  readonly listen: HostPort;
  readonly state: string | undefined;
  readonly stateSource: string;
  /** --state-wait: how long a locked state directory is waited for (0: not at all). */
  readonly stateWaitMs: number;
  readonly output: string | undefined;
  readonly format: Format;
  readonly tls: TlsFiles | undefined;
  readonly credentials: string | undefined;
  readonly maxFrameBytes: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly maxConnections: number | undefined;
  readonly busyRetryAfterMs: number | undefined;
  readonly listenSource: string;
  readonly metrics: HostPort | undefined;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
  readonly drainTimeoutMs: number;
  readonly drainWindowMs: number;
  readonly debug: boolean;
  /** --workers: server processes behind the port (1: this process serves alone). */
  readonly workers: number;
  readonly workersSource: string;
  /** Gateway mode (--forward): the stream is the state and the output. */
  readonly forward: ForwardFlags | undefined;
}

/** Flags and OUTLAST_* variables -> config. Throws UsageError. */
export function readConfig(args: readonly string[], env: NodeJS.ProcessEnv): ServeConfig | "help" {
  const { values: v, source } = readOptions(args, OPTIONS, { env });
  if (v.help) return "help";
  const cert = v["tls-cert"];
  const key = v["tls-key"];
  const ca = v["tls-ca"];
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError(
      cert === undefined ? `${source("tls-key")} needs --tls-cert` : `${source("tls-cert")} needs --tls-key`,
    );
  if (cert === undefined && (ca !== undefined || v["require-client-cert"]))
    throw new UsageError(
      `${ca !== undefined ? source("tls-ca") : source("require-client-cert")} needs --tls-cert and --tls-key`,
    );
  if (v["require-client-cert"] !== (ca !== undefined))
    throw new UsageError(
      ca === undefined
        ? `${source("require-client-cert")} needs --tls-ca (the CA that signs client certificates)`
        : `${source("tls-ca")} is the CA for client certificates: pass --require-client-cert with it`,
    );
  let maxFrameBytes: number | undefined;
  if (v["max-frame-bytes"] !== undefined) {
    maxFrameBytes = parseSizeBytes(v["max-frame-bytes"], source("max-frame-bytes"));
    if (maxFrameBytes < MIN_FRAME_BYTES || maxFrameBytes > 0xffff_ffff)
      throw new UsageError(
        `${source("max-frame-bytes")} must be between 4096 and 4GiB - 1, not ${v["max-frame-bytes"]}`,
      );
  }
  const state = v.state;
  if (state === "") throw new UsageError(`${source("state")} needs a directory`);
  const stateWaitMs = v["state-wait"] === undefined ? 0 : parseDurationMs(v["state-wait"], source("state-wait"));
  if (stateWaitMs > 0 && state === undefined)
    throw new UsageError(`${source("state-wait")} waits for a locked --state: pass --state DIR with it`);
  const idleTimeoutMs =
    v["idle-timeout"] === undefined ? undefined : parseDurationMs(v["idle-timeout"], source("idle-timeout"));
  if (idleTimeoutMs !== undefined && idleTimeoutMs < MIN_IDLE_TIMEOUT_MS)
    throw new UsageError(
      `${source("idle-timeout")} must be at least 1s, not ${v["idle-timeout"]} (a connection is kept at least 3 x its client's heartbeat interval anyway)`,
    );
  let maxConnections: number | undefined;
  if (v["max-connections"] !== undefined) {
    maxConnections = Number(v["max-connections"]);
    if (!/^\s*\d+\s*$/.test(v["max-connections"]) || !Number.isSafeInteger(maxConnections) || maxConnections < 1)
      throw new UsageError(
        `${source("max-connections")} must be a whole number of at least 1, not ${JSON.stringify(v["max-connections"])}`,
      );
  }
  const busyRetryAfterMs =
    v["busy-retry-after"] === undefined
      ? undefined
      : parseDurationMs(v["busy-retry-after"], source("busy-retry-after"));
  const drainTimeoutMs = parseDurationMs(v["drain-timeout"] ?? DEFAULT_DRAIN_TIMEOUT, source("drain-timeout"));
  const drainWindowMs =
    v["drain-window"] === undefined
      ? Math.min(parseDurationMs(DEFAULT_DRAIN_WINDOW, "--drain-window"), Math.floor(drainTimeoutMs / 2))
      : parseDurationMs(v["drain-window"], source("drain-window"));
  if (drainWindowMs >= drainTimeoutMs)
    throw new UsageError(
      `${source("drain-window")} (${v["drain-window"]}) must be shorter than ${source("drain-timeout")} (${v["drain-timeout"] ?? DEFAULT_DRAIN_TIMEOUT})`,
    );
  const forward = readForwardFlags(v, source, [
    [state !== undefined, source("state")],
    [v.output !== undefined, source("output")],
    [v.format !== undefined, source("format")],
  ]);
  const workers = readWorkers(v.workers, source("workers"));
  if (workers > 1) {
    const many = `${source("workers")} ${workers}`;
    if (cert !== undefined)
      throw new UsageError(
        `${many} cannot serve TLS (${source("tls-cert")}): the first process reads each client's HELLO to pick its worker; terminate TLS in front of outlast, or run one process`,
      );
    if (forward !== undefined)
      throw new UsageError(
        `${many} cannot be used with ${source("forward")}: a gateway runs as one process (the stream keeps the state); run one gateway per port`,
      );
    if (v.output === undefined || v.output === "-")
      throw new UsageError(
        `${many} needs ${source("output")} FILE: several processes writing one pipe can interleave inside a line`,
      );
  }
  return {
    forward,
    workers,
    workersSource: source("workers"),
    listen: parseHostPort(v.listen ?? DEFAULT_LISTEN, source("listen")),
    listenSource: source("listen"),
    state,
    stateSource: source("state"),
    stateWaitMs,
    output: v.output,
    format: v.format === undefined ? "jsonl" : parseChoice(v.format, FORMATS, source("format")),
    tls:
      cert === undefined || key === undefined
        ? undefined
        : { cert, key, ca, requireClientCert: v["require-client-cert"] },
    credentials: v.credentials,
    maxFrameBytes,
    idleTimeoutMs,
    maxConnections,
    busyRetryAfterMs,
    metrics: v.metrics === undefined ? undefined : parseHostPort(v.metrics, source("metrics")),
    logFormat:
      v["log-format"] === undefined ? "human" : parseChoice(v["log-format"], LOG_FORMATS, source("log-format")),
    logLevel: v["log-level"] === undefined ? "info" : parseChoice(v["log-level"], LOG_LEVELS, source("log-level")),
    drainTimeoutMs,
    drainWindowMs,
    debug: v.debug,
  };
}

/** The most --workers takes: more processes than this on one machine is a typo. */
const MAX_WORKERS = 1024;

function readWorkers(raw: string | undefined, from: string): number {
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > MAX_WORKERS)
    throw new UsageError(`${from} must be a whole number from 1 to ${MAX_WORKERS}, not ${JSON.stringify(raw)}`);
  return n;
}
