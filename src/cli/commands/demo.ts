/**
 * `outlast demo`: a live delivery through injected faults, checked message by
 * message, with a report at the end. Nothing to configure.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import {
  EXIT_INTERRUPTED,
  formatFailure,
  parseDurationMs,
  parseSizeBytes,
  readOptions,
  reportUncaught,
} from "../config.js";
import { describeFault, DemoView } from "../demo/demo-view.js";
import { buildReport, DEMO_DEFAULTS, formatReport } from "../demo/report.js";
import { DemoScenario, type DemoConfig } from "../demo/scenario.js";
import { colorsWanted, painter } from "../live/ansi.js";
import { LiveRegion } from "../live/live-region.js";
import { countOf } from "../live/widgets.js";
import { onStopSignals } from "../stop-signals.js";

const NAME = "demo";
const DEFAULT_MESSAGES = DEMO_DEFAULTS.messages;
const DEFAULT_DURATION = `${DEMO_DEFAULTS.sendMs / 1000}s`;
const DEFAULT_FAULT_RATE: number = DEMO_DEFAULTS.faultRate;

const HELP = `Usage: outlast demo [--messages N] [--fault-rate R] [--seed S] [--duration DURATION]
                    [--message-bytes SIZE] [--drain-timeout DURATION] [--keep] [--json] [--debug]

Starts an outlast server (with a crash-safe state directory), a fault proxy in
front of it and a client with a durable outbox, all in a temporary directory,
and sends messages at a steady pace while the proxy breaks the link: resets,
blackholes (the link goes silent), latency, closed and refused connections, a
server crash and restart, a client crash and restart (a --duration under 9s
may have no room for a crash; the report says so). Then it checks the
server's handler record against every message sent and prints a report: sent,
delivered, lost, duplicates, reconnects by cause, faults injected, throughput.

On a terminal a live view is drawn on stderr; otherwise a progress line about
every second. The report goes to stdout (--json: as one JSON object).

  --messages N            how many messages (default ${DEFAULT_MESSAGES})
  --fault-rate R          about R faults a second (default ${DEFAULT_FAULT_RATE}; 0: none, and
                          no crashes either)
  --seed S                seed of the fault plan and the proxy's random choices
                          (default: random; the report prints it to replay a run)
  --duration DURATION     spread the sends over this long (default ${DEFAULT_DURATION})
  --message-bytes SIZE    size of each message (default ${DEMO_DEFAULTS.messageBytes} bytes)
  --drain-timeout DURATION  after the last send, how long the client may take to
                          deliver the rest (default ${DEMO_DEFAULTS.drainTimeoutMs / 1000}s)
  --keep                  keep the temporary directory (its outbox/ and state/)
                          and print where it is
  --json                  print the report as JSON on stdout
  --gateways              the same delivery through 2 gateways into a 3-node
                          NATS JetStream cluster (needs nats-server on the PATH),
                          with a gateway and the stream leader SIGKILLed along
                          the way; the stream is read back and checked
  --debug                 show stack traces on errors
  -h, --help              show this help

Every option can also be set in the environment: --messages is OUTLAST_MESSAGES,
--fault-rate is OUTLAST_FAULT_RATE, ... A flag wins over its variable.

Examples:
  outlast demo
  outlast demo --messages 50000 --fault-rate 3 --duration 20s
  outlast demo --seed 1234                  # replay a run
  outlast demo --json --messages 1000 --duration 3s | jq .lost

Exit codes: 0 every message arrived, none lost or duplicated; 1 something was
lost or duplicated (a bug: please report it with the seed), or the demo could
not run; 2 usage error; 130 stopped by SIGINT.
`;

const OPTIONS = {
  messages: { type: "string" },
  "fault-rate": { type: "string" },
  seed: { type: "string" },
  duration: { type: "string" },
  "message-bytes": { type: "string" },
  "drain-timeout": { type: "string" },
  keep: { type: "boolean" },
  json: { type: "boolean" },
  gateways: { type: "boolean" },
} as const;

interface DemoOptions {
  readonly config: Omit<DemoConfig, "dir">;
  readonly json: boolean;
  readonly keep: boolean;
  readonly debug: boolean;
  /** --gateways: the JetStream scenario (src/cli/demo/gateway-demo.ts). */
  readonly gateways: boolean;
}

