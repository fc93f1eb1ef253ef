/**
 * `outlast proxy --listen HOST:PORT --upstream HOST:PORT [fault flags]`: runs
 * the fault proxy until SIGINT or SIGTERM, optionally with the HTTP JSON control
 * endpoint to change faults at run time.
 */

import { isOutlastError } from "../../errors/outlast-error.js";
import { createControlServer, createProxy, type ControlServer, type FaultProxy } from "../../proxy/index.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import { formatFailure, formatHostPort, parseChoice, parseHostPort, readOptions, reportUncaught } from "../config.js";
import { LOG_FORMATS, LOG_LEVELS, createLog } from "../observe/log.js";
import { textLog } from "../observe/text-log.js";
import { invalidOptionUsage } from "../option-flags.js";
import { onStopSignals } from "../stop-signals.js";
import { ALWAYS, faultsFromFlags } from "./proxy-flags.js";

const NAME = "proxy";

const HELP = `Usage: outlast proxy --upstream HOST:PORT [--listen HOST:PORT] [faults] [--control HOST:PORT]
                     [--seed N] [--verbose] [--debug]

A TCP proxy that injects network faults between your client and your server.
It moves bytes and knows no protocol. Runs until SIGINT (Ctrl-C) or SIGTERM.

  --upstream HOST:PORT   where to forward to (required)
  --listen HOST:PORT     where to listen (default 127.0.0.1:0: a free port). The
                         address is printed on stderr:
                         "outlast proxy: listening on tcp://127.0.0.1:9000 -> 127.0.0.1:7000 (seed 42)"
  --control HOST:PORT    serve the HTTP JSON control endpoint (GET/POST /faults,
                         GET/PATCH/DELETE /faults/ID, GET /stats, GET /connections);
                         loopback only unless --control-dangerously-allow-remote
  --control-dangerously-allow-remote
                         serve --control on a non-loopback address (whoever
                         reaches it controls the proxy)
  --seed N               seed of every random choice (default: random, printed)
  --verbose              print connections and faults as they happen (stderr)
  --log-format human|json  human (default) or one JSON object per line (level,
                         time, msg) on stderr
  --log-level LEVEL      debug, info (default), warn or error
  --debug                show stack traces on errors
  -h, --help             show this help

Faults (each acts on --direction, on a --probability of connections):
  --latency MS[±JITTER]  delay every chunk: 100ms, 100ms±20, 1s+-200ms
  --bandwidth RATE       limit bytes per second: 5000, 64KiB/s, 1MB/s
  --blackhole [DOWN/EVERY]
                         forward nothing, keep the sockets open (the half-open
                         link); alone: always; 2s/10s: down 2 s in every 10 s
  --reset-every DURATION RST both sides of every open connection every DURATION
  --close-every DURATION FIN both sides of every open connection every DURATION
  --slicer SIZE[±VAR][/DELAY]
                         cut writes into ~SIZE-byte pieces, DELAY apart (default 1ms)
  --limit-data SIZE      close a connection after SIZE bytes (1000, 64KiB)
  --flap DOWN/UP         random blackhole flaps: down ~DOWN, up ~UP (1s/5s)
  --refuse               reset new connections at once (never connect upstream)
  --hold                 accept new connections but never connect upstream
  --direction D          upstream (client -> server), downstream, or both (default)
  --probability P        chance in [0, 1] that a connection gets the faults (default 1)

Every option can also be set in the environment as OUTLAST_PROXY_<NAME>:
--upstream is OUTLAST_PROXY_UPSTREAM, --reset-every is OUTLAST_PROXY_RESET_EVERY.
A flag wins over its variable. Durations: 250ms, 5s, 2m. Sizes: 4096, 64KiB, 1MB.

SIGINT or SIGTERM ends every connection with FIN and exits 0; a second SIGINT
stops at once (exit 130).

Examples:
  outlast proxy --listen 127.0.0.1:9000 --upstream 127.0.0.1:7000 --latency 100ms±20
  outlast proxy --listen 9000 --upstream db.local:5432 --reset-every 5s --seed 42
  outlast proxy --listen 9000 --upstream 7000 --blackhole 2s/10s --control 127.0.0.1:9001
  curl -s localhost:9001/faults -H 'content-type: application/json' \\
       -d '{"kind":"latency","latencyMs":250,"direction":"downstream"}'
  curl -s -X PATCH localhost:9001/faults/f1 -H 'content-type: application/json' -d '{"latencyMs":50}'
  curl -s -X DELETE localhost:9001/faults/f1; curl -s localhost:9001/stats

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 could not start (e.g. the port is
taken), 2 usage error, 130 stopped at once by a second SIGINT.
`;

