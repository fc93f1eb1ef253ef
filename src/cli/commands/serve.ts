/**
 * `outlast serve`: an outlast server that writes every delivered message to
 * stdout or a file, and acknowledges a message only once it is written.
 */

import { isUtf8 } from "node:buffer";
import type { TlsOptions } from "node:tls";
import { isOutlastError } from "../../errors/outlast-error.js";
import { createServer } from "../../server/index.js";
import type { IncomingMessage, Server, ServerOptions } from "../../server/index.js";
import { EXIT_FAILURE, EXIT_OK, type Command } from "../command.js";
import { formatFailure, formatHostPort, oneLine, reportUncaught } from "../config.js";
import { credentialsAuthenticator, parseCredentials, type Credentials } from "../credentials.js";
import { createLog, type Log } from "../observe/log.js";
import { ServeOps } from "../observe/serve-ops.js";
import { openOutput, type OutputSink } from "../output.js";
import { readNamed } from "../read-named.js";
import { drainWithin } from "../drain-within.js";
import { countOf } from "../live/widgets.js";
import { startFailure } from "./serve-failures.js";
import { ServeStop } from "./serve-stop.js";
import { prepareWorkersState } from "./serve-workers-state.js";
import { HELP, NAME, readConfig, type Format, type ServeConfig, type TlsFiles } from "./serve-config.js";

/** With --state-wait, how often a locked state directory is tried again. */
const LOCK_RETRY_MS = 1000;

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

