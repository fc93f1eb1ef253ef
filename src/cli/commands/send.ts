/**
 * `outlast send URL [FILE...]`: reads messages from stdin or files, stores
 * them in a durable outbox, delivers them, and exits 0 once every one is
 * acknowledged. What is not acknowledged when it stops stays stored for the
 * next run.
 */

import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { connect, type Client, type ConnectOptions, type StateChangeEvent } from "../../index.js";
import { isOutlastError } from "../../errors/outlast-error.js";
import { FileOutbox } from "../../outbox/file-outbox.js";
import { inspectOutbox } from "../../outbox/inspect.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../../protocol/frames.js";
import { MESSAGE_HEADER_BYTES } from "../../protocol/limits.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import {
  formatFailure,
  formatHostPort,
  oneLine,
  parseChoice,
  parseDurationMs,
  parseHostPort,
  readOptions,
  reportUncaught,
  type HostPort,
} from "../config.js";
import { colorsWanted, painter } from "../live/ansi.js";
import { LiveRegion } from "../live/live-region.js";
import type { HttpEndpoint } from "../observe/http-endpoint.js";
import { LOG_FORMATS, LOG_LEVELS, createLog, type LogFormat, type LogLevel } from "../observe/log.js";
import { textLog } from "../observe/text-log.js";
import { countOf, formatCount, formatDuration } from "../live/widgets.js";
import { invalidOptionUsage } from "../option-flags.js";
import { readNamed } from "../read-named.js";
import { onStopSignals } from "../stop-signals.js";
import {
  describeSendFailure,
  recoveryCommand,
  wrongPeerNotice,
  type SendFailure,
  type SendFlags,
} from "./send-report.js";
import { FRAMINGS, InputError, inputMessages, type Framing } from "./send-framing.js";
import { makeDirs } from "../../storage/make-dirs.js";

const NAME = "send";
const DEFAULT_DRAIN_TIMEOUT = "5s";
/** The most message bytes that fit in one frame at the default frame limit. */
const MAX_MESSAGE_BYTES = DEFAULT_MAX_FRAME_BYTES - MESSAGE_HEADER_BYTES;
/** Sends handed to the client before waiting for them to be stored. */
const BATCH = 512;

const HELP = `Usage: outlast send URL [FILE...] [--framing lines|length-prefixed|raw] [--outbox DIR]
                    [--follow] [--drain-timeout DURATION] [--client-id ID]
                    [--token TOKEN | --token-file FILE]
                    [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--tls-servername NAME]
                    [--metrics HOST:PORT] [--log-format human|json] [--log-level LEVEL] [--debug]

Reads messages from stdin (or the FILEs, in order; - is stdin), stores each in
a durable outbox on disk, and delivers them to the outlast server at URL
(tcp://HOST:PORT or tls://HOST:PORT), reconnecting and resending through any
network failure. Several servers, comma-separated (tcp://gw1:7070,tcp://gw2:7070),
are tried in a shuffled order: when one fails the next takes over. Exits 0 once every message is acknowledged. Progress goes to
stderr.

  --framing F             how the input is cut into messages:
                            lines (default): one message per line (\\n; a \\r
                              before it is removed; empty lines are skipped)
                            length-prefixed: a 4-byte big-endian length, then
                              that many bytes, again and again
                            raw: each chunk read is a message (up to 64 KiB)
  --outbox DIR            the durable outbox (default: one per server under
                          $XDG_STATE_HOME/outlast/outbox, or
                          ~/.local/state/outlast/outbox). Messages a previous
                          run left there are delivered first. One process at a
                          time per directory (a lock file)
  --follow                keep running at the end of the input: read the FILEs
                          as they grow (like tail -f) until SIGINT/SIGTERM
  --drain-timeout D       after SIGINT/SIGTERM, how long to keep delivering
                          what is stored before stopping (default ${DEFAULT_DRAIN_TIMEOUT})
  --client-id ID          the identity the server sees (default: random, kept
                          in the outbox; an outbox's stored id wins)
  --token TOKEN           credential for the server's --credentials (visible to
  --token-file FILE       other users in ps: prefer --token-file or OUTLAST_TOKEN)
  --tls-ca FILE           trust this CA (PEM) for the server's certificate
                          (default: the system's CAs)
  --tls-cert FILE         client certificate (PEM) for mutual TLS ...
  --tls-key FILE          ... and its key (PEM)
  --tls-servername NAME   the name the server's certificate must carry (default:
                          the URL's host)
  --metrics HOST:PORT     serve Prometheus metrics of this client at /metrics
                          (queue depth, oldest queued age, in flight, drops,
                          reconnects, ack latency), /healthz and /readyz (link open)
  --log-format human|json human (default): progress and notices as lines;
                          json: one JSON object per line (level, time, msg)
  --log-level LEVEL       debug, info (default), warn or error (json format)
  --debug                 show stack traces on errors
  -h, --help              show this help

Every option can also be set in the environment: --outbox is OUTLAST_OUTBOX,
--token is OUTLAST_TOKEN, --tls-ca is OUTLAST_TLS_CA, ... A flag wins.

SIGINT (Ctrl-C) or SIGTERM stops reading, keeps delivering for up to
--drain-timeout, then says on stderr how many messages are still stored; the
next \`outlast send\` with the same --outbox delivers them. A second SIGINT stops
at once (stored messages stay stored).

Examples:
  echo hello | outlast send tcp://127.0.0.1:7070
  outlast send tcp://127.0.0.1:7070 events.jsonl more.jsonl
  outlast send tcp://gw1:7070,tcp://gw2:7070 events.jsonl
  tail -n0 -F /var/log/app.log | outlast send tls://logs.example.com:7070 --token-file ./token
  outlast send tcp://127.0.0.1:7070 --follow --outbox ./q app.log
  outlast send tcp://127.0.0.1:7070 --framing length-prefixed < frames.bin

Exit codes: 0 every message read was acknowledged; 1 some are still stored
(stopped by a signal, or a failure: unreadable input, a message too large, a
locked outbox, the server rejected our credentials or certificate); 2 usage
error; 130 stopped at once by a second SIGINT.
`;