/** Every option; its variable is OUTLAST_PROXY_<NAME> (not OUTLAST_<NAME>: a proxy often runs beside `outlast serve` in one shell). */
const OPTION_NAMES = {
  listen: "string",
  upstream: "string",
  control: "string",
  "control-dangerously-allow-remote": "boolean",
  seed: "string",
  verbose: "boolean",
  latency: "string",
  bandwidth: "string",
  blackhole: "string",
  "reset-every": "string",
  "close-every": "string",
  slicer: "string",
  "limit-data": "string",
  flap: "string",
  refuse: "boolean",
  hold: "boolean",
  direction: "string",
  probability: "string",
  "log-format": "string",
  "log-level": "string",
} as const;

type Specs = {
  readonly [K in keyof typeof OPTION_NAMES]: { readonly type: (typeof OPTION_NAMES)[K]; readonly env: string };
};

const SPECS = Object.fromEntries(
  Object.entries(OPTION_NAMES).map(([name, type]) => [
    name,
    { type, env: `OUTLAST_PROXY_${name.toUpperCase().replace(/-/g, "_")}` },
  ]),
) as unknown as Specs;

function parse(args: readonly string[]) {
  // A bare --blackhole (no DOWN/EVERY after it) means "always".
  const normalized = args.map((a, i) => {
    const next = args[i + 1];
    return a === "--blackhole" && (next === undefined || next.startsWith("-")) ? `--blackhole=${ALWAYS}` : a;
  });
  return readOptions(normalized, SPECS).values;
}

/** The fault options the library names, as the flags that set them. */
const PROXY_FLAGS: Readonly<Record<string, string>> = {
  latencyMs: "--latency",
  jitterMs: "--latency",
  bytesPerSecond: "--bandwidth",
  averageSizeBytes: "--slicer",
  sizeVariationBytes: "--slicer",
  delayMs: "--slicer",
  bytes: "--limit-data",
  probability: "--probability",
  direction: "--direction",
  meanUpMs: "--flap",
  meanDownMs: "--flap",
  seed: "--seed",
  upstream: "--upstream",
  "control.port": "--control",
};

function watch(proxy: FaultProxy, io: CommandIo): void {
  const say = (text: string): void => io.err(`outlast ${NAME}: ${text}\n`);
  proxy.on("connectionOpened", (c) => say(`connection ${c.id} opened from ${c.client.address}:${c.client.port}`));
  proxy.on("connectionClosed", (c) =>
    say(`connection ${c.id} closed (${c.bytes.upstream} B up, ${c.bytes.downstream} B down)`),
  );
  proxy.on("connectionRefused", (c) => say(`connection ${c.id} refused by ${c.faultId}`));
  proxy.on("connectionHeld", (c) => say(`connection ${c.id} held by ${c.faultId}`));
  proxy.on("upstreamFailed", (e) => say(`connection ${e.id}: upstream connect failed: ${e.error.message}`));
  proxy.on("faultApplied", (e) =>
    say(`fault ${e.fault.id} applied to connection ${e.connectionId}${e.flow === undefined ? "" : ` (${e.flow})`}`),
  );
  proxy.on("faultActivated", (f) => say(`fault ${f.id} on`));
  proxy.on("faultDeactivated", (f) => say(`fault ${f.id} off`));
}