/** The server's options from serve's flags (TLS aside), with `state` as the state directory. */
export function serverOptions(
  config: ServeConfig,
  onMessages: (batch: readonly IncomingMessage[]) => Promise<void>,
  state: string | undefined,
  credentials: Credentials | undefined,
): ServerOptions {
  return {
    onMessages,
    ...(state === undefined ? {} : { state }),
    ...(credentials === undefined ? {} : { authenticate: credentialsAuthenticator(credentials) }),
    ...(config.maxFrameBytes === undefined ? {} : { maxFrameBytes: config.maxFrameBytes }),
    ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
    ...(config.maxConnections === undefined ? {} : { maxConnections: config.maxConnections }),
    ...(config.busyRetryAfterMs === undefined ? {} : { busyRetryAfterMs: config.busyRetryAfterMs }),
  };
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

/** Why a single server stops besides a signal (serve-stop.ts). */
type Failure = { readonly kind: "output"; readonly error: Error } | { readonly kind: "server"; readonly error: Error };

/** Resolves undefined after `ms`, or with what `stopped` resolves to if that comes first (the timer is then cleared). */
export async function delayUnless<T>(ms: number, stopped: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
      stopped,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failure as one log line (with --debug, the stack and causes follow in the human format). */
export function logFailure(log: Log, config: ServeConfig, err: unknown): void {
  const code = (err as { code?: unknown } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (config.logFormat === "human")
    log.error(
      formatFailure(NAME, err, config.debug)
        .replace(/^outlast serve: /, "")
        .trimEnd(),
    );
  else log.error(oneLine(err), { event: "serve.failed", code: typeof code === "string" ? code : undefined });
}

async function runServer(config: ServeConfig, log: Log): Promise<number> {
  // A --state laid out for --workers is refused here, before the server creates anything in it.
  if (config.state !== undefined && config.workers === 1)
    await prepareWorkersState(config.state, 1, {
      workersSource: config.workersSource,
      stateSource: config.stateSource,
    });
  const tls = config.tls === undefined ? undefined : await loadTls(config.tls);
  const credentials =
    config.credentials === undefined
      ? undefined
      : parseCredentials((await readNamed(config.credentials, "--credentials")).toString("utf8"), config.credentials);
  const ops = await ServeOps.start(log, config.metrics, { handlerMetrics: config.workers === 1 }).catch(
    (err: unknown) => {
      const where = config.metrics === undefined ? "" : formatHostPort(config.metrics.host, config.metrics.port);
      throw new Error(`cannot serve --metrics on ${where}: ${oneLine(err)}`, { cause: err });
    },
  );
  if (ops.endpoint !== undefined) {
    const url = `http://${formatHostPort(ops.endpoint.host, ops.endpoint.port)}`;
    log.info(`metrics on ${url}/metrics, status page on ${url}/`, {
      event: "metrics.listening",
      address: formatHostPort(ops.endpoint.host, ops.endpoint.port),
    });
  }
  if (config.workers > 1) {
    try {
      const { runWorkers } = await import("./serve-workers.js");
      return await runWorkers(config, log, ops);
    } finally {
      await ops.close();
    }
  }
  if (config.forward !== undefined) {
    // Gateway mode: the NATS client is loaded only on this path.
    try {
      const { runGateway } = await import("./serve-gateway.js");
      return await runGateway(
        {
          listen: config.listen,
          forward: config.forward,
          tls,
          authenticate: credentials === undefined ? undefined : credentialsAuthenticator(credentials),
          maxFrameBytes: config.maxFrameBytes,
          idleTimeoutMs: config.idleTimeoutMs,
          maxConnections: config.maxConnections,
          busyRetryAfterMs: config.busyRetryAfterMs,
          debug: config.debug,
          drainWindowMs: config.drainWindowMs,
          drainTimeoutMs: config.drainTimeoutMs,
          logFailure: (err) => logFailure(log, config, err),
        },
        log,
        ops,
      );
    } finally {
      await ops.close();
    }
  }
  const sink: OutputSink | undefined = await openOutput(config.output).catch(async (err: unknown) => {
    await ops.close();
    throw new Error(`cannot open --output ${config.output ?? "-"}: ${oneLine(err)}`, { cause: err });
  });
  const readiness = ops.readiness;
  readiness.mark("listening", false, "not listening yet");
  readiness.mark("state", false, config.state === undefined ? "starting" : `opening ${config.state}`);

  let server: Server | undefined;
  const stopper = new ServeStop<Failure>(log, () => void server?.destroy());
  void sink.failed.then((error) => stopper.stop({ kind: "output", error }));

  // One write (and, for a file, one fdatasync) per batch of a client's pipelined messages.
  const handler = (batch: readonly IncomingMessage[]): Promise<void> =>
    sink.write(Buffer.concat(batch.map((m) => formatMessage(config.format, m))));
  const makeServer = (): Server => {
    let created: Server;
    try {
      const options = serverOptions(config, handler, config.state, credentials);
      created = createServer(tls === undefined ? options : { ...options, tls });
    } catch (err) {
      // node:tls rejects an unusable certificate or key here (ERR_OSSL_PEM_NO_START_LINE, key mismatch, ...).
      if (tls !== undefined && !isOutlastError(err))
        throw new Error(`cannot use --tls-cert ${config.tls?.cert} / --tls-key ${config.tls?.key}: ${oneLine(err)}`, {
          cause: err,
        });
      throw err;
    }
    ops.watch(created);
    created.on("error", (error) => stopper.stop({ kind: "server", error }));
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
    // --state-wait: a state directory locked by the server being replaced (still draining) is
    // waited for, not ready, tried every second; past the wait (or without it) exit 1.
    let bound: { host: string; port: number } | undefined;
    let running: Server | undefined;
    const waitUntilMs = performance.now() + config.stateWaitMs;
    let waitingForLock = false;
    while (bound === undefined || running === undefined) {
      running = server = makeServer();
      try {
        bound = await running.listen(config.listen);
      } catch (err) {
        if (!isOutlastError(err, "OUTLAST_STATE_LOCKED")) throw startFailure(err, config);
        if (performance.now() >= waitUntilMs) {
          const failure = startFailure(err, config);
          throw waitingForLock
            ? new Error(`${oneLine(failure)}; waited --state-wait ${config.stateWaitMs} ms for it`, { cause: err })
            : failure;
        }
        const detail = oneLine(startFailure(err, config));
        readiness.mark("state", false, detail);
        if (!waitingForLock)
          log.warn(`${detail}; waiting up to ${config.stateWaitMs} ms for it (--state-wait; not ready)`, {
            event: "state.locked",
            code: err.code,
          });
        waitingForLock = true;
        if (
          (await delayUnless(Math.min(LOCK_RETRY_MS, waitUntilMs - performance.now()), stopper.stopped)) !== undefined
        ) {
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

    const stop = await stopper.stopped;
    stopper.stopping = true;
    readiness.mark("listening", false, "stopping");
    let code = EXIT_OK;
    switch (stop.kind) {
      case "signal": {
        ops.observer.draining = true;
        const drained = await drainWithin(running, log, {
          cause: stop.signal,
          signal: stop.signal,
          windowMs: config.drainWindowMs,
          timeoutMs: config.drainTimeoutMs,
          hint: stop.signal === "SIGINT" ? " (Ctrl-C again to stop at once)" : "",
        });
        if (!drained) code = EXIT_FAILURE;
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
    stopper.removeSignals();
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
      return await runServer(config, log);
    } catch (err) {
      logFailure(log, config, err);
      return EXIT_FAILURE;
    } finally {
      log.flush();
      removeUncaught();
    }
  },
};