const OPTIONS = {
  framing: { type: "string" },
  outbox: { type: "string" },
  follow: { type: "boolean" },
  "drain-timeout": { type: "string" },
  "client-id": { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-servername": { type: "string" },
  metrics: { type: "string" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
} as const;

interface SendConfig {
  readonly url: string;
  readonly inputs: readonly string[];
  readonly framing: Framing;
  readonly outbox: string;
  readonly follow: boolean;
  readonly drainTimeoutMs: number;
  readonly clientId: string | undefined;
  readonly token: string | undefined;
  readonly tokenFile: string | undefined;
  readonly tls: { ca?: string; cert?: string; key?: string; servername?: string } | undefined;
  /** What the end-of-run messages need: the URL, the outbox and the connection flags to repeat. */
  readonly flags: SendFlags;
  readonly metrics: HostPort | undefined;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
  readonly debug: boolean;
}

/** The user's state directory: $XDG_STATE_HOME (when absolute) or ~/.local/state. */
export function stateHome(env: NodeJS.ProcessEnv): string {
  const xdg = env["XDG_STATE_HOME"];
  return xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), ".local", "state");
}

/** One outbox per server (or list of servers) by default, so messages for one server are never sent to another. */
export function defaultOutboxDir(url: URL | readonly URL[], env: NodeJS.ProcessEnv): string {
  const urls = url instanceof URL ? [url] : url;
  const slug = urls
    .map((u) => `${u.protocol.replace(":", "")}-${u.hostname}-${u.port}`.replace(/[^A-Za-z0-9._-]/g, "_"))
    .sort()
    .join("+");
  return join(stateHome(env), "outlast", "outbox", slug);
}

/** One entry of the URL argument, checked. */
function parseServerUrl(urlText: string): URL {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    url = new URL("invalid://");
  }
  if (
    (url.protocol !== "tcp:" && url.protocol !== "tls:") ||
    url.hostname === "" ||
    url.port === "" ||
    (url.pathname !== "" && url.pathname !== "/")
  )
    throw new UsageError(`the URL must be tcp://HOST:PORT or tls://HOST:PORT, not ${JSON.stringify(urlText)}`);
  return url;
}