export const proxy: Command = {
  summary: "a TCP proxy that injects network faults (latency, blackhole, reset, ...) to test a client",
  help: HELP,
  async run(args, io) {
    const v = parse(args);
    if (v.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (v.upstream === undefined) throw new UsageError("--upstream HOST:PORT is required");
    const upstream = parseHostPort(v.upstream, "--upstream");
    if (upstream.port === 0) throw new UsageError("--upstream needs a port above 0");
    const listen = parseHostPort(v.listen ?? "127.0.0.1:0", "--listen");
    const control = v.control === undefined ? undefined : parseHostPort(v.control, "--control");
    if (v.seed !== undefined && !/^\d+$/.test(v.seed))
      throw new UsageError(`--seed takes an integer 0..4294967295, not "${v.seed}"`);
    const faults = faultsFromFlags(v);

    let fp: FaultProxy;
    let controlServer: ControlServer | undefined;
    try {
      fp = createProxy({ listen, upstream, faults, ...(v.seed === undefined ? {} : { seed: Number(v.seed) }) });
      if (control !== undefined) {
        controlServer = createControlServer(fp, {
          ...control,
          dangerouslyAllowRemote: v["control-dangerously-allow-remote"],
        });
      }
    } catch (err) {
      if (isOutlastError(err, "OUTLAST_INVALID_OPTION")) {
        // The library names its option (control.host); a CLI user types flags.
        if (err.details.option === "control.host")
          throw new UsageError(
            `--control ${v.control ?? ""} is not a loopback address, and whoever reaches the control endpoint controls the proxy; ` +
              `pass --control-dangerously-allow-remote to serve it there anyway, or use a loopback address like 127.0.0.1:9001`,
          );
        throw invalidOptionUsage(err, PROXY_FLAGS);
      }
      throw err;
    }
    const format = v["log-format"] === undefined ? "human" : parseChoice(v["log-format"], LOG_FORMATS, "--log-format");
    const level = v["log-level"] === undefined ? "info" : parseChoice(v["log-level"], LOG_LEVELS, "--log-level");
    const out =
      format === "human" ? io : textLog(await createLog({ command: NAME, format, level, write: io.err }), NAME, io).io;
    const removeUncaught = reportUncaught(NAME, v.debug);
    try {
      return await serve(fp, controlServer, upstream, v.verbose, v.debug, out);
    } finally {
      removeUncaught();
    }
  },
};

async function serve(
  fp: FaultProxy,
  controlServer: ControlServer | undefined,
  upstream: { host: string; port: number },
  verbose: boolean,
  debug: boolean,
  io: CommandIo,
): Promise<number> {
  let first: (signal: NodeJS.Signals) => void = () => {};
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => (first = resolve));
  const removeSignals = onStopSignals({ first, again: () => void fp.destroy() });
  try {
    // The fault lines first, the address lines last: a script can start using the proxy once it sees them.
    const lines = fp.faults().map((f) => `outlast ${NAME}: fault ${f.id} ${JSON.stringify(f.fault)}\n`);
    try {
      const at = await fp.listen();
      lines.push(
        `outlast ${NAME}: listening on tcp://${formatHostPort(at.host, at.port)} -> ${formatHostPort(upstream.host, upstream.port)} (seed ${fp.seed})\n`,
      );
      if (controlServer !== undefined) {
        const c = await controlServer.listen();
        lines.push(`outlast ${NAME}: control on http://${formatHostPort(c.host, c.port)}\n`);
      }
    } catch (err) {
      await Promise.all([fp.destroy(), controlServer?.close()]);
      const inUse = (err as { code?: unknown }).code === "EADDRINUSE";
      io.err(
        formatFailure(
          NAME,
          inUse ? new Error(`${(err as Error).message}; pass another --listen or --control`, { cause: err }) : err,
          debug,
        ),
      );
      return EXIT_FAILURE;
    }
    io.err(lines.join(""));
    if (verbose) watch(fp, io);

    const signal = await stopRequested;
    io.err(
      `outlast ${NAME}: ${signal}: closing connections${signal === "SIGINT" ? " (Ctrl-C again to stop at once)" : ""}\n`,
    );
    await controlServer?.close();
    await fp.close();
    io.err(`outlast ${NAME}: stopped; stats ${JSON.stringify(fp.stats())}\n`);
    return EXIT_OK;
  } finally {
    removeSignals();
  }
}
