/**
 * `outlast serve`: an outlast server that writes every delivered message to
 * stdout or a file, and acknowledges a message only once it is written.
 */

import { isUtf8 } from "node:buffer";
import type { TlsOptions } from "node:tls";
import { isOutlastError } from "../../errors/outlast-error.js";
import { createServer } from "../../server/index.js";
import { DEFAULT_LISTEN_HOST } from "../../server/options.js";
import type { IncomingMessage, Server, ServerOptions } from "../../server/index.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import {
  formatFailure,
  formatHostPort,
  oneLine,
  parseChoice,
  parseDurationMs,
  parseHostPort,
  parseSizeBytes,
  readOptions,
  reportUncaught,
  type HostPort,
} from "../config.js";
import { credentialsAuthenticator, parseCredentials } from "../credentials.js";
import { LOG_FORMATS, LOG_LEVELS, createLog, type Log, type LogFormat, type LogLevel } from "../observe/log.js";
import { ServeOps } from "../observe/serve-ops.js";
import { openOutput, type OutputSink } from "../output.js";
import { readNamed } from "../read-named.js";
import { onStopSignals } from "../stop-signals.js";
import { countOf } from "../live/widgets.js";
import { startFailure } from "./serve-failures.js";
import { FORWARD_HELP, FORWARD_OPTIONS, readForwardFlags, type ForwardFlags } from "./serve-forward-flags.js";

const NAME = "serve";
/** Loopback, like server.listen() without a host: nothing is exposed unless asked for. */
const DEFAULT_LISTEN = `${DEFAULT_LISTEN_HOST}:7070`;
/** The protocol's floor for maxFrameBytes (src/protocol/limits.ts). */
const MIN_FRAME_BYTES = 4096;
const DEFAULT_DRAIN_TIMEOUT = "25s";
const DEFAULT_DRAIN_WINDOW = "5s";
/** With --metrics, how often a locked state directory is tried again. */
const LOCK_RETRY_MS = 1000;