function readConfig(args: readonly string[], env: NodeJS.ProcessEnv): SendConfig | "help" {
  const { values: v, positionals, source } = readOptions(args, OPTIONS, { env, allowPositionals: true });
  if (v.help) return "help";
  const [urlText, ...inputs] = positionals;
  if (urlText === undefined) throw new UsageError("needs the server's URL, e.g. outlast send tcp://127.0.0.1:7070");
  const urls = urlText.split(",").map((u) => parseServerUrl(u.trim()));
  const secure = urls.some((u) => u.protocol === "tls:");
  const tlsFlags = (["tls-ca", "tls-cert", "tls-key", "tls-servername"] as const).filter((k) => v[k] !== undefined);
  if (!secure && tlsFlags[0] !== undefined) throw new UsageError(`${source(tlsFlags[0])} needs a tls:// URL`);
  if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined))
    throw new UsageError(
      v["tls-cert"] === undefined ? `${source("tls-key")} needs --tls-cert` : `${source("tls-cert")} needs --tls-key`,
    );
  if (v.token !== undefined && v["token-file"] !== undefined)
    throw new UsageError(`give ${source("token")} or ${source("token-file")}, not both`);
  if (v.outbox === "") throw new UsageError(`${source("outbox")} needs a directory`);
  const tls: Record<string, string> = {};
  if (v["tls-ca"] !== undefined) tls["ca"] = v["tls-ca"];
  if (v["tls-cert"] !== undefined) tls["cert"] = v["tls-cert"];
  if (v["tls-key"] !== undefined) tls["key"] = v["tls-key"];
  if (v["tls-servername"] !== undefined) tls["servername"] = v["tls-servername"];
  const url = urls.map((u) => u.href.replace(/\/$/, "")).join(",");
  const outbox = resolve(v.outbox ?? defaultOutboxDir(urls, env));
  // The connection flags given on the command line go into the "next outlast send" hint (an OUTLAST_* variable stays set).
  const repeat: string[] = [];
  for (const name of ["token-file", "tls-ca", "tls-cert", "tls-key", "tls-servername"] as const) {
    const value = v[name];
    if (value !== undefined && source(name) === `--${name}`) repeat.push(`--${name}`, value);
  }
  if (v.token !== undefined && source("token") === "--token") repeat.push("--token", "TOKEN");
  return {
    url,
    inputs,
    framing: v.framing === undefined ? "lines" : parseChoice(v.framing, FRAMINGS, source("framing")),
    outbox,
    follow: v.follow,
    drainTimeoutMs: parseDurationMs(v["drain-timeout"] ?? DEFAULT_DRAIN_TIMEOUT, source("drain-timeout")),
    clientId: v["client-id"],
    token: v.token,
    tokenFile: v["token-file"],
    tls: secure ? tls : undefined,
    flags: {
      url,
      outbox,
      repeat,
      hasCa: v["tls-ca"] !== undefined,
      hasServername: v["tls-servername"] !== undefined,
    },
    metrics: v.metrics === undefined ? undefined : parseHostPort(v.metrics, source("metrics")),
    logFormat:
      v["log-format"] === undefined ? "human" : parseChoice(v["log-format"], LOG_FORMATS, source("log-format")),
    logLevel: v["log-level"] === undefined ? "info" : parseChoice(v["log-level"], LOG_LEVELS, source("log-level")),
    debug: v.debug,
  };
}

async function connectOptions(c: SendConfig, outbox: FileOutbox): Promise<ConnectOptions> {
  let token: string | Uint8Array | undefined = c.token;
  if (c.tokenFile !== undefined)
    token = (await readNamed(c.tokenFile, "--token-file")).toString("utf8").replace(/\r?\n$/, "");
  let tls: ConnectionOptions | undefined;
  if (c.tls !== undefined) {
    tls = {};
    if (c.tls.ca !== undefined) tls.ca = await readNamed(c.tls.ca, "--tls-ca");
    if (c.tls.cert !== undefined) tls.cert = await readNamed(c.tls.cert, "--tls-cert");
    if (c.tls.key !== undefined) tls.key = await readNamed(c.tls.key, "--tls-key");
    if (c.tls.servername !== undefined) tls.servername = c.tls.servername;
  }
  return {
    outbox,
    ...(c.clientId === undefined ? {} : { clientId: c.clientId }),
    ...(token === undefined ? {} : { token }),
    ...(tls === undefined ? {} : { tls }),
  };
}

/** How many messages are stored in `dir` now: read without the lock, writing nothing. */
async function storedCount(dir: string): Promise<number | undefined> {
  try {
    return (await inspectOutbox(dir)).messages;
  } catch {
    return undefined;
  }
}

/** Why the run stopped before every message read was acknowledged. */
type Stop =
  | { readonly kind: "signal"; readonly signal: NodeJS.Signals }
  | { readonly kind: "failure"; readonly failure: SendFailure };

/** Where the live view and progress lines go: stderr, or JSON log lines. */
type LiveOut = ConstructorParameters<typeof LiveRegion>[0];

