/**
 * `outlast proxy --listen HOST:PORT --upstream HOST:PORT [fault flags]`: runs
 * the fault proxy until SIGINT or SIGTERM, optionally with the HTTP JSON control
 * endpoint to change faults at run time.
 */

import { parseArgs } from "node:util";
import { isOutlastError } from "../../errors/outlast-error.js";
import { createControlServer, createProxy, type ControlServer, type FaultProxy } from "../../proxy/index.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import { ALWAYS, faultsFromFlags, parseHostPort } from "./proxy-flags.js";

const HELP = `Usage: outlast proxy --upstream HOST:PORT [--listen HOST:PORT] [faults] [--control HOST:PORT] [--seed N]

A TCP proxy that injects network faults between your client and your server.
It moves bytes and knows no protocol. Runs until Ctrl-C (SIGINT) or SIGTERM.

  --upstream HOST:PORT   where to forward to (required)
  --listen HOST:PORT     where to listen (default 127.0.0.1:0: a free port, printed)
  --control HOST:PORT    serve the HTTP JSON control endpoint (GET/POST /faults,
                         PATCH/DELETE /faults/:id, GET /stats, GET /connections);
                         loopback only unless --control-dangerously-allow-remote
  --seed N               seed of every random choice (default: random, printed)
  --verbose              print connections and faults as they happen

Faults (each acts on --direction, on a --probability of connections):
  --latency MS[±JITTER]  delay every chunk: 100ms, 100ms±20, 1s+-200ms
  --bandwidth RATE       limit bytes per second: 5000, 64KiB/s, 1MB/s
  --blackhole [DOWN/EVERY]
                         forward nothing, keep sockets open (half-open link);
                         alone: always; 2s/10s: down 2 s in every 10 s
  --reset-every DURATION RST both sides of every open connection every DURATION
  --close-every DURATION FIN both sides of every open connection every DURATION
  --slicer SIZE[±VAR][/DELAY]
                         cut writes into ~SIZE-byte pieces, DELAY apart (default 1ms)
  --limit-data BYTES     close a connection after BYTES bytes (1000, 64KiB)
  --flap UP/DOWN         random blackhole flaps: up ~UP, then down ~DOWN (5s/1s)
  --refuse               reset new connections at once (never connect upstream)
  --hold                 accept new connections but never connect upstream
  --direction D          upstream (client -> server), downstream or both (default)
  --probability P        chance in [0, 1] a connection gets the faults (default 1)
  -h, --help             show this help

Examples:
  outlast proxy --listen 127.0.0.1:9000 --upstream 127.0.0.1:7000 --latency 100ms±20
  outlast proxy --listen :9000 --upstream db.local:5432 --reset-every 5s --seed 42
  outlast proxy --listen :9000 --upstream :7000 --blackhole 2s/10s --control 127.0.0.1:9001
  curl -s localhost:9001/faults -H 'content-type: application/json' \\
       -d '{"kind":"latency","latencyMs":250,"direction":"downstream"}'
  curl -s -X PATCH localhost:9001/faults/f1 -H 'content-type: application/json' -d '{"latencyMs":50}'
  curl -s -X DELETE localhost:9001/faults/f1; curl -s localhost:9001/stats

Exit codes: 0 stopped by a signal, 1 could not start (e.g. the port is taken),
2 usage error.
`;

function parse(args: readonly string[]) {
  // A bare --blackhole (no DOWN/EVERY after it) means "always".
  const normalized = args.map((a, i) => {
    const next = args[i + 1];
    return a === "--blackhole" && (next === undefined || next.startsWith("-")) ? `--blackhole=${ALWAYS}` : a;
  });
  try {
    return parseArgs({
      args: normalized,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: "string" },
        upstream: { type: "string" },
        control: { type: "string" },
        "control-dangerously-allow-remote": { type: "boolean", default: false },
        seed: { type: "string" },
        verbose: { type: "boolean", default: false },
        latency: { type: "string" },
        bandwidth: { type: "string" },
        blackhole: { type: "string" },
        "reset-every": { type: "string" },
        "close-every": { type: "string" },
        slicer: { type: "string" },
        "limit-data": { type: "string" },
        flap: { type: "string" },
        refuse: { type: "boolean" },
        hold: { type: "boolean" },
        direction: { type: "string" },
        probability: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(message.split(/\.\s/)[0] ?? message);
  }
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

function watch(proxy: FaultProxy, io: CommandIo): void {
  proxy.on("connectionOpened", (c) => io.out(`connection ${c.id} opened from ${c.client.address}:${c.client.port}\n`));
  proxy.on("connectionClosed", (c) => io.out(`connection ${c.id} closed (${c.bytes.upstream} B up, ${c.bytes.downstream} B down)\n`));
  proxy.on("connectionRefused", (c) => io.out(`connection ${c.id} refused by ${c.faultId}\n`));
  proxy.on("connectionHeld", (c) => io.out(`connection ${c.id} held by ${c.faultId}\n`));
  proxy.on("upstreamFailed", (e) => io.out(`connection ${e.id}: upstream connect failed: ${e.error.message}\n`));
  proxy.on("faultApplied", (e) => io.out(`fault ${e.fault.id} applied to connection ${e.connectionId}${e.flow === undefined ? "" : ` (${e.flow})`}\n`));
  proxy.on("faultActivated", (f) => io.out(`fault ${f.id} on\n`));
  proxy.on("faultDeactivated", (f) => io.out(`fault ${f.id} off\n`));
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
    const upstream = parseHostPort("--upstream", v.upstream);
    if (upstream.port === 0) throw new UsageError("--upstream needs a port above 0");
    const listen = parseHostPort("--listen", v.listen ?? "127.0.0.1:0");
    const control = v.control === undefined ? undefined : parseHostPort("--control", v.control);
    if (v.seed !== undefined && !/^\d+$/.test(v.seed)) throw new UsageError(`--seed takes an integer 0..4294967295, not "${v.seed}"`);
    const faults = faultsFromFlags(v);

    let fp: FaultProxy;
    let controlServer: ControlServer | undefined;
    try {
      fp = createProxy({ listen, upstream, faults, ...(v.seed === undefined ? {} : { seed: Number(v.seed) }) });
      if (control !== undefined) {
        controlServer = createControlServer(fp, { ...control, dangerouslyAllowRemote: v["control-dangerously-allow-remote"] });
      }
    } catch (err) {
      if (isOutlastError(err, "OUTLAST_INVALID_OPTION")) throw new UsageError(err.message);
      throw err;
    }
    const signal = waitForSignal();
    // The fault lines first, the address lines last: a script can start using the proxy once it sees them.
    const lines = fp.faults().map((f) => `outlast proxy: fault ${f.id} ${JSON.stringify(f.fault)}\n`);
    try {
      const at = await fp.listen();
      lines.push(`outlast proxy: listening on ${at.host}:${at.port} -> ${upstream.host}:${upstream.port} (seed ${fp.seed})\n`);
      if (controlServer !== undefined) {
        const c = await controlServer.listen();
        lines.push(`outlast proxy: control on http://${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}\n`);
      }
    } catch (err) {
      await Promise.all([fp.destroy(), controlServer?.close()]);
      io.err(`outlast proxy: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
      return EXIT_FAILURE;
    }
    io.out(lines.join(""));
    if (v.verbose) watch(fp, io);

    const got = await signal;
    io.out(`outlast proxy: ${got}, stopping\n`);
    await controlServer?.close();
    const stopped = fp.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
    await fp.destroy();
    io.out(`outlast proxy: stats ${JSON.stringify(fp.stats())}\n`);
    return EXIT_OK;
  },
};