function readConfig(args: readonly string[], env: NodeJS.ProcessEnv): DemoOptions | "help" {
  const { values: v, source } = readOptions(args, OPTIONS, { env });
  if (v.help) return "help";
  const int = (
    name: keyof typeof OPTIONS,
    text: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    if (text === undefined) return fallback;
    const n = Number(text.trim());
    if (text.trim() === "" || !Number.isSafeInteger(n) || n < min || n > max)
      throw new UsageError(`${source(name)} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
    return n;
  };
  const messages = int("messages", v.messages, DEFAULT_MESSAGES, 1, 10_000_000);
  let faultRate = DEFAULT_FAULT_RATE;
  if (v["fault-rate"] !== undefined) {
    faultRate = Number(v["fault-rate"].trim());
    if (v["fault-rate"].trim() === "" || !Number.isFinite(faultRate) || faultRate < 0 || faultRate > 50)
      throw new UsageError(
        `${source("fault-rate")} must be a number of faults per second from 0 to 50, not ${JSON.stringify(v["fault-rate"])}`,
      );
  }
  const seed = int("seed", v.seed, Math.floor(Math.random() * 2 ** 32), 0, 2 ** 32 - 1);
  const messageBytes =
    v["message-bytes"] === undefined
      ? DEMO_DEFAULTS.messageBytes
      : parseSizeBytes(v["message-bytes"], source("message-bytes"));
  if (messageBytes > 64 * 1024)
    throw new UsageError(`${source("message-bytes")} must be at most 64KiB, not ${v["message-bytes"]}`);
  return {
    config: {
      messages,
      messageBytes,
      faultRate,
      seed,
      sendMs: parseDurationMs(v.duration ?? DEFAULT_DURATION, source("duration")),
      drainTimeoutMs:
        v["drain-timeout"] === undefined
          ? DEMO_DEFAULTS.drainTimeoutMs
          : parseDurationMs(v["drain-timeout"], source("drain-timeout")),
    },
    json: v.json,
    keep: v.keep,
    debug: v.debug,
    gateways: v.gateways,
  };
}

async function runDemo(o: DemoOptions, io: CommandIo): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "outlast-demo-"));
  const config: DemoConfig = { ...o.config, dir };
  const scenario = new DemoScenario(config);
  const paint = painter(colorsWanted(process.stderr.isTTY === true));
  const view = new DemoView(config.seed, paint);
  const live = new LiveRegion(process.stderr, {
    frame: () => view.frame(scenario.snapshot()),
    line: () => view.line(scenario.snapshot()),
  });

  let interrupted = false;
  const removeSignals = onStopSignals({
    first: (signal) => {
      interrupted = true;
      live.log(`outlast ${NAME}: ${signal}: stopping (again to stop at once)`);
      scenario.stop();
    },
    again: () => live.stop(),
  });
  scenario.on("fault", (step) =>
    live.log(
      `outlast ${NAME}: ${paint("yellow", "fault")} at ${(step.atMs / 1000).toFixed(1)} s: ${describeFault(step)}`,
    ),
  );
  scenario.on("note", (text) => live.log(`outlast ${NAME}: ${text}`));

  try {
    if (!live.tty) {
      io.err(
        `outlast ${NAME}: ${countOf(config.messages, "message")} over ${(config.sendMs / 1000).toFixed(1)} s through ${countOf(scenario.plan.length, "planned fault")} (seed ${config.seed})\n`,
      );
    }
    live.start();
    const result = await scenario.run();
    live.stop();
    if (interrupted) {
      io.err(`outlast ${NAME}: stopped by a signal before the end; no report\n`);
      return EXIT_INTERRUPTED;
    }
    const report = buildReport(config, result);
    io.out(
      o.json
        ? `${JSON.stringify(report, null, 2)}\n`
        : formatReport(report, painter(colorsWanted(process.stdout.isTTY === true))),
    );
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    live.stop();
    removeSignals();
    if (o.keep) io.err(`outlast ${NAME}: kept ${dir} (outlast outbox inspect ${join(dir, "outbox")})\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

export const demo: Command = {
  summary: "a live delivery through injected faults (resets, blackholes, crashes), checked message by message",
  help: HELP,
  async run(args, io) {
    const options = readConfig(args, process.env);
    if (options === "help") {
      io.out(HELP);
      return EXIT_OK;
    }
    const removeUncaught = reportUncaught(NAME, options.debug);
    try {
      if (options.gateways) {
        const { runGatewaysDemo } = await import("../demo/gateway-demo-command.js");
        return await runGatewaysDemo(options, io);
      }
      return await runDemo(options, io);
    } catch (err) {
      io.err(formatFailure(NAME, err, options.debug));
      return EXIT_FAILURE;
    } finally {
      removeUncaught();
    }
  },
};
