/** `outlast send`'s flags, help and configuration (flags > OUTLAST_* variables). */

import type { NatsSendConfig } from "./send-nats-flags.js";
import { NATS_SEND_HELP, NATS_SEND_OPTIONS, readNatsFlags } from "./send-nats-flags.js";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { ConnectionOptions } from "node:tls";
import type { ConnectOptions, MqttVersion } from "../../index.js";
import type { FileOutbox } from "../../outbox/file-outbox.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../../protocol/frames.js";
import { MESSAGE_HEADER_BYTES } from "../../protocol/limits.js";
import { UsageError } from "../command.js";
import { parseChoice, parseDurationMs, parseHostPort, readOptions, type HostPort } from "../config.js";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../observe/log.js";
import { readNamed } from "../read-named.js";
import type { SendFlags } from "./send-report.js";
import { FRAMINGS, type Framing } from "./send-framing.js";

export const NAME = "send";
const DEFAULT_DRAIN_TIMEOUT = "5s";
/** The most message bytes that fit in one frame at the default frame limit. */
export const MAX_MESSAGE_BYTES = DEFAULT_MAX_FRAME_BYTES - MESSAGE_HEADER_BYTES;
/** Sends handed to the client before waiting for them to be stored. */
export const BATCH = 512;

export const HELP = `Usage: outlast send URL [FILE...] [--framing lines|length-prefixed|raw] [--outbox DIR]
                    [--follow] [--drain-timeout DURATION] [--client-id ID]
                    [--token TOKEN | --token-file FILE]
                    [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--tls-servername NAME]
                    [--topic TOPIC] [--username NAME] [--password PASSWORD]
                    [--mqtt-version auto|5|3.1.1] [--mqtt-envelope] [--subject S --stream NAME]
                    [--metrics HOST:PORT] [--log-format human|json] [--log-level LEVEL] [--debug]

Reads messages from stdin (or the FILEs, in order; - is stdin), stores each in
a durable outbox on disk, and delivers them to the outlast server at URL
(tcp://HOST:PORT or tls://HOST:PORT), or publishes them to an MQTT broker
(mqtt://HOST[:PORT] or mqtts://, QoS 1, with --topic), or into a NATS JetStream
stream exactly once (nats://HOST[:PORT] with --subject and --stream), reconnecting and
resending through any network failure. Several servers, comma-separated (tcp://gw1:7070,tcp://gw2:7070),
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
  --topic TOPIC           mqtt://, mqtts://: the topic to publish to (required)
  --username NAME         mqtt://, mqtts://: the broker's username ...
  --password PASSWORD     ... and password (visible in ps: prefer OUTLAST_PASSWORD)
${NATS_SEND_HELP}  --mqtt-version V        auto (default: MQTT 5, 3.1.1 if the broker refuses 5),
                          5 or 3.1.1
  --mqtt-envelope         prefix each payload with a JSON line holding its
                          outlast-client-id and outlast-seq (for 3.1.1 consumers;
                          docs/brokers.md)
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
  outlast send mqtt://broker.local --topic robots/7/events events.jsonl

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
  topic: { type: "string" },
  username: { type: "string" },
  password: { type: "string" },
  "mqtt-version": { type: "string" },
  "mqtt-envelope": { type: "boolean" },
  ...NATS_SEND_OPTIONS,
  metrics: { type: "string" },
  "log-format": { type: "string" },
  "log-level": { type: "string" },
} as const;

export interface SendConfig {
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
  /** mqtt:// and mqtts:// only (undefined otherwise). */
  readonly mqtt: MqttSendConfig | undefined;
  /** nats:// only (undefined otherwise). */
  readonly nats: NatsSendConfig | undefined;
  /** What the end-of-run messages need: the URL, the outbox and the connection flags to repeat. */
  readonly flags: SendFlags;
  readonly metrics: HostPort | undefined;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
  readonly debug: boolean;
}

export interface MqttSendConfig {
  readonly topic: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly version: MqttVersion;
  readonly envelope: boolean;
}

const MQTT_VERSIONS = ["auto", "5", "3.1.1"] as const;
const MQTT_FLAGS = ["topic", "username", "password", "mqtt-version", "mqtt-envelope"] as const;

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
  const mqtt = url.protocol === "mqtt:" || url.protocol === "mqtts:" || url.protocol === "nats:";
  if (
    (url.protocol !== "tcp:" && url.protocol !== "tls:" && !mqtt) ||
    url.hostname === "" ||
    (url.port === "" && !mqtt) ||
    (url.pathname !== "" && url.pathname !== "/")
  )
    throw new UsageError(
      `the URL must be tcp://HOST:PORT or tls://HOST:PORT, not ${JSON.stringify(urlText)} (an MQTT broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]; NATS JetStream: nats://HOST[:PORT])`,
    );
  return url;
}

