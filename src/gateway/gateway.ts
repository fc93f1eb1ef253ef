/**
 * A stateless outlast server that forwards every message into a NATS JetStream stream
 * and acknowledges it only after JetStream's PubAck (docs/scale-out.md). It is the
 * server of src/server (connections, handshake, client registry, coalesced ACKs) over a
 * JetStreamDedupState, whose batch handler is the exactly-once write into the stream.
 * Start: connect to NATS, create or check the stream, listen. Many gateways can serve
 * the same stream.
 */

import { EventEmitter } from "node:events";
import { OutlastError } from "../errors/outlast-error.js";
import { gatewayNatsChannel } from "../jetstream/diagnostics.js";
import type { NatsFailure } from "../jetstream/nats-rules.js";
import type { ListenOptions } from "../server/options.js";
import type { Server } from "../server/server.js";
import { createServer } from "../server/server.js";
import { JetStreamDedupState } from "./jetstream-dedup-state.js";
import type { GatewayOptions, ResolvedGatewayOptions } from "./options.js";
import { resolveGatewayOptions } from "./options.js";
import type { StreamSetup } from "../jetstream/stream-setup.js";

export interface GatewayStats {
  readonly connections: number;
  readonly clients: number;
  /** Publishes sent to JetStream (resends after a recovery included). */
  readonly published: number;
  /** Messages known stored in the stream (PubAck, or found under a re-read mark). */
  readonly acknowledged: number;
  /** Times a client's writer stopped to re-read its mark after a failed publish or a lost NATS link. */
  readonly recoveries: number;
  /** NATS errors met (transient ones included). */
  readonly natsErrors: number;
  /** True while the NATS connection is up. */
  readonly natsConnected: boolean;
  /** Sockets accepted since start (the gateway's own server: the same count as a plain server's). */
  readonly connectionsAccepted: number;
  /** Connections closed for a protocol violation. */
  readonly protocolErrors: number;
  /** Connections rejected by `authenticate`. */
  readonly authRejected: number;
  /** Connections turned away with OUTLAST_SERVER_BUSY at maxConnections. */
  readonly busyRejected: number;
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
  /** Every NATS error, classified. Transient ones are retried; fatal ones fail the client's batch (not acknowledged). */
  natsError: [error: unknown, info: NatsErrorInfo];
  /** The NATS connection dropped ("disconnect": acknowledging stops) or came back ("reconnect"). */
  natsStatus: [status: "disconnect" | "reconnect", server: string];
  /** The gateway itself failed: it stops serving. */
  error: [error: Error];
}

export class Gateway extends EventEmitter<GatewayEvents> {
  readonly options: ResolvedGatewayOptions;
  readonly #state: JetStreamDedupState;
  readonly #server: Server;
  #natsErrors = 0;

  constructor(options: GatewayOptions) {
    super();
    this.options = resolveGatewayOptions(options);
    const o = this.options;
    this.#state = new JetStreamDedupState(o.forward, {
      clock: o.clock,
      natsError: (error, failure, clientId) => {
        this.#natsErrors++;
        if (gatewayNatsChannel.hasSubscribers) gatewayNatsChannel.publish({ error, failure, clientId });
        this.emit("natsError", error, { clientId, failure });
      },
      natsStatus: (status, server) => this.emit("natsStatus", status, server),
    });
    const state = this.#state;
    this.#server = createServer({
      state,
      onMessages: (batch) => state.store(batch),
      ...(o.tls === undefined ? {} : { tls: o.tls }),
      ...(o.authenticate === undefined ? {} : { authenticate: o.authenticate }),
      maxFrameBytes: o.maxFrameBytes,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs,
      ...(o.maxConnections === undefined ? {} : { maxConnections: o.maxConnections }),
      ...(o.busyRetryAfterMs === undefined ? {} : { busyRetryAfterMs: o.busyRetryAfterMs }),
      clock: o.clock,
    });
    this.#server.on("connection", (e) =>
      this.emit("connection", {
        clientId: e.clientId,
        requestedClientId: e.requestedClientId,
        lastSeq: state.storedSeq(e.clientId),
      }),
    );
    this.#server.on("clientError", (err, info) => this.emit("clientError", err, { clientId: info.clientId }));
    // A batch the stream refused (already reported as a fatal natsError) or that a closing gateway gave up on.
    this.#server.on("handlerError", (err, info) =>
      this.emit("clientError", err instanceof Error ? err : new Error(String(err)), { clientId: info.clientId }),
    );
    this.#server.on("error", (err) => this.emit("error", err));
  }

  /** The stream's settings as found or created at start (undefined before listen() resolved). */
  get stream(): (StreamSetup & { readonly name: string }) | undefined {
    const setup = this.#state.setup;
    return setup === undefined ? undefined : { ...setup, name: this.options.forward.stream };
  }

  /**
   * Connects to NATS (OUTLAST_NATS_UNAVAILABLE when no server answers), creates or checks
   * the stream (OUTLAST_STREAM_UNSAFE naming the setting), then listens (127.0.0.1 unless a host is given).
   */
  listen(options: ListenOptions = {}): Promise<{ port: number; host: string }> {
    return this.#server.listen(options);
  }

  stats(): GatewayStats {
    const s = this.#server.stats();
    const w = this.#state.stats;
    return {
      connections: s.connections,
      clients: s.clients,
      published: w.published,
      acknowledged: w.acknowledged,
      recoveries: w.recoveries,
      natsErrors: this.#natsErrors,
      natsConnected: this.#state.natsConnected,
      connectionsAccepted: s.connectionsAccepted,
      protocolErrors: s.protocolErrors,
      authRejected: s.authRejected,
      busyRejected: s.busyRejected,
    };
  }

  /**
   * Drains: stops accepting, lets the publishes in flight get their PubAcks, sends the last
   * ACKs and GOODBYE, closes NATS. A batch waiting for NATS to come back is given up
   * (its client is told to retry elsewhere) rather than waited for.
   */
  close(): Promise<void> {
    this.#giveUp();
    return this.#server.close();
  }

  /**
   * Lame-duck drain, as `server.drain({ windowMs })`: stops accepting, sends each client its
   * last ACK and GOODBYE at a random moment within `windowMs`, then closes as close() does.
   */
  drain({ windowMs = 0 }: { windowMs?: number } = {}): Promise<void> {
    this.#giveUp();
    return this.#server.drain({ windowMs });
  }

  #giveUp(): void {
    const stream = this.options.forward.stream;
    this.#state.giveUp(
      new OutlastError(
        "OUTLAST_SERVER_BUSY",
        `gateway is closing and stream ${stream} is unavailable; retry elsewhere`,
        {
          details: { stream },
        },
      ),
    );
  }

  /** Stops at once. Unacknowledged messages are resent by their clients. */
  destroy(): Promise<void> {
    return this.#server.destroy();
  }
}

/** Creates a gateway; call `listen()` to connect to NATS, check the stream and start serving. */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
