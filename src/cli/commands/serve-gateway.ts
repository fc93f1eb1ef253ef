/**
 * `outlast serve --forward ... --stream ...`: run a gateway (src/gateway) until a signal.
 * Loaded by serve.ts with a dynamic import, so the NATS client is loaded only here.
 */

import type { TlsOptions } from "node:tls";
import { classify } from "../../errors/classify.js";
import { createGateway } from "../../gateway/index.js";
import type { Gateway, GatewayOptions } from "../../gateway/index.js";
import type { Authenticate } from "../../server/options.js";
import { EXIT_FAILURE, EXIT_OK } from "../command.js";
import { formatHostPort, oneLine, type HostPort } from "../config.js";
import { watchGateway } from "../observe/gateway-ops.js";
import type { Log } from "../observe/log.js";
import type { ServeOps } from "../observe/serve-ops.js";
import { drainWithin } from "../drain-within.js";
import { onStopSignals } from "../stop-signals.js";
import type { ForwardFlags } from "./serve-forward-flags.js";

/** Transient NATS errors (an election, a timeout) are printed at most this often. */
const TRANSIENT_REPORT_INTERVAL_MS = 1000;

export interface GatewayRun {
  readonly listen: HostPort;
  readonly forward: ForwardFlags;
  readonly tls: TlsOptions | undefined;
  readonly authenticate: Authenticate | undefined;
  readonly maxFrameBytes: number | undefined;
  readonly idleTimeoutMs: number | undefined;
  readonly maxConnections: number | undefined;
  readonly busyRetryAfterMs: number | undefined;
  readonly debug: boolean;
  /** --drain-window and --drain-timeout, as for a plain serve. */
  readonly drainWindowMs: number;
  readonly drainTimeoutMs: number;
  /** A failure as a log line (the human format adds the stack with --debug). */
  readonly logFailure: (err: unknown) => void;
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
    ...(run.maxConnections === undefined ? {} : { maxConnections: run.maxConnections }),
    ...(run.busyRetryAfterMs === undefined ? {} : { busyRetryAfterMs: run.busyRetryAfterMs }),
  };
}

/** One line for a failure to start, naming the flag to change. */
function startFailure(err: unknown, run: GatewayRun): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const f = run.forward;
  if (code === "OUTLAST_NATS_UNAVAILABLE" && classify((err as Error).cause ?? err).code === "NATS_AUTHORIZATION")
    return new Error(
      `${oneLine(err)}; NATS refused our credentials: check --nats-user and --nats-pass, --nats-token or --nats-creds`,
      { cause: err },
    );
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

/**
 * Runs the gateway until a signal (drain: exit 0) or a failure (exit 1). `ops` is
 * the serve's log and operations port, already started (serve-ops.ts).
 */
