/**
 * `outlast serve --forward ... --stream ...`: run a gateway (src/gateway) until a signal.
 * Loaded by serve.ts with a dynamic import, so the NATS client is loaded only here.
 */

import type { TlsOptions } from "node:tls";
import { Readiness } from "../observe/readiness.js";
import type { HttpEndpoint } from "../observe/http-endpoint.js";
import { createGateway } from "../../gateway/index.js";
import type { Gateway, GatewayOptions } from "../../gateway/index.js";
import type { Authenticate } from "../../server/options.js";
import { EXIT_FAILURE, EXIT_OK, type CommandIo } from "../command.js";
import { formatFailure, formatHostPort, oneLine, type HostPort } from "../config.js";
import { onStopSignals } from "../stop-signals.js";
import type { ForwardFlags } from "./serve-forward-flags.js";

const NAME = "serve";
/** Transient NATS errors (an election, a timeout) are printed at most this often. */
const TRANSIENT_REPORT_INTERVAL_MS = 1000;

export interface GatewayRun {
  readonly listen: HostPort;
  readonly forward: ForwardFlags;
  readonly tls: TlsOptions | undefined;
  readonly authenticate: Authenticate | undefined;
  readonly maxFrameBytes: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly debug: boolean;
  /** --metrics: the operations port (src/cli/observe/gateway-ops.ts). */
  readonly metrics?: HostPort | undefined;
}

function gatewayOptions(run: GatewayRun): GatewayOptions {
  const f = run.forward;
  return {
    forward: {
      servers: f.servers,
      stream: f.stream,
      ...(f.subjectPrefix === undefined ? {} : { subjectPrefix: f.subjectPrefix }),
      ...(f.replicas === undefined ? {} : { replicas: f.replicas }),
      ...(f.duplicateWindowMs === undefined ? {} : { duplicateWindowMs: f.duplicateWindowMs }),
      ...(f.publishTimeoutMs === undefined ? {} : { publishTimeoutMs: f.publishTimeoutMs }),
      ...(f.user === undefined ? {} : { user: f.user }),
      ...(f.pass === undefined ? {} : { pass: f.pass }),
      ...(f.token === undefined ? {} : { token: f.token }),
      ...(f.credsFile === undefined ? {} : { credsFile: f.credsFile }),
      ...(f.tls === undefined ? {} : { tls: f.tls }),
    },
    ...(run.tls === undefined ? {} : { tls: run.tls }),
    ...(run.authenticate === undefined ? {} : { authenticate: run.authenticate }),
    ...(run.maxFrameBytes === undefined ? {} : { maxFrameBytes: run.maxFrameBytes }),
    ...(run.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: run.idleTimeoutMs }),
  };
}

/** One line for a failure to start, naming the flag to change. */
function startFailure(err: unknown, run: GatewayRun): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const f = run.forward;
  if (code === "OUTLAST_NATS_UNAVAILABLE")
    return new Error(`${oneLine(err)}; start NATS or fix ${f.source("forward")}`, { cause: err });
  if (code === "OUTLAST_STREAM_UNSAFE")
    return new Error(`${oneLine(err)} (or pass another ${f.source("stream")})`, { cause: err });
  if (code === "EADDRINUSE")
    return new Error(
      `cannot listen on ${formatHostPort(run.listen.host, run.listen.port)}: address already in use; pass another --listen`,
      { cause: err },
    );
  return err instanceof Error ? err : new Error(String(err));
}

