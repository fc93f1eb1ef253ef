/**
 * `outlast send URL [FILE...]`: reads messages from stdin or files, stores
 * them in a durable outbox, delivers them, and exits 0 once every one is
 * acknowledged. What is not acknowledged when it stops stays stored for the
 * next run.
 */

import { connect, type Client, type StateChangeEvent } from "../../index.js";
import { isOutlastError } from "../../errors/outlast-error.js";
import { FileOutbox } from "../../outbox/file-outbox.js";
import { inspectOutbox } from "../../outbox/inspect.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import { formatFailure, formatHostPort, oneLine, reportUncaught } from "../config.js";
import { colorsWanted, painter } from "../live/ansi.js";
import { LiveRegion } from "../live/live-region.js";
import type { HttpEndpoint } from "../observe/http-endpoint.js";
import { createLog } from "../observe/log.js";
import { textLog } from "../observe/text-log.js";
import { countOf, formatCount, formatDuration } from "../live/widgets.js";
import { invalidOptionUsage } from "../option-flags.js";
import { onStopSignals } from "../stop-signals.js";
import { describeSendFailure, recoveryCommand, wrongPeerNotice, type SendFailure } from "./send-report.js";
import { InputError, inputMessages } from "./send-framing.js";
import { BATCH, HELP, MAX_MESSAGE_BYTES, NAME, connectOptions, readConfig, type SendConfig } from "./send-config.js";
import { makeDirs } from "../../storage/make-dirs.js";

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
      throw invalidOptionUsage(err, {
        clientId: "--client-id",
        token: "--token",
        tls: "--tls-ca",
        topic: "--topic",
        subject: "--subject",
        stream: "--stream",
        username: "--username",
        password: "--password",
      });
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