async function runSend(c: SendConfig, io: CommandIo, stderr: LiveOut): Promise<number> {
  await makeDirs(c.outbox).catch((err: unknown) => {
    const code = (err as { code?: unknown }).code;
    const fix =
      code === "EACCES" || code === "EPERM"
        ? "this user may not create it; pass an --outbox this user can write"
        : `${oneLine(err)}; pass another --outbox`;
    throw new Error(`cannot create the outbox directory ${c.outbox}: ${fix}`, { cause: err });
  });
  const outbox = new FileOutbox(c.outbox);
  const options = await connectOptions(c, outbox);
  const started = performance.now();
  let read = 0;
  let earlier = 0;

  let client: Client;
  try {
    client = connect(c.url, options);
  } catch (err) {
    if (isOutlastError(err, "OUTLAST_INVALID_OPTION"))
      throw invalidOptionUsage(err, { clientId: "--client-id", token: "--token", tls: "--tls-ca" });
    throw err;
  }
  let metrics: HttpEndpoint | undefined;
  if (c.metrics !== undefined) {
    const { startClientMetrics } = await import("../observe/client-metrics.js");
    const where = formatHostPort(c.metrics.host, c.metrics.port);
    metrics = await startClientMetrics(c.metrics, () => client).catch(async (err: unknown) => {
      await client.destroy();
      throw new Error(`cannot serve --metrics on ${where}: ${oneLine(err)}`, { cause: err });
    });
    io.err(`outlast ${NAME}: metrics on http://${formatHostPort(metrics.host, metrics.port)}/metrics\n`);
  }

  const paint = painter(colorsWanted(stderr.isTTY === true));
  let lastCause = "";
  const status = (): string => {
    const s = client.stats();
    const link =
      client.state === "open"
        ? paint("green", "open")
        : paint("yellow", `${client.state}${lastCause === "" ? "" : ` (${lastCause})`}`);
    return `outlast ${NAME}: ${formatCount(read)} read · ${formatCount(s.acknowledged)} acknowledged · ${formatCount(s.queuedMessages)} queued · link ${link} → ${c.url}`;
  };
  // Off a terminal a progress line only when something changed (an idle --follow prints nothing).
  const live = new LiveRegion(stderr, { frame: () => [status()], line: status, plainOnChange: true });

  let resolveStop: (stop: Stop) => void = () => {};
  const stopped = new Promise<Stop>((r) => (resolveStop = r));
  let stop: Stop | undefined;
  const reading = new AbortController();
  const requestStop = (s: Stop): void => {
    if (stop !== undefined) return;
    stop = s;
    reading.abort();
    resolveStop(s);
  };
  const removeSignals = onStopSignals({
    first: (signal) => requestStop({ kind: "signal", signal }),
    again: (signal) => {
      live.stop();
      io.err(
        `outlast ${NAME}: ${signal} again: stopping at once; messages not acknowledged stay stored in ${c.outbox}\n`,
      );
      return client.destroy();
    },
  });
  client.on("recovered", (e) => {
    earlier = e.messages;
    live.log(
      `outlast ${NAME}: ${countOf(e.messages, "message")} from an earlier run ${e.messages === 1 ? "is" : "are"} stored in ${c.outbox}; delivering ${e.messages === 1 ? "it" : "them"} first`,
    );
  });
  // A peer that does not speak outlast (a web server, TLS on a tcp:// URL, plain text on a tls:// one): said once; the client keeps retrying.
  const told = new Set<string>();
  const tellOnce = (key: string, text: string): void => {
    if (told.has(key)) return;
    told.add(key);
    live.log(`outlast ${NAME}: ${text}; still retrying (Ctrl-C to stop: what was read stays stored)`);
  };
  const wrongPeer = (err: Error | undefined): boolean => {
    const notice = err === undefined ? undefined : wrongPeerNotice(err);
    if (notice !== undefined) tellOnce(notice.key, notice.text);
    return notice !== undefined;
  };
  client.on("error", (err: Error) => {
    if (wrongPeer(err)) return;
    // Problems a person must fix (credentials, certificate, a locked or failed outbox): stop.
    requestStop({ kind: "failure", failure: describeSendFailure(err, c.flags) });
  });
  let dropped = 0;
  client.on("dropped", () => {
    // Only tooLarge can happen here (no ttl, no best-effort): the server's frame limit is below the message.
    dropped++;
  });
  client.on("stateChange", (e: StateChangeEvent) => {
    if (e.to === "waiting") lastCause = e.classification?.code ?? (e.from === "open" ? "GOODBYE" : "closed");
    if (e.to === "waiting") wrongPeer(e.error);
    if (e.to === "waiting" && e.classification !== undefined && c.debug)
      live.log(`outlast ${NAME}: link lost: ${e.classification.code}; reconnecting`);
  });

  live.start();
  let inputError: InputError | undefined;
  try {
    // Read and store.
    const reader = (async (): Promise<void> => {
      let batch: Promise<unknown>[] = [];
      for await (const message of inputMessages(c, MAX_MESSAGE_BYTES, reading.signal)) {
        if (stop !== undefined) break;
        batch.push(client.send(message, { wait: "stored" }));
        read++;
        if (batch.length >= BATCH) {
          await Promise.all(batch);
          batch = [];
        }
      }
      await Promise.all(batch);
    })();
    const readResult = await Promise.race([reader.then(() => "done" as const), stopped]).catch((err: unknown) => {
      if (err instanceof InputError) {
        // Stop reading, but deliver what was read before the error.
        inputError = err;
        return "done" as const;
      }
      const error = err instanceof Error ? err : new Error(String(err));
      requestStop({ kind: "failure", failure: describeSendFailure(error, c.flags) });
      return "failed" as const;
    });
    // Deliver: until everything is acknowledged, or a stop asks to drain with a deadline.
    if (readResult === "done") await Promise.race([client.flush(), stopped]);
    if (stop?.kind === "signal") {
      live.log(
        `outlast ${NAME}: ${stop.signal}: stopped reading; delivering what is stored for up to ${formatDuration(c.drainTimeoutMs)} (Ctrl-C again to stop at once)`,
      );
      await reader.catch(() => undefined);
      await client.flush({ timeoutMs: c.drainTimeoutMs }).catch(() => undefined);
    }
    await client.close({ timeoutMs: stop === undefined ? 10_000 : 250 });
    // Counted after close: acknowledgements that arrived while closing count too.
    const acknowledged = client.stats().acknowledged;
    live.stop();
    const failure = stop?.kind === "failure" ? stop.failure : undefined;
    if (failure !== undefined) io.err(formatFailure(NAME, failure.error, c.debug));
    if (failure !== undefined && outbox.recoveryReport === undefined) {
      // The outbox never opened (locked, unreadable): this run stored nothing, so there is nothing to resend.
      if (!failure.storedNothing) io.err(`outlast ${NAME}: the outbox did not open: nothing was stored or sent\n`);
      return EXIT_FAILURE;
    }
    if (inputError !== undefined)
      io.err(
        formatFailure(
          NAME,
          new Error(`stopped reading at an input error: ${inputError.message}`, { cause: inputError }),
          c.debug,
        ),
      );
    if (dropped > 0)
      io.err(
        `outlast ${NAME}: ${countOf(dropped, "message was", "messages were")} dropped, not delivered: larger than the server's maximum frame size (its --max-frame-bytes)\n`,
      );
    const left = await storedCount(c.outbox);
    const elapsed = formatDuration(performance.now() - started);
    const fromEarlier = earlier > 0 ? ` (${formatCount(earlier)} from an earlier run)` : "";
    if (left === 0) {
      io.err(
        inputError === undefined
          ? `outlast ${NAME}: ${countOf(acknowledged, "message")} acknowledged by ${c.url} in ${elapsed}${fromEarlier}\n`
          : `outlast ${NAME}: ${countOf(read, "message")} read before the input error, all acknowledged by ${c.url} in ${elapsed}${fromEarlier}\n`,
      );
      return failure !== undefined || inputError !== undefined || dropped > 0 ? EXIT_FAILURE : EXIT_OK;
    }
    const stored = left === undefined ? "some messages are" : `${countOf(left, "message is", "messages are")}`;
    io.err(
      `outlast ${NAME}: ${formatCount(acknowledged)} acknowledged; ${stored} still stored in ${c.outbox}; ` +
        `the next \`${recoveryCommand(c.flags, failure?.add)}\` delivers them\n`,
    );
    return EXIT_FAILURE;
  } finally {
    live.stop();
    reading.abort();
    await client.destroy();
    await metrics?.close();
    removeSignals();
  }
}

export const send: Command = {
  summary: "read messages from stdin or files, store them in a durable outbox, deliver them to a server",
  help: HELP,
  async run(args, io) {
    const config = readConfig(args, process.env);
    if (config === "help") {
      io.out(HELP);
      return EXIT_OK;
    }
    const removeUncaught = reportUncaught(NAME, config.debug);
    // --log-format json: every line this command writes becomes one JSON log line.
    const log =
      config.logFormat === "json"
        ? textLog(await createLog({ command: NAME, format: "json", level: config.logLevel, write: io.err }), NAME, io)
        : undefined;
    const eio = log?.io ?? io;
    try {
      return await runSend(config, eio, log?.stream ?? process.stderr);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      eio.err(formatFailure(NAME, err, config.debug));
      return EXIT_FAILURE;
    } finally {
      removeUncaught();
    }
  },
};
