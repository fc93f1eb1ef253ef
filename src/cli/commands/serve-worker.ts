/**
 * One worker process of `outlast serve --workers N`, forked by the server pool
 * (serve-workers.ts): the same server and handler as a single `outlast serve`
 * (each batch appended to --output FILE in one write, fdatasync'd, then
 * acknowledged), serving the connections the first process hands it. Its state
 * directory is DIR/worker-<index> (serve-workers-state.ts). Its configuration is
 * the first process's, resolved once, as JSON in argv[2].
 *
 * SIGINT and SIGTERM are ignored here: Ctrl-C reaches every process of the
 * terminal's group, and systemd signals the whole unit, but the first process
 * decides (it drains the pool, or destroys it on a second signal).
 */

import { isOutlastError } from "../../errors/outlast-error.js";
import { createServer, poolWorker, serveFromPool } from "../../server/index.js";
import type { IncomingMessage } from "../../server/index.js";
import { oneLine, reportUncaught } from "../config.js";
import { parseCredentials } from "../credentials.js";
import { countOf } from "../live/widgets.js";
import { createLog, type Log } from "../observe/log.js";
import { ServeOps } from "../observe/serve-ops.js";
import { openOutput } from "../output.js";
import { readNamed } from "../read-named.js";
import { formatMessage, logFailure, serverOptions } from "./serve.js";
import type { ServeConfig } from "./serve-config.js";
import { workerStateDir } from "./serve-workers-state.js";

/** Every line says which worker wrote it: `outlast serve: worker 1: ...`, and `"worker":1` in JSON. */
function workerLog(log: Log, index: number): Log {
  const at =
    (level: "debug" | "info" | "warn" | "error"): Log["info"] =>
    (msg, fields) =>
      log[level](`worker ${index}: ${msg}`, { ...fields, worker: index });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), flush: () => log.flush() };
}

async function main(): Promise<number> {
  const worker = poolWorker();
  const json = process.argv[2];
  if (worker === undefined || json === undefined) {
    process.stderr.write("outlast serve worker: started by `outlast serve --workers N`, not by hand\n");
    return 2;
  }
  const config = JSON.parse(json) as ServeConfig;
  const ignore = (): void => {};
  process.on("SIGINT", ignore);
  process.on("SIGTERM", ignore);
  const removeUncaught = reportUncaught("serve", config.debug);
  const log = workerLog(
    await createLog({
      command: "serve",
      format: config.logFormat,
      level: config.logLevel,
      write: (text) => process.stderr.write(text),
    }),
    worker.index,
  );
  const ops = await ServeOps.start(log, undefined);
  try {
    const credentials =
      config.credentials === undefined
        ? undefined
        : parseCredentials((await readNamed(config.credentials, "--credentials")).toString("utf8"), config.credentials);
    const sink = await openOutput(config.output);
    const state = config.state === undefined ? undefined : workerStateDir(config.state, worker.index);
    // One write (and one fdatasync) per batch of a client's pipelined messages, as in a single serve.
    const handler = (batch: readonly IncomingMessage[]): Promise<void> =>
      sink.write(Buffer.concat(batch.map((m) => formatMessage(config.format, m))));
    const server = createServer(serverOptions(config, handler, state, credentials));
    ops.watch(server);
    server.on("handlerError", (err, info) => {
      log.debug(`clientId ${JSON.stringify(info.clientId)} seq ${info.seq}: not written: ${oneLine(err)}`, {
        event: "handler.failed",
        clientId: info.clientId,
        seq: info.seq,
      });
    });
    void sink.failed.then(async (error) => {
      // Nothing more can be acknowledged: this worker exits 1 and the pool starts it again.
      logFailure(
        log,
        config,
        new Error(
          `cannot write to ${sink.name}: ${oneLine(error)}; stopping this worker; messages not written were not acknowledged`,
          { cause: error },
        ),
      );
      await server.destroy();
      log.flush();
      process.exit(1);
    });
    // The state directory failed: the server destroyed itself and serveFromPool rejects.
    server.on("error", (error) => logFailure(log, config, error));
    let code = 0;
    try {
      await serveFromPool(server);
    } catch (err) {
      // A start failure (state locked, unreadable): the pool hands it to the first process, which reports it.
      log.debug(`not started: ${oneLine(err)}`, {
        event: "worker.failed",
        code: isOutlastError(err) ? err.code : undefined,
      });
      code = 1;
    } finally {
      await server.destroy();
      await sink.close();
    }
    const s = server.stats();
    // A worker that served nobody (one stopped because another could not start, under --state-wait) says so at debug.
    const served = s.connectionsAccepted > 0 || s.messagesProcessed > 0 || s.duplicatesSkipped > 0;
    log[served ? "info" : "debug"](
      `stopped; ${countOf(s.messagesProcessed, "message")} written, ${countOf(s.duplicatesSkipped, "duplicate")} skipped`,
      { event: "worker.stopped", messages: s.messagesProcessed, duplicates: s.duplicatesSkipped },
    );
    return code;
  } catch (err) {
    logFailure(log, config, err);
    return 1;
  } finally {
    await ops.close();
    log.flush();
    removeUncaught();
  }
}

process.exitCode = await main();
