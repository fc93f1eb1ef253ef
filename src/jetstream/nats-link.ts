/**
 * One NATS connection (nats.js v3, loaded here by dynamic import so the rest of outlast
 * never loads it), for a gateway or a nats:// client: publishing with the outlast headers,
 * reading a client's mark from the stream leader, and the connection's status.
 */

import { readFile } from "node:fs/promises";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { OutlastError } from "../errors/outlast-error.js";

/** Who we are to NATS and how the link is secured (all optional); shared by the gateway's and the client's options. */
export interface NatsCredentials {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** A NATS .creds file (JWT + NKey seed). */
  readonly credsFile?: string;
  /**
   * TLS to NATS: PEM files (`caFile` alone verifies the servers; add cert and key for mutual
   * TLS), or their contents (`ca`, `cert`, `key`: what a node:tls option holds).
   */
  readonly tls?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
  };
  /** Connection name shown by the servers (`nats server report connections`). */
  readonly name?: string;
}

/** How to reach NATS (every field but `servers` and the timeouts optional). */
export interface NatsConnectOptions extends NatsCredentials {
  /** nats:// (or tls://) URLs of the cluster's servers; nats.js tries them in random order. */
  readonly servers: readonly string[];
  /** Dial timeout per server (ms). */
  readonly connectTimeoutMs: number;
  /** JetStream request timeout: a publish without a PubAck by then is in doubt (ms). */
  readonly requestTimeoutMs: number;
  /** Timeout of JetStream API requests (stream lookups, mark reads); default requestTimeoutMs. */
  readonly apiTimeoutMs?: number;
  /**
   * Let nats.js reconnect after a lost connection (a gateway: default). False for a link that
   * ends with its connection (the nats:// client: its own backoff opens the next one).
   */
  readonly reconnect?: boolean;
}

/** The last message of a client's subject: its Outlast-Seq and its stream sequence. */
export interface Mark {
  readonly seq: number;
  readonly streamSeq: number;
}

export const NO_MARK: Mark = { seq: 0, streamSeq: 0 };

export interface PublishRequest {
  readonly subject: string;
  readonly clientId: string;
  readonly seq: number;
  readonly data: Uint8Array;
  /** Nats-Expected-Last-Subject-Sequence, when the predecessor's stream sequence is known. */
  readonly expectLastSubjectSeq: number | undefined;
}

export interface PublishAck {
  readonly streamSeq: number;
  readonly duplicate: boolean;
}

export type LinkStatus = "disconnect" | "reconnect";

export const HEADER_CLIENT_ID = "Outlast-Client-Id";
export const HEADER_SEQ = "Outlast-Seq";

export class NatsLink {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly #headers: () => MsgHdrs;
  #connected = true;
  readonly #listeners: ((status: LinkStatus, server: string) => void)[] = [];

  private constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    stream: string,
    headers: () => MsgHdrs,
  ) {
    this.nc = nc;
    this.js = js;
    this.jsm = jsm;
    this.stream = stream;
    this.#headers = headers;
    void this.#watch();
  }

  /** Connects (throws OUTLAST_NATS_UNAVAILABLE when no server answers). */
  static async open(options: NatsConnectOptions, stream: string): Promise<NatsLink> {
    const [transport, jetstreamModule] = await Promise.all([
      import("@nats-io/transport-node"),
      import("@nats-io/jetstream"),
    ]);
    const creds =
      options.credsFile === undefined
        ? undefined
        : await readFile(options.credsFile).catch((err: unknown) => {
            throw new OutlastError("OUTLAST_NATS_UNAVAILABLE", `cannot read the NATS creds file ${options.credsFile}`, {
              cause: err,
              details: { servers: options.servers },
            });
          });
    const tls =
      options.tls === undefined
        ? undefined
        : {
            ...(options.tls.caFile === undefined ? {} : { caFile: options.tls.caFile }),
            ...(options.tls.certFile === undefined ? {} : { certFile: options.tls.certFile }),
            ...(options.tls.keyFile === undefined ? {} : { keyFile: options.tls.keyFile }),
            ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }),
            ...(options.tls.cert === undefined ? {} : { cert: options.tls.cert }),
            ...(options.tls.key === undefined ? {} : { key: options.tls.key }),
          };
    let nc: NatsConnection;
    try {
      nc = await transport.connect({
        servers: [...options.servers],
        name: options.name ?? "outlast",
        timeout: options.connectTimeoutMs,
        maxReconnectAttempts: options.reconnect === false ? 0 : -1,
        reconnect: options.reconnect !== false,
        reconnectTimeWait: 250,
        pingInterval: 5000,
        // No Error (and stack capture) made up front for every request in case it fails: that was
        // ~20% of a busy publisher's CPU. Errors keep their classes (classify() reads those), with
        // the stack of where they happen instead of where the request was made.
        noAsyncTraces: true,
        ...(options.user === undefined ? {} : { user: options.user }),
        ...(options.pass === undefined ? {} : { pass: options.pass }),
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(creds === undefined ? {} : { authenticator: transport.credsAuthenticator(new Uint8Array(creds)) }),
        ...(tls === undefined ? {} : { tls }),
      });
    } catch (err) {
      throw new OutlastError(
        "OUTLAST_NATS_UNAVAILABLE",
        `cannot connect to NATS at ${options.servers.join(",")}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err, details: { servers: options.servers } },
      );
    }
    const js = jetstreamModule.jetstream(nc, { timeout: options.requestTimeoutMs });
    const jsm = await jetstreamModule.jetstreamManager(nc, {
      timeout: options.apiTimeoutMs ?? options.requestTimeoutMs,
      checkAPI: false,
    });
    return new NatsLink(nc, js, jsm, stream, transport.headers);
  }

  /** False between a `disconnect` and the next `reconnect`. */
  get connected(): boolean {
    return this.#connected;
  }

  onStatus(listener: (status: LinkStatus, server: string) => void): void {
    this.#listeners.push(listener);
  }

  async #watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type !== "disconnect" && s.type !== "reconnect") continue;
      this.#connected = s.type === "reconnect";
      const server = "server" in s ? String(s.server) : "";
      for (const l of this.#listeners) l(s.type, server);
    }
  }

  async publish(req: PublishRequest): Promise<PublishAck> {
    const h = this.#headers();
    h.set(HEADER_CLIENT_ID, req.clientId);
    h.set(HEADER_SEQ, String(req.seq));
    const pa = await this.js.publish(req.subject, req.data, {
      msgID: `${req.clientId}:${req.seq}`,
      headers: h,
      ...(req.expectLastSubjectSeq === undefined ? {} : { expect: { lastSubjectSequence: req.expectLastSubjectSeq } }),
    });
    return { streamSeq: pa.seq, duplicate: pa.duplicate };
  }

  /** The client's mark, read through the stream leader (STREAM.MSG.GET, never a direct get). */
  async readMark(subject: string): Promise<Mark> {
    const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    if (m === null) return NO_MARK;
    const raw = m.header.get(HEADER_SEQ);
    const seq = Number(raw);
    if (raw === "" || !Number.isSafeInteger(seq) || seq < 0)
      throw new OutlastError(
        "OUTLAST_NATS_REJECTED",
        `stream ${this.stream} message ${m.seq} on ${subject} has no valid ${HEADER_SEQ} header (${JSON.stringify(raw)}): something other than an outlast gateway publishes on the clients' subjects`,
        { details: { stream: this.stream, subject, streamSeq: m.seq } },
      );
    return { seq, streamSeq: m.seq };
  }

  /** Flushes and closes; idempotent. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close().catch(() => undefined);
  }
}