export function readConfig(args: readonly string[], env: NodeJS.ProcessEnv): SendConfig | "help" {
  const { values: v, positionals, source } = readOptions(args, OPTIONS, { env, allowPositionals: true });
  if (v.help) return "help";
  const [urlText, ...inputs] = positionals;
  if (urlText === undefined) throw new UsageError("needs the server's URL, e.g. outlast send tcp://127.0.0.1:7070");
  const urls = urlText.split(",").map((u) => parseServerUrl(u.trim()));
  const secure = urls.some((u) => u.protocol === "tls:" || u.protocol === "mqtts:");
  const tlsFlags = (["tls-ca", "tls-cert", "tls-key", "tls-servername"] as const).filter((k) => v[k] !== undefined);
  if (!secure && tlsFlags[0] !== undefined)
    throw new UsageError(`${source(tlsFlags[0])} needs a tls:// URL (or mqtts://)`);
  const nats = readNatsFlags(urls, v, source);
  const mqtt = readMqttFlags(
    urls.filter((u) => u.protocol !== "nats:"),
    nats === undefined ? v : { ...v, username: undefined, password: undefined },
    source,
  );
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
  for (const name of [
    "token-file",
    "tls-ca",
    "tls-cert",
    "tls-key",
    "tls-servername",
    "topic",
    "username",
    "subject",
    "stream",
  ] as const) {
    const value = v[name];
    if (value !== undefined && source(name) === `--${name}`) repeat.push(`--${name}`, value);
  }
  if (v.token !== undefined && source("token") === "--token") repeat.push("--token", "TOKEN");
  if (v.password !== undefined && source("password") === "--password") repeat.push("--password", "PASSWORD");
  if (v["mqtt-version"] !== undefined && source("mqtt-version") === "--mqtt-version")
    repeat.push("--mqtt-version", v["mqtt-version"]);
  if (v["mqtt-envelope"] && source("mqtt-envelope") === "--mqtt-envelope") repeat.push("--mqtt-envelope");
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
    mqtt,
    nats,
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

/** --topic and friends: required or refused by the URL's scheme. */
function readMqttFlags(
  urls: readonly URL[],
  v: { [K in (typeof MQTT_FLAGS)[number]]: K extends "mqtt-envelope" ? boolean : string | undefined } & {
    token: string | undefined;
    "token-file": string | undefined;
  },
  source: (name: keyof typeof OPTIONS) => string,
): MqttSendConfig | undefined {
  const isMqtt = urls.map((u) => u.protocol === "mqtt:" || u.protocol === "mqtts:");
  if (isMqtt.some((m) => m !== isMqtt[0])) throw new UsageError("mqtt:// URLs cannot be mixed with tcp:// or tls://");
  if (isMqtt[0] !== true) {
    const given = MQTT_FLAGS.find((k) => (k === "mqtt-envelope" ? v[k] : v[k] !== undefined));
    if (given !== undefined) throw new UsageError(`${source(given)} needs an mqtt:// or mqtts:// URL`);
    return undefined;
  }
  if (v.topic === undefined || v.topic === "")
    throw new UsageError("mqtt:// needs --topic TOPIC: the topic every message is published to");
  const tokenFlag = v.token !== undefined ? "token" : v["token-file"] !== undefined ? "token-file" : undefined;
  if (tokenFlag !== undefined)
    throw new UsageError(`${source(tokenFlag)} is for outlast servers; an MQTT broker takes --username and --password`);
  return {
    topic: v.topic,
    username: v.username,
    password: v.password,
    version:
      v["mqtt-version"] === undefined ? "auto" : parseChoice(v["mqtt-version"], MQTT_VERSIONS, source("mqtt-version")),
    envelope: v["mqtt-envelope"],
  };
}

export async function connectOptions(c: SendConfig, outbox: FileOutbox): Promise<ConnectOptions> {
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
    ...(c.mqtt === undefined
      ? {}
      : {
          topic: c.mqtt.topic,
          ...(c.mqtt.username === undefined ? {} : { username: c.mqtt.username }),
          ...(c.mqtt.password === undefined ? {} : { password: c.mqtt.password }),
          mqtt: { version: c.mqtt.version, envelope: c.mqtt.envelope },
        }),
    ...(c.nats === undefined
      ? {}
      : {
          subject: c.nats.subject,
          stream: c.nats.stream,
          ...(c.nats.username === undefined || c.nats.password === undefined
            ? {}
            : { nats: { user: c.nats.username, pass: c.nats.password } }),
        }),
  };
}
