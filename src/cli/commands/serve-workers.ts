/**
 * `outlast serve --workers N` (N > 1): this process becomes the pool's first
 * process. It owns the port and hands each connection to one of N worker
 * processes (serve-worker.ts), always the same one for a clientId; it serves
 * --metrics (the server counters summed over the workers), handles the
 * signals (the first drains the pool, a second destroys it) and logs like a
 * single serve. --state DIR is laid out per worker (serve-workers-state.ts).
 */

import { stat } from "node:fs/promises";
import type { ServerPool, ServerStats } from "../../server/index.js";
import { createServerPool } from "../../server/index.js";
import { isOutlastError } from "../../errors/outlast-error.js";
import { EXIT_FAILURE, EXIT_OK } from "../command.js";
import { formatHostPort, oneLine } from "../config.js";
import { drainWithin } from "../drain-within.js";
import type { Log } from "../observe/log.js";
import type { ServeOps } from "../observe/serve-ops.js";
import type { ObservedStats } from "../observe/server-observer.js";
import { openOutput } from "../output.js";
import { startFailure } from "./serve-failures.js";
import type { ServeConfig } from "./serve-config.js";
import { delayUnless, logFailure } from "./serve.js";
import { ServeStop } from "./serve-stop.js";
import { prepareWorkersState } from "./serve-workers-state.js";

/** With --state-wait, how often a locked state directory is tried again. */
const LOCK_RETRY_MS = 1000;

const WORKER_MODULE = new URL("./serve-worker.js", import.meta.url);

/** Why a pool stops besides a signal (serve-stop.ts). */
interface Failure {
  readonly kind: "pool";
  readonly error: Error;
}

/** The pool's summed stats as the metrics read them: fetched (async) before each scrape, read (sync) during it. */
class PoolStats {
  #last: ServerStats | undefined;
  constructor(readonly pool: () => ServerPool | undefined) {}

  async refresh(): Promise<void> {
    const pool = this.pool();
    if (pool === undefined) return;
    this.#last = await pool.stats();
  }

  stats(): ObservedStats {
    return (
      this.#last ?? {
        connections: 0,
        clients: 0,
        messagesProcessed: 0,
        deadLettered: 0,
        duplicatesSkipped: 0,
        handlerFailures: 0,
        authRejected: 0,
        protocolErrors: 0,
        busyRejected: 0,
        connectionsAccepted: 0,
      }
    );
  }
}