export async function runGateway(run: GatewayRun, io: CommandIo): Promise<number> {
  let gateway: Gateway;
  try {
    gateway = createGateway(gatewayOptions(run));
  } catch (err) {
    if (run.tls !== undefined && (err as { code?: unknown }).code !== "OUTLAST_INVALID_OPTION")
      throw new Error(`cannot use --tls-cert / --tls-key: ${oneLine(err)}`, { cause: err });
    throw err;
  }
  const readiness = new Readiness();
  readiness.mark("listening", false, "not listening yet");
  let draining = false;
  let ops: HttpEndpoint | undefined;
  if (run.metrics !== undefined) {
    const { startGatewayOps } = await import("../observe/gateway-ops.js");
    const where = formatHostPort(run.metrics.host, run.metrics.port);
    ops = await startGatewayOps(run.metrics, gateway, readiness, () => draining).catch(async (err: unknown) => {
      await gateway.destroy();
      throw new Error(`cannot serve --metrics on ${where}: ${oneLine(err)}`, { cause: err });
    });
    io.err(`outlast ${NAME}: metrics on http://${formatHostPort(ops.host, ops.port)}/metrics\n`);
  }
  let resolveStop: (stop: { signal?: NodeJS.Signals; error?: Error }) => void = () => {};
  const stopped = new Promise<{ signal?: NodeJS.Signals; error?: Error }>((resolve) => (resolveStop = resolve));
  let stopping = false;
  const removeSignals = onStopSignals({
    first: (signal) => {
      stopping = true;
      resolveStop({ signal });
    },
    again: (signal) => {
      io.err(`outlast ${NAME}: ${signal} again: stopping at once; unacknowledged messages will be resent\n`);
      void gateway.destroy();
    },
    stopping: () => stopping,
  });
  gateway.on("error", (error) => resolveStop({ error }));
  gateway.on("clientError", (err, info) => {
    if (run.debug)
      io.err(
        `outlast ${NAME}: client${info.clientId === undefined ? "" : ` ${JSON.stringify(info.clientId)}`}: ${oneLine(err)}\n`,
      );
  });
  let lastTransientAt = 0;
  let suppressed = 0;
  gateway.on("natsError", (err, info) => {
    const who = info.clientId === undefined ? "" : ` (clientId ${JSON.stringify(info.clientId)})`;
    if (info.failure.kind === "fatal") {
      io.err(
        `outlast ${NAME}: NATS refused${who}: ${oneLine(err)}; the client is not acknowledged; fix NATS or the stream\n`,
      );
      return;
    }
    if (info.failure.kind === "moved") return; // another gateway wrote for this client: re-read, not an error
    const now = Date.now();
    if (now - lastTransientAt < TRANSIENT_REPORT_INTERVAL_MS && !run.debug) {
      suppressed++;
      return;
    }
    lastTransientAt = now;
    io.err(
      `outlast ${NAME}: NATS unavailable${who}: ${info.failure.reason}; not acknowledging, retrying${suppressed > 0 ? ` (${suppressed} more since the last report)` : ""}\n`,
    );
    suppressed = 0;
  });
  gateway.on("natsStatus", (status, server) => {
    io.err(
      status === "disconnect"
        ? `outlast ${NAME}: lost the NATS connection to ${server}; acknowledging nothing until it is back\n`
        : `outlast ${NAME}: NATS connection back (${server})\n`,
    );
  });
  try {
    const bound = await gateway.listen(run.listen).catch((err: unknown) => {
      throw startFailure(err, run);
    });
    const s = gateway.stream;
    io.err(
      `outlast ${NAME}: forwarding to stream ${run.forward.stream} (${s?.created === true ? "created" : "existing"}, R${s?.replicas ?? "?"}, subjects ${s?.subjectPrefix ?? "?"}.<client>) at ${run.forward.servers}\n`,
    );
    io.err(
      `outlast ${NAME}: listening on ${run.tls === undefined ? "tcp" : "tls"}://${formatHostPort(bound.host, bound.port)}\n`,
    );
    readiness.mark(
      "listening",
      true,
      `${run.tls === undefined ? "tcp" : "tls"}://${formatHostPort(bound.host, bound.port)}`,
    );
    const stop = await stopped;
    stopping = true;
    draining = true;
    let code = EXIT_OK;
    if (stop.error !== undefined) {
      io.err(formatFailure(NAME, stop.error, run.debug));
      await gateway.destroy();
      code = EXIT_FAILURE;
    } else {
      io.err(`outlast ${NAME}: ${stop.signal ?? "stop"}: draining connections\n`);
      await gateway.close();
    }
    const st = gateway.stats();
    io.err(`outlast ${NAME}: stopped; ${st.acknowledged} messages stored in ${run.forward.stream}\n`);
    return code;
  } finally {
    await gateway.destroy();
    await ops?.close();
    removeSignals();
  }
}
