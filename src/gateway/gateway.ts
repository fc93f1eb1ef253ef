/**
 * A stateless outlast server that forwards every message into a NATS JetStream stream
 * and acknowledges it only after JetStream's PubAck (docs/scale-out.md). Start: connect
 * to NATS, create or check the stream, listen. Many gateways can serve the same stream.
 */

import { EventEmitter } from "node:events";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { createServer as createNetServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { debuglog } from "node:util";
import { backoffCeilingMs } from "../errors/backoff.js";
import { OutlastError } from "../errors/outlast-error.js";
import { makeErrorFrame } from "../protocol/error-frame.js";
import { encodeFrame } from "../protocol/frame-encoder.js";
import type { ListenOptions } from "../server/options.js";
import type { PipelineStats } from "./client-pipeline.js";
import { ClientPipeline } from "./client-pipeline.js";
import { gatewayNatsChannel } from "./diagnostics.js";
import type { GatewayConnectionContext } from "./gateway-connection.js";
import { GatewayConnection } from "./gateway-connection.js";
import { NatsLink } from "./nats-link.js";
import type { NatsFailure } from "./nats-rules.js";
import { registerNatsClassifier } from "./nats-rules.js";
import type { GatewayOptions, ResolvedGatewayOptions } from "./options.js";
import { resolveGatewayOptions } from "./options.js";
import type { StreamSetup } from "./stream-setup.js";
import { ensureStream } from "./stream-setup.js";
import { clientSubject } from "./subject.js";

const debug = debuglog("outlast");

export interface GatewayStats {
  readonly connections: number;
  readonly clients: number;
  /** Publishes sent to JetStream (resends after a recovery included). */
  readonly published: number;
  /** Messages acknowledged to clients (stored in the stream). */
  readonly acknowledged: number;
  /** Times a client's pipeline stopped to re-read its mark after a failed publish or a lost NATS link. */
  readonly recoveries: number;
  /** NATS errors met (transient ones included). */
  readonly natsErrors: number;
  /** True while the NATS connection is up. */
  readonly natsConnected: boolean;
}

export interface NatsErrorInfo {
  readonly clientId: string | undefined;
  /** "moved": another gateway wrote (not a failure); "transient": retried; "fatal": a person must act. */
  readonly failure: NatsFailure;
}

export interface GatewayEvents {
  /** A client finished its handshake; lastSeq is its mark in the stream. */
  connection: [event: { clientId: string; requestedClientId: string; lastSeq: number }];
  /** A problem with one client connection; the gateway keeps serving. */
  clientError: [error: Error, info: { clientId: string | undefined }];
  /** Every NATS error, classified. Transient ones are retried; fatal ones closed the client's connection. */
  natsError: [error: unknown, info: NatsErrorInfo];
  /** The NATS connection dropped ("disconnect": acknowledging stops) or came back ("reconnect"). */
  natsStatus: [status: "disconnect" | "reconnect", server: string];
  /** The gateway itself failed: it stops serving. */
  error: [error: Error];
}

type Phase = "idle" | "starting" | "listening" | "closing" | "closed";

export class Gateway extends EventEmitter<GatewayEvents> {
  readonly options: ResolvedGatewayOptions;
  readonly #net: NetServer;
  readonly #connections = new Set<GatewayConnection>();
  readonly #pipelines = new Map<string, ClientPipeline>();
  readonly #stats: PipelineStats = { published: 0, acknowledged: 0, recoveries: 0 };
  #natsErrors = 0;
  /** Publishes in flight, all clients together (bounded by forward.maxInFlight). */
  #inFlight = 0;
  readonly #waitingForSlot = new Set<ClientPipeline>();
  #link: NatsLink | undefined;
  #setup: StreamSetup | undefined;
  #phase: Phase = "idle";
  #listening: Promise<{ port: number; host: string }> | undefined;
  #closing: Promise<void> | undefined;
  readonly #context: GatewayConnectionContext;

  constructor(options: GatewayOptions) {
    super();
    this.options = resolveGatewayOptions(options);
    registerNatsClassifier();
    const o = this.options;
    this.#context = {
      clock: o.clock,
      authenticate: o.authenticate,
      maxFrameBytes: o.maxFrameBytes,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs,
      pipeline: (clientId) => this.#pipeline(clientId),
      connected: (info) => this.emit("connection", info),
      clientError: (err, clientId) => this.emit("clientError", err, { clientId }),
      closed: (conn) => this.#connections.delete(conn),
    };
    if (o.tls === undefined) {
      this.#net = createNetServer({ noDelay: true }, (socket) => this.#accept(socket));
    } else {
      const tlsServer = createTlsServer(o.tls, (socket) => this.#accept(socket));
      tlsServer.on("tlsClientError", (err) => this.emit("clientError", err, { clientId: undefined }));
      this.#net = tlsServer;
    }
    this.#net.on("error", (err) => {
      if (this.#phase === "listening") this.#fatal(err);
    });
  }

  /** The stream's settings as found or created at start (undefined before listen() resolved). */
  get stream(): (StreamSetup & { readonly name: string }) | undefined {
    return this.#setup === undefined ? undefined : { ...this.#setup, name: this.options.forward.stream };
  }

  /**
   * Connects to NATS (OUTLAST_NATS_UNAVAILABLE when no server answers), creates or checks
   * the stream (OUTLAST_STREAM_UNSAFE naming the setting), then listens.
   */
  listen(options: ListenOptions = {}): Promise<{ port: number; host: string }> {
    if (this.#listening !== undefined) return this.#listening;
    if (this.#phase !== "idle")
      return Promise.reject(new OutlastError("OUTLAST_CLOSED", "gateway is closed; create a new one"));
    this.#phase = "starting";
    this.#listening = this.#listen(options).catch(async (err: unknown) => {
      this.#phase = "closed";
      await this.#link?.close();
      throw err;
    });
    return this.#listening;
  }

  async #listen(options: ListenOptions): Promise<{ port: number; host: string }> {
    const f = this.options.forward;
    const link = await NatsLink.open(
      {
        servers: f.servers,
        connectTimeoutMs: f.connectTimeoutMs,
        requestTimeoutMs: f.publishTimeoutMs,
        ...(f.user === undefined ? {} : { user: f.user }),
        ...(f.pass === undefined ? {} : { pass: f.pass }),
        ...(f.token === undefined ? {} : { token: f.token }),
        ...(f.credsFile === undefined ? {} : { credsFile: f.credsFile }),
        ...(f.tls === undefined ? {} : { tls: f.tls }),
        ...(f.name === undefined ? {} : { name: f.name }),
      },
      f.stream,
    );
    this.#link = link;
    this.#setup = await this.#ensureStream(link);
    link.onStatus((status, server) => this.#onNatsStatus(status, server));
    if (this.#phase !== "starting") throw new OutlastError("OUTLAST_CLOSED", "gateway was closed while starting");
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#net.once("error", onError);
      // Loopback unless a host is given, like server.listen() and outlast serve.
      const listenOptions = { port: options.port ?? 0, host: options.host ?? "127.0.0.1" };
      this.#net.listen(listenOptions, () => {
        this.#net.off("error", onError);
        resolve();
      });
    });
    this.#phase = "listening";
    const address = this.#net.address() as AddressInfo;
    debug("gateway listening on %s:%d, stream %s", address.address, address.port, f.stream);
    return { port: address.port, host: address.address };
  }

  /** The stream lookup, retried while JetStream elects its leaders (a cluster just started). */
  async #ensureStream(link: NatsLink): Promise<StreamSetup> {
    const f = this.options.forward;
    const requirements = {
      stream: f.stream,
      subjectPrefix: f.subjectPrefix,
      replicas: f.replicas,
      duplicateWindowMs: f.duplicateWindowMs,
      create: f.createStream,
    };
    const deadline = this.options.clock.now() + Math.max(15_000, 4 * f.publishTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      try {
        return await ensureStream(link.jsm, requirements);
      } catch (err) {
        const unavailable = (err as { code?: unknown }).code === "OUTLAST_NATS_UNAVAILABLE";
        if (!unavailable || this.options.clock.now() >= deadline || this.#phase !== "starting") throw err;
        await new Promise((resolve) => setTimeout(resolve, backoffCeilingMs(attempt, 100, 1000)));
      }
    }
  }

  #pipeline(clientId: string): ClientPipeline {
    let p = this.#pipelines.get(clientId);
    if (p === undefined) {
      const link = this.#link as NatsLink;
      const prefix = (this.#setup as StreamSetup).subjectPrefix;
      p = new ClientPipeline(
        clientId,
        clientSubject(prefix, clientId),
        {
          link,
          maxInFlight: this.options.forward.maxInFlightPerClient,
          natsError: (error, failure, id) => this.#natsError(error, failure, id),
          acquire: () => {
            if (this.#inFlight >= this.options.forward.maxInFlight) return false;
            this.#inFlight++;
            return true;
          },
          release: () => this.#release(),
          waitForSlot: (pipeline) => this.#waitingForSlot.add(pipeline),
          retryDelayMs: (attempt) => Math.random() * backoffCeilingMs(attempt, 100, 2000),
          setTimeout: (fn, ms) => setTimeout(fn, ms),
        },
        this.#stats,
      );
      this.#pipelines.set(clientId, p);
    }
    return p;
  }

  /** A publish was answered: its slot goes to a client waiting for one (oldest first). */
  #release(): void {
    this.#inFlight--;
    for (const pipeline of this.#waitingForSlot) {
      if (this.#inFlight >= this.options.forward.maxInFlight) return;
      this.#waitingForSlot.delete(pipeline);
      pipeline.pump();
    }
  }

  #natsError(error: unknown, failure: NatsFailure, clientId: string | undefined): void {
    this.#natsErrors++;
    if (gatewayNatsChannel.hasSubscribers) gatewayNatsChannel.publish({ error, failure, clientId });
    this.emit("natsError", error, { clientId, failure });
  }

  #onNatsStatus(status: "disconnect" | "reconnect", server: string): void {
    debug("gateway NATS %s %s", status, server);
    for (const p of this.#pipelines.values()) {
      if (status === "disconnect") p.linkLost();
      else p.pump();
    }
    this.emit("natsStatus", status, server);
  }

  #accept(socket: Socket): void {
    socket.on("error", () => {});
    if (this.#phase !== "listening") {
      this.#turnAway(socket, "gateway is shutting down; retry later");
      return;
    }
    if (this.#connections.size >= this.options.maxConnections) {
      this.#turnAway(socket, `gateway has maxConnections ${this.options.maxConnections} connections; retry later`);
      return;
    }
    this.#connections.add(new GatewayConnection(socket, this.#context));
  }

  #turnAway(socket: Socket, message: string): void {
    socket.on("data", () => {});
    socket.end(encodeFrame(makeErrorFrame("OUTLAST_SERVER_BUSY", message, 1000)));
    const timer = setTimeout(() => socket.destroy(), 2000);
    timer.unref();
    socket.on("close", () => clearTimeout(timer));
  }

  stats(): GatewayStats {
    return {
      connections: this.#connections.size,
      clients: this.#pipelines.size,
      published: this.#stats.published,
      acknowledged: this.#stats.acknowledged,
      recoveries: this.#stats.recoveries,
      natsErrors: this.#natsErrors,
      natsConnected: this.#link?.connected ?? false,
    };
  }

  /** Drains: stops accepting, waits for the PubAcks in flight, sends the last ACKs and GOODBYE, closes NATS. */
  close(): Promise<void> {
    this.#closing ??= this.#close(true);
    return this.#closing;
  }

  /** Stops at once. Unacknowledged messages are resent by their clients. */
  destroy(): Promise<void> {
    for (const conn of this.#connections) conn.destroy();
    this.#closing ??= this.#close(false);
    return this.#closing;
  }

  async #close(graceful: boolean): Promise<void> {
    const wasListening = this.#phase === "listening";
    this.#phase = "closing";
    const netClosed = wasListening
      ? new Promise<void>((resolve) => this.#net.close(() => resolve()))
      : Promise.resolve();
    if (this.#listening !== undefined) await this.#listening.catch(() => undefined);
    for (const conn of this.#connections) {
      if (graceful) conn.drain(true);
      else conn.destroy();
    }
    await Promise.all([...this.#connections].map((c) => c.closedPromise));
    await netClosed;
    await this.#link?.close();
    this.#phase = "closed";
  }

  #fatal(err: Error): void {
    void this.destroy();
    this.emit("error", err);
  }
}

/** Creates a gateway; call `listen()` to connect to NATS, check the stream and start serving. */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