export async function runGateway(run: GatewayRun, log: Log, ops: ServeOps): Promise<number> {
  let gateway: Gateway;
  try {
    gateway = createGateway(gatewayOptions(run));
  } catch (err) {
    if (run.tls !== undefined && (err as { code?: unknown }).code !== "OUTLAST_INVALID_OPTION")
      throw new Error(`cannot use --tls-cert / --tls-key: ${oneLine(err)}`, { cause: err });
    throw err;
  }
  const readiness = ops.readiness;
  readiness.mark("listening", false, "not listening yet");
  await watchGateway(ops, gateway);
  let resolveStop: (stop: { signal?: NodeJS.Signals; error?: Error }) => void = () => {};
  const stopped = new Promise<{ signal?: NodeJS.Signals; error?: Error }>((resolve) => (resolveStop = resolve));
  let stopping = false;
  const removeSignals = onStopSignals({
    first: (signal) => {
      stopping = true;
      resolveStop({ signal });
    },
    again: (signal) => {
      log.warn(`${signal} again: stopping at once; unacknowledged messages will be resent`, {
        event: "serve.stop",
        signal,
      });
      log.flush();
      void gateway.destroy();
    },
    stopping: () => stopping,
  });
  gateway.on("error", (error) => resolveStop({ error }));
  let lastTransientAt = 0;
  let suppressed = 0;
  gateway.on("natsError", (err, info) => {
    const who = info.clientId === undefined ? "" : ` (clientId ${JSON.stringify(info.clientId)})`;
    const code = (err as { code?: unknown } | null)?.code;
    const fields = {
      clientId: info.clientId,
      failure: info.failure.kind,
      code: typeof code === "string" ? code : undefined,
    };
    if (info.failure.kind === "fatal") {
      log.error(`NATS refused${who}: ${oneLine(err)}; the client is not acknowledged; fix NATS or the stream`, {
        event: "nats.refused",
        ...fields,
      });
      return;
    }
    if (info.failure.kind === "moved") return; // another gateway wrote for this client: re-read, not an error
    const now = Date.now();
    if (now - lastTransientAt < TRANSIENT_REPORT_INTERVAL_MS && !run.debug) {
      suppressed++;
      return;
    }
    lastTransientAt = now;
    log.warn(
      `NATS unavailable${who}: ${info.failure.reason}; not acknowledging, retrying${suppressed > 0 ? ` (${suppressed} more since the last report)` : ""}`,
      { event: "nats.unavailable", ...fields, reason: info.failure.reason, suppressed },
    );
    suppressed = 0;
  });
  gateway.on("natsStatus", (status, server) => {
    if (status === "disconnect")
      log.warn(`lost the NATS connection to ${server}; acknowledging nothing until it is back`, {
        event: "nats.disconnected",
        server,
      });
    else log.info(`NATS connection back (${server})`, { event: "nats.reconnected", server });
  });
  try {
    const bound = await gateway.listen(run.listen).catch((err: unknown) => {
      throw startFailure(err, run);
    });
    const s = gateway.stream;
    log.info(
      `forwarding to stream ${run.forward.stream} (${s?.created === true ? "created" : "existing"}, R${s?.replicas ?? "?"}, subjects ${s?.subjectPrefix ?? "?"}.<client>) at ${run.forward.servers}`,
      {
        event: "gateway.stream",
        stream: run.forward.stream,
        created: s?.created,
        replicas: s?.replicas,
        subjectPrefix: s?.subjectPrefix,
        servers: run.forward.servers,
      },
    );
    if (s !== undefined && !s.created && s.replicas < 3 && run.forward.replicas === undefined)
      log.warn(
        `stream ${run.forward.stream} has ${s.replicas} replica${s.replicas === 1 ? "" : "s"}: losing a NATS node (its disk) can lose messages already acknowledged to clients; recreate it with 3 replicas, or pass --replicas ${s.replicas} to say this is intended`,
        { event: "gateway.streamReplicas", stream: run.forward.stream, replicas: s.replicas },
      );
    const address = `${run.tls === undefined ? "tcp" : "tls"}://${formatHostPort(bound.host, bound.port)}`;
    log.info(`listening on ${address}`, { event: "serve.listening", address });
    readiness.mark("listening", true, address);
    const stop = await stopped;
    stopping = true;
    ops.observer.draining = true;
    readiness.mark("listening", false, "stopping");
    let code = EXIT_OK;
    if (stop.error !== undefined) {
      run.logFailure(stop.error);
      await gateway.destroy();
      code = EXIT_FAILURE;
    } else {
      const drained = await drainWithin(gateway, log, {
        cause: stop.signal ?? "stop",
        signal: stop.signal,
        windowMs: run.drainWindowMs,
        timeoutMs: run.drainTimeoutMs,
      });
      if (!drained) code = EXIT_FAILURE;
    }
    const st = gateway.stats();
    log.info(`stopped; ${st.acknowledged} messages stored in ${run.forward.stream}`, {
      event: "serve.stopped",
      messages: st.acknowledged,
    });
    return code;
  } finally {
    await gateway.destroy();
    removeSignals();
  }
}
