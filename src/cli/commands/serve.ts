/**
 * `outlast serve`: an outlast server that writes every delivered message to
 * stdout or a file, and acknowledges a message only once it is written.
 */

import { isUtf8 } from "node:buffer";
import { statSync } from "node:fs";
import { dirname } from "node:path";
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
import { openOutput, type OutputSink } from "../output.js";
import { readNamed } from "../read-named.js";
import { onStopSignals } from "../stop-signals.js";
import { countOf } from "../live/widgets.js";

const NAME = "serve";
/** Loopback, like server.listen() without a host: nothing is exposed unless asked for. */
const DEFAULT_LISTEN = `${DEFAULT_LISTEN_HOST}:7070`;
/** The protocol's floor for maxFrameBytes (src/protocol/limits.ts). */
const MIN_FRAME_BYTES = 4096;

const HELP = `Usage: outlast serve [--listen HOST:PORT] [--state DIR] [--output FILE|-] [--format jsonl|raw]
                     [--tls-cert FILE --tls-key FILE [--tls-ca FILE --require-client-cert]]
                     [--credentials FILE] [--max-frame-bytes SIZE] [--idle-timeout DURATION] [--debug]

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
  --debug                 show stack traces on errors
  -h, --help              show this help

Every option can also be set in the environment: --state is OUTLAST_STATE,
--idle-timeout is OUTLAST_IDLE_TIMEOUT, --require-client-cert=1 is
OUTLAST_REQUIRE_CLIENT_CERT=1, ... A flag wins over its variable.
Durations: 250ms, 5s, 2m, 1h. Sizes: 4096, 64KiB, 1MiB, 1MB.

SIGINT or SIGTERM stops gracefully: no new messages are taken, messages being
written finish and are acknowledged, then the command exits 0. A second SIGINT
stops at once (exit 130). Messages not acknowledged are resent by their clients.

Examples:
  outlast serve --state ./outlast-state
  outlast serve --listen 0.0.0.0:7070 --state /var/lib/outlast --output messages.jsonl
  outlast serve --format raw --state ./s | my-consumer
  OUTLAST_CREDENTIALS=./clients.txt outlast serve --tls-cert cert.pem --tls-key key.pem --state ./s

Exit codes: 0 stopped by SIGINT/SIGTERM (or the reader of stdout went away),
1 failure (address in use, state directory locked, unreadable file, output
failed), 2 usage error, 130 stopped at once by a second SIGINT.
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
  readonly debug: boolean;
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
  return {
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

/** One line for a failure to start listening. */
function startFailure(err: unknown, config: ServeConfig): Error {
  if (isOutlastError(err, "OUTLAST_STATE_LOCKED")) {
    const { dir, pid } = err.details;
    return new Error(
      `state directory ${dir} is locked by pid ${pid}; stop that server or pass another ${config.stateSource}`,
      { cause: err },
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  // A file-system error (it carries a path) comes from opening the state directory, never from listening.
  const path = (err as { path?: unknown } | null)?.path;
  if (config.state !== undefined && typeof path === "string") return stateFailure(err, path, config);
  const where = formatHostPort(config.listen.host, config.listen.port);
  if (code === "EADDRINUSE")
    return new Error(
      `cannot listen on ${where}: address already in use; stop the other server or pass another ${config.listenSource}`,
      { cause: err },
    );
  if (code === "EADDRNOTAVAIL" || code === "EACCES" || code === "ENOTFOUND" || code === "EAI_AGAIN")
    return new Error(`cannot listen on ${where}: ${oneLine(err)}; pass another ${config.listenSource}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** The nearest of `path` and its parents that exists and is not a directory (what ENOTDIR or EEXIST tripped on). */
function fileInTheWay(path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // missing: look at the parent
    }
    if (dirname(p) === p) return path;
  }
}

/** What went wrong with the --state directory, and what to do about it. */
function stateFailure(err: unknown, path: string, config: ServeConfig): Error {
  const code = (err as { code?: unknown }).code;
  const dir = config.state ?? path;
  const flag = config.stateSource;
  const at = path === dir ? "" : ` (at ${path})`;
  let what: string;
  switch (code) {
    case "EACCES":
    case "EPERM":
      what = `this user may not create or write it${at}; give this user write access to it, or pass another ${flag}`;
      break;
    case "ENOTDIR":
    case "EEXIST":
      what = `${fileInTheWay(path)} is a file, not a directory; pass another ${flag}`;
      break;
    case "EROFS":
      what = `it is on a read-only file system; pass a ${flag} on a writable one`;
      break;
    case "ENOSPC":
    case "EDQUOT":
      what = `the disk is full${at}; free some space or pass a ${flag} on another disk`;
      break;
    default:
      what = `${oneLine(err)}; check the directory, or pass another ${flag}`;
  }
  return new Error(`cannot use the state directory ${dir}: ${what}`, { cause: err });
}

type Stop =
  | { readonly kind: "signal"; readonly signal: NodeJS.Signals }
  | { readonly kind: "output"; readonly error: Error }
  | { readonly kind: "server"; readonly error: Error };