const HELP = `Usage: outlast serve [--listen HOST:PORT] [--state DIR] [--output FILE|-] [--format jsonl|raw]
                     [--tls-cert FILE --tls-key FILE [--tls-ca FILE --require-client-cert]]
                     [--credentials FILE] [--max-frame-bytes SIZE] [--idle-timeout DURATION]
                     [--metrics HOST:PORT] [--log-format human|json] [--log-level LEVEL]
                     [--drain-timeout DURATION] [--drain-window DURATION] [--config FILE] [--debug]
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
  --idle-timeout DURATION close a connection silent this long (default 30s;
                          at least 3 x the client's heartbeat interval)
  --metrics HOST:PORT     serve Prometheus metrics at /metrics, /healthz (alive),
                          /readyz (listening, state open) and a status page at /
                          on this address. With --metrics a locked --state is
                          waited for (not ready) instead of exiting
  --log-format human|json human (default): one line per event; json: one JSON
                          object per line (level, time, msg, clientId, ...)
  --log-level LEVEL       debug, info (default), warn or error
  --drain-timeout D       on SIGTERM/SIGINT, stop at once if draining takes
                          longer than this (default ${DEFAULT_DRAIN_TIMEOUT})
  --drain-window D        spread the GOODBYEs that send clients elsewhere over
                          this window (default ${DEFAULT_DRAIN_WINDOW}; less than --drain-timeout)
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
  output: { type: "string" },
  format: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" },
  "require-client-cert": { type: "boolean" },
  credentials: { type: "string" },
  "max-frame-bytes": { type: "string" },
  "idle-timeout": { type: "string" },
  metrics: { type: "string" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
  "drain-timeout": { type: "string" },
  "drain-window": { type: "string" },
  ...FORWARD_OPTIONS,
} as const;

const FORMATS = ["jsonl", "raw"] as const;
type Format = (typeof FORMATS)[number];

interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
  readonly requireClientCert: boolean;
}

interface ServeConfig {
  readonly listen: HostPort;
  readonly state: string | undefined;
  readonly stateSource: string;
  readonly output: string | undefined;
  readonly format: Format;
  readonly tls: TlsFiles | undefined;
  readonly credentials: string | undefined;
  readonly maxFrameBytes: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly listenSource: string;
  readonly metrics: HostPort | undefined;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
  readonly drainTimeoutMs: number;
  readonly drainWindowMs: number;
  readonly debug: boolean;
  /** Gateway mode (--forward): the stream is the state and the output. */
  readonly forward: ForwardFlags | undefined;
}

/** Flags and OUTLAST_* variables -> config. Throws UsageError. */
function readConfig(args: readonly string[], env: NodeJS.ProcessEnv): ServeConfig | "help" {
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
  if (forward !== undefined)
    for (const flag of ["log-format"] as const)
      if (v[flag] !== undefined)
        throw new UsageError(`${source(flag)} is not available with --forward yet (docs/scale-out.md, Limits)`);
  return {
    forward,
    listen: parseHostPort(v.listen ?? DEFAULT_LISTEN, source("listen")),
    listenSource: source("listen"),
    state,
    stateSource: source("state"),
    output: v.output,
    format: v.format === undefined ? "jsonl" : parseChoice(v.format, FORMATS, source("format")),
    tls:
      cert === undefined || key === undefined
        ? undefined
        : { cert, key, ca, requireClientCert: v["require-client-cert"] },
    credentials: v.credentials,
    maxFrameBytes,
    idleTimeoutMs:
      v["idle-timeout"] === undefined ? undefined : parseDurationMs(v["idle-timeout"], source("idle-timeout")),
    metrics: v.metrics === undefined ? undefined : parseHostPort(v.metrics, source("metrics")),
    logFormat:
      v["log-format"] === undefined ? "human" : parseChoice(v["log-format"], LOG_FORMATS, source("log-format")),
    logLevel: v["log-level"] === undefined ? "info" : parseChoice(v["log-level"], LOG_LEVELS, source("log-level")),
    drainTimeoutMs,
    drainWindowMs,
    debug: v.debug,
  };
}

/** One delivered message as the bytes to write. */
export function formatMessage(format: Format, m: IncomingMessage): Uint8Array {
  if (format === "raw") return m.data;
  const utf8 = isUtf8(m.data);
  const bytes = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const line: Record<string, unknown> = {
    clientId: m.clientId,
    seq: m.seq,
    data: bytes.toString(utf8 ? "utf8" : "base64"),
  };
  if (!utf8) line["encoding"] = "base64";
  if (m.redelivery) line["redelivery"] = true;
  return Buffer.from(`${JSON.stringify(line)}\n`);
}

async function loadTls(files: TlsFiles): Promise<TlsOptions> {
  const [cert, key, ca] = await Promise.all([
    readNamed(files.cert, "--tls-cert"),
    readNamed(files.key, "--tls-key"),
    files.ca === undefined ? undefined : readNamed(files.ca, "--tls-ca"),
  ]);
  const options: TlsOptions = { cert, key };
  return ca === undefined
    ? options
    : { ...options, ca, requestCert: true, rejectUnauthorized: files.requireClientCert };
}

type Stop =
  | { readonly kind: "signal"; readonly signal: NodeJS.Signals }
  | { readonly kind: "output"; readonly error: Error }
  | { readonly kind: "server"; readonly error: Error };

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failure as one log line (with --debug, the stack and causes follow in the human format). */
function logFailure(log: Log, config: ServeConfig, err: unknown): void {
  const code = (err as { code?: unknown } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (config.logFormat === "human")
    log.error(
      formatFailure(NAME, err, config.debug)
        .replace(/^outlast serve: /, "")
        .trimEnd(),
    );
  else log.error(oneLine(err), { event: "serve.failed", code: typeof code === "string" ? code : undefined });
}

async function runServer(config: ServeConfig, log: Log, io: CommandIo): Promise<number> {
  const tls = config.tls === undefined ? undefined : await loadTls(config.tls);
  const credentials =
    config.credentials === undefined
      ? undefined
      : parseCredentials((await readNamed(config.credentials, "--credentials")).toString("utf8"), config.credentials);
  if (config.forward !== undefined) {
    // Gateway mode: the NATS client is loaded only on this path.
    const { runGateway } = await import("./serve-gateway.js");
    return runGateway(
      {
        listen: config.listen,
        forward: config.forward,
        tls,
        authenticate: credentials === undefined ? undefined : credentialsAuthenticator(credentials),
        maxFrameBytes: config.maxFrameBytes,
        idleTimeoutMs: config.idleTimeoutMs,
        debug: config.debug,
        metrics: config.metrics,
      },
      io,
    );
  }
  const ops = await ServeOps.start(log, config.metrics).catch((err: unknown) => {
    const where = config.metrics === undefined ? "" : formatHostPort(config.metrics.host, config.metrics.port);
    throw new Error(`cannot serve --metrics on ${where}: ${oneLine(err)}`, { cause: err });
  });
  const sink: OutputSink | undefined = await openOutput(config.output).catch(async (err: unknown) => {
    await ops.close();
    throw new Error(`cannot open --output ${config.output ?? "-"}: ${oneLine(err)}`, { cause: err });
  });
  const readiness = ops.readiness;
  readiness.mark("listening", false, "not listening yet");
  readiness.mark("state", false, config.state === undefined ? "starting" : `opening ${config.state}`);
  if (ops.endpoint !== undefined) {
    const url = `http://${formatHostPort(ops.endpoint.host, ops.endpoint.port)}`;
    log.info(`metrics on ${url}/metrics, status page on ${url}/`, {
      event: "metrics.listening",
      address: formatHostPort(ops.endpoint.host, ops.endpoint.port),
    });
  }

  let resolveStop: (stop: Stop) => void = () => {};
  const stopped = new Promise<Stop>((resolve) => (resolveStop = resolve));
  let stopping = false;
  let server: Server | undefined;
  const removeSignals = onStopSignals({
    first: (signal) => {
      stopping = true;
      resolveStop({ kind: "signal", signal });
    },
    again: (signal) => {
      log.warn(`${signal} again: stopping at once; unacknowledged messages will be resent by their clients`, {
        event: "serve.stop",
        signal,
      });
      log.flush();
      void server?.destroy();
    },
    stopping: () => stopping,
  });
  void sink.failed.then((error) => resolveStop({ kind: "output", error }));

  // One write (and, for a file, one fdatasync) per batch of a client's pipelined messages.
  const handler = ops.observer.wrapBatch((batch) =>
    sink.write(Buffer.concat(batch.map((m) => formatMessage(config.format, m)))),
  );
  const makeServer = (): Server => {
    let created: Server;
    try {
      const options: ServerOptions = {
        onMessages: handler,
        ...(config.state === undefined ? {} : { state: config.state }),
        ...(tls === undefined ? {} : { tls }),
        ...(credentials === undefined ? {} : { authenticate: credentialsAuthenticator(credentials) }),
        ...(config.maxFrameBytes === undefined ? {} : { maxFrameBytes: config.maxFrameBytes }),
        ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
      };
      created = createServer(options);
    } catch (err) {
      // node:tls rejects an unusable certificate or key here (ERR_OSSL_PEM_NO_START_LINE, key mismatch, ...).
      if (tls !== undefined && !isOutlastError(err))
        throw new Error(`cannot use --tls-cert ${config.tls?.cert} / --tls-key ${config.tls?.key}: ${oneLine(err)}`, {
          cause: err,
        });
      throw err;
    }
    ops.watch(created);
    created.on("error", (error) => resolveStop({ kind: "server", error }));
    created.on("handlerError", (err, info) => {
      // Our handler fails only when the output does; that is reported once, below.
      log.debug(`clientId ${JSON.stringify(info.clientId)} seq ${info.seq}: not written: ${oneLine(err)}`, {
        event: "handler.failed",
        clientId: info.clientId,
        seq: info.seq,
      });
    });
    return created;
  };

  try {
    // With --metrics an orchestrator watches /readyz: a locked state directory (the previous
    // server still running) is waited for, not ready, instead of exiting.
    let bound: { host: string; port: number } | undefined;
    let running: Server | undefined;
    let waitingForLock = false;
    while (bound === undefined || running === undefined) {
      running = server = makeServer();
      try {
        bound = await running.listen(config.listen);
      } catch (err) {
        if (config.metrics === undefined || !isOutlastError(err, "OUTLAST_STATE_LOCKED"))
          throw startFailure(err, config);
        const detail = oneLine(startFailure(err, config));
        readiness.mark("state", false, detail);
        if (!waitingForLock)
          log.warn(`${detail}; waiting for it (not ready)`, { event: "state.locked", code: err.code });
        waitingForLock = true;
        if ((await Promise.race([delay(LOCK_RETRY_MS), stopped])) !== undefined) {
          log.info("stopped while waiting for the state directory", { event: "serve.stopped" });
          return EXIT_OK;
        }
      }
    }
    if (config.state === undefined)
      log.warn(
        "no --state: dedup state is in memory only; after a restart, messages resent by clients are written again",
        {
          event: "state.memory",
        },
      );
    readiness.mark("state", true, config.state === undefined ? "in memory (no --state)" : `${config.state} open`);
    const address = `${tls === undefined ? "tcp" : "tls"}://${formatHostPort(bound.host, bound.port)}`;
    readiness.mark("listening", true, address);
    log.info(`listening on ${address}`, { event: "serve.listening", address });

    const stop = await stopped;
    stopping = true;
    readiness.mark("listening", false, "stopping");
    let code = EXIT_OK;
    switch (stop.kind) {
      case "signal": {
        ops.observer.draining = true;
        const connections = running.stats().connections;
        log.info(
          `${stop.signal}: draining connections: ${connections} clients sent elsewhere over ${config.drainWindowMs} ms, at most ${config.drainTimeoutMs} ms${stop.signal === "SIGINT" ? " (Ctrl-C again to stop at once)" : ""}`,
          { event: "serve.draining", signal: stop.signal, connections, windowMs: config.drainWindowMs },
        );
        if (!(await within(running.drain({ windowMs: config.drainWindowMs }), config.drainTimeoutMs))) {
          log.error(
            `the drain did not finish within --drain-timeout ${config.drainTimeoutMs} ms; stopping at once (unacknowledged messages will be resent by their clients)`,
            { event: "serve.drainTimeout", connections: running.stats().connections },
          );
          await running.destroy();
          code = EXIT_FAILURE;
        }
        break;
      }
      case "output": {
        const epipe = (stop.error as NodeJS.ErrnoException).code === "EPIPE" && sink.name === "stdout";
        if (epipe)
          log.warn(
            "the reader of stdout went away (EPIPE); stopping; messages not written were not acknowledged and will be resent",
            { event: "output.closed", code: "EPIPE" },
          );
        else
          logFailure(
            log,
            config,
            new Error(
              `cannot write to ${sink.name}: ${oneLine(stop.error)}; stopping; messages not written were not acknowledged`,
              { cause: stop.error },
            ),
          );
        await running.close();
        if (!epipe) code = EXIT_FAILURE;
        break;
      }
      case "server":
        // The server destroyed itself (its state directory failed).
        logFailure(log, config, stop.error);
        await running.destroy();
        code = EXIT_FAILURE;
        break;
      default: {
        const never: never = stop;
        return never;
      }
    }
    const s = running.stats();
    log.info(
      `stopped; ${countOf(s.messagesProcessed, "message")} written, ${countOf(s.duplicatesSkipped, "duplicate")} skipped`,
      { event: "serve.stopped", messages: s.messagesProcessed, duplicates: s.duplicatesSkipped },
    );
    return code;
  } finally {
    await server?.destroy();
    await sink.close();
    await ops.close();
    removeSignals();
  }
}

export const serve: Command = {
  summary: "listen for outlast clients and write every delivered message to stdout or a file",
  help: HELP,
  async run(args, io) {
    const config = readConfig(args, process.env); // UsageError: main prints it, exit 2
    if (config === "help") {
      io.out(HELP);
      return EXIT_OK;
    }
    const removeUncaught = reportUncaught(NAME, config.debug);
    const log = await createLog({ command: NAME, format: config.logFormat, level: config.logLevel, write: io.err });
    try {
      return await runServer(config, log, io);
    } catch (err) {
      logFailure(log, config, err);
      return EXIT_FAILURE;
    } finally {
      log.flush();
      removeUncaught();
    }
  },
};