export async function runWorkers(config: ServeConfig, log: Log, ops: ServeOps): Promise<number> {
  const workers = config.workers;
  const flags = { workersSource: config.workersSource, stateSource: config.stateSource };
  // The workers open --output each; one open here says what is wrong with it once, before any fork.
  const probe = await openOutput(config.output).catch((err: unknown) => {
    throw new Error(`cannot open --output ${config.output ?? "-"}: ${oneLine(err)}`, { cause: err });
  });
  await probe.close();
  const kind = await stat(probe.name).catch(() => undefined);
  if (kind !== undefined && (kind.isFIFO() || kind.isSocket()))
    throw new Error(
      `${config.workersSource} ${workers} needs --output to be a file: ${probe.name} is a ${kind.isFIFO() ? "pipe" : "socket"}, and several processes writing to one can interleave inside a line`,
    );
  if (config.state !== undefined) await prepareWorkersState(config.state, workers, flags);
  const readiness = ops.readiness;
  readiness.mark("listening", false, "not listening yet");
  readiness.mark("state", false, config.state === undefined ? "starting" : `opening ${config.state}`);

  let pool: ServerPool | undefined;
  const source = new PoolStats(() => pool);
  ops.observer.server = source;
  ops.beforeScrape = () => source.refresh();

  let serving = false;
  /** Workers that exited while serving and are not back yet (the pool starts them again). */
  const down = new Set<number>();
  const stopper = new ServeStop<Failure>(log, () => pool?.destroy());

  const makePool = (): ServerPool => {
    const created = createServerPool({
      workers,
      module: WORKER_MODULE,
      // serve-worker.ts reads it from argv[2]. The pool's busyRetryAfterMs (a worker being started again:
      // seconds) is not --busy-retry-after (a full worker: minutes), which each worker applies itself.
      args: [JSON.stringify(config)],
    });
    created.on("workerReady", ({ index, pid }) => {
      down.delete(index);
      log.debug(`worker ${index} ready (pid ${pid})`, { event: "worker.ready", worker: index, pid });
    });
    created.on("workerExit", ({ index, code, signal }) => {
      const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      const fields = { event: "worker.exit", worker: index, code: code ?? undefined, signal: signal ?? undefined };
      // Stopping (or a start that failed): expected, and the failure itself is reported once, below.
      if (stopper.stopping || !serving) log.debug(`worker ${index} exited (${how})`, fields);
      else {
        down.add(index);
        log.warn(
          `worker ${index} exited (${how}); starting it again; its clients are asked to retry meanwhile (nothing acknowledged is lost)`,
          fields,
        );
      }
    });
    created.on("error", (error) => stopper.stop({ kind: "pool", error }));
    return created;
  };

  try {
    // --state-wait: while a worker's state directory is locked (by the server being replaced, still
    // draining), the whole pool is started again every second, not ready; past the wait, exit 1.
    let bound: { host: string; port: number } | undefined;
    const waitUntilMs = performance.now() + config.stateWaitMs;
    let waitingForLock = false;
    while (bound === undefined) {
      const attempt = (pool = makePool());
      try {
        bound = await attempt.listen(config.listen);
      } catch (err) {
        await attempt.destroy();
        if (!isOutlastError(err, "OUTLAST_STATE_LOCKED")) throw startFailure(err, config);
        const failure = startFailure(err, config);
        if (performance.now() >= waitUntilMs)
          throw waitingForLock
            ? new Error(`${oneLine(failure)}; waited --state-wait ${config.stateWaitMs} ms for it`, { cause: err })
            : failure;
        readiness.mark("state", false, oneLine(failure));
        if (!waitingForLock)
          log.warn(`${oneLine(failure)}; waiting up to ${config.stateWaitMs} ms for it (--state-wait; not ready)`, {
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
    const running = pool as ServerPool;
    serving = true;
    if (config.state === undefined)
      log.warn(
        "no --state: dedup state is in memory only; after a restart, messages resent by clients are written again",
        { event: "state.memory" },
      );
    readiness.mark("state", true, config.state === undefined ? "in memory (no --state)" : `${config.state} open`);
    const address = `tcp://${formatHostPort(bound.host, bound.port)}`;
    readiness.mark("listening", true, `${address} (${workers} workers)`);
    // A worker being started again: its clients are turned away meanwhile, so not ready.
    readiness.set("workers", () =>
      down.size === 0
        ? { ok: true, detail: `${workers} of ${workers} serving` }
        : { ok: false, detail: `worker ${[...down].sort((a, b) => a - b).join(", ")} starting again` },
    );
    log.info(`listening on ${address} (${workers} workers)`, { event: "serve.listening", address, workers });

    const stop = await stopper.stopped;
    stopper.stopping = true;
    readiness.mark("listening", false, "stopping");
    let code = EXIT_OK;
    await source.refresh().catch(() => {});
    switch (stop.kind) {
      case "signal": {
        ops.observer.draining = true;
        const drained = await drainWithin(
          {
            stats: () => source.stats(),
            drain: (options) => running.drain(options),
            destroy: () => running.destroy(),
          },
          log,
          {
            cause: stop.signal,
            signal: stop.signal,
            windowMs: config.drainWindowMs,
            timeoutMs: config.drainTimeoutMs,
            hint: stop.signal === "SIGINT" ? " (Ctrl-C again to stop at once)" : "",
          },
        );
        if (!drained) code = EXIT_FAILURE;
        break;
      }
      case "pool":
        // The listening socket failed: the pool stopped accepting.
        logFailure(log, config, stop.error);
        await running.close();
        code = EXIT_FAILURE;
        break;
      default: {
        const never: never = stop;
        return never;
      }
    }
    // Each worker logged what it wrote ("worker k: stopped; ..."): its counts leave with its process.
    log.info(`stopped (${workers} workers)`, { event: "serve.stopped", workers });
    return code;
  } finally {
    await pool?.destroy();
    stopper.removeSignals();
  }
}