function clientLabel(info: {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  clientId?: string | undefined;
}): string {
  const addr =
    info.remoteAddress === undefined ? "client" : `client ${formatHostPort(info.remoteAddress, info.remotePort ?? 0)}`;
  return info.clientId === undefined ? addr : `${addr} (clientId ${JSON.stringify(info.clientId)})`;
}

async function runServer(config: ServeConfig, io: CommandIo): Promise<number> {
  const tls = config.tls === undefined ? undefined : await loadTls(config.tls);
  const credentials =
    config.credentials === undefined
      ? undefined
      : parseCredentials((await readNamed(config.credentials, "--credentials")).toString("utf8"), config.credentials);
  const sink: OutputSink = await openOutput(config.output).catch((err: unknown) => {
    throw new Error(`cannot open --output ${config.output ?? "-"}: ${oneLine(err)}`, { cause: err });
  });

  let server: Server;
  try {
    const options: ServerOptions = {
      onMessage: (m) => sink.write(formatMessage(config.format, m)),
      ...(config.state === undefined ? {} : { state: config.state }),
      ...(tls === undefined ? {} : { tls }),
      ...(credentials === undefined ? {} : { authenticate: credentialsAuthenticator(credentials) }),
      ...(config.maxFrameBytes === undefined ? {} : { maxFrameBytes: config.maxFrameBytes }),
      ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
    };
    server = createServer(options);
  } catch (err) {
    await sink.close();
    // node:tls rejects an unusable certificate or key here (ERR_OSSL_PEM_NO_START_LINE, key mismatch, ...).
    if (tls !== undefined && !isOutlastError(err))
      throw new Error(`cannot use --tls-cert ${config.tls?.cert} / --tls-key ${config.tls?.key}: ${oneLine(err)}`, {
        cause: err,
      });
    throw err;
  }

  let resolveStop: (stop: Stop) => void = () => {};
  const stopped = new Promise<Stop>((resolve) => (resolveStop = resolve));
  let stopping = false;
  const removeSignals = onStopSignals({
    first: (signal) => {
      stopping = true;
      resolveStop({ kind: "signal", signal });
    },
    again: (signal) => {
      io.err(
        `outlast ${NAME}: ${signal} again: stopping at once; unacknowledged messages will be resent by their clients\n`,
      );
      void server.destroy();
    },
    stopping: () => stopping,
  });
  void sink.failed.then((error) => resolveStop({ kind: "output", error }));
  server.on("error", (error) => resolveStop({ kind: "server", error }));
  server.on("clientError", (err, info) => {
    const code = (err as { code?: unknown }).code;
    io.err(
      `outlast ${NAME}: ${clientLabel(info)}: ${typeof code === "string" && !err.message.includes(code) ? `${code}: ` : ""}${oneLine(err)}\n`,
    );
  });
  server.on("handlerError", (err, info) => {
    // Our handler fails only when the output does; that is reported once, below.
    if (config.debug)
      io.err(
        `outlast ${NAME}: clientId ${JSON.stringify(info.clientId)} seq ${info.seq}: not written: ${oneLine(err)}\n`,
      );
  });

  try {
    const bound = await server.listen(config.listen).catch((err: unknown) => {
      throw startFailure(err, config);
    });
    if (config.state === undefined)
      io.err(
        `outlast ${NAME}: no --state: dedup state is in memory only; after a restart, messages resent by clients are written again\n`,
      );
    io.err(
      `outlast ${NAME}: listening on ${tls === undefined ? "tcp" : "tls"}://${formatHostPort(bound.host, bound.port)}\n`,
    );

    const stop = await stopped;
    stopping = true;
    let code = EXIT_OK;
    switch (stop.kind) {
      case "signal":
        io.err(
          `outlast ${NAME}: ${stop.signal}: draining connections${stop.signal === "SIGINT" ? " (Ctrl-C again to stop at once)" : ""}\n`,
        );
        await server.close();
        break;
      case "output": {
        const epipe = (stop.error as NodeJS.ErrnoException).code === "EPIPE" && sink.name === "stdout";
        io.err(
          epipe
            ? `outlast ${NAME}: the reader of stdout went away (EPIPE); stopping; messages not written were not acknowledged and will be resent\n`
            : formatFailure(
                NAME,
                new Error(
                  `cannot write to ${sink.name}: ${oneLine(stop.error)}; stopping; messages not written were not acknowledged`,
                  { cause: stop.error },
                ),
                config.debug,
              ),
        );
        await server.close();
        if (!epipe) code = EXIT_FAILURE;
        break;
      }
      case "server":
        // The server destroyed itself (its state directory failed).
        io.err(formatFailure(NAME, stop.error, config.debug));
        await server.destroy();
        code = EXIT_FAILURE;
        break;
      default: {
        const never: never = stop;
        return never;
      }
    }
    const s = server.stats();
    io.err(
      `outlast ${NAME}: stopped; ${countOf(s.messagesProcessed, "message")} written, ${countOf(s.duplicatesSkipped, "duplicate")} skipped\n`,
    );
    return code;
  } finally {
    await server.destroy();
    await sink.close();
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
    try {
      return await runServer(config, io);
    } catch (err) {
      io.err(formatFailure(NAME, err, config.debug));
      return EXIT_FAILURE;
    } finally {
      removeUncaught();
    }
  },
};
