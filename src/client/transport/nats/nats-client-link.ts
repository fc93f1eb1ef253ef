/**
 * One NATS connection of a nats:// client (a Link: it never reconnects; the client's
 * backoff opens the next one). Opening: connect, check the stream covers the subject
 * and can never delete its last message, read the mark through the stream leader
 * (onOpen(mark): what the stream holds is not sent again). Records go to the shared
 * ExactlyOnceWriter; each write's PubAcks are reported as one cumulative ack. A dead
 * link is found by the client's heartbeat policy (NATS PING through flush()).
 */

import { debuglog } from "node:util";
import type { Timer } from "../../../errors/clock.js";
import { classify } from "../../../errors/classify.js";
import { OutlastError } from "../../../errors/outlast-error.js";
import type { ExactlyOnceWriter } from "../../../jetstream/exactly-once-writer.js";
import type { NatsLink } from "../../../jetstream/nats-link.js";
import type { OutboxRecord } from "../../../outbox/outbox.js";
import { Heartbeat } from "../../heartbeat.js";
import type { ResolvedOptions } from "../../options.js";
import type { Endpoint } from "../../url.js";
import type { Link, LinkEvents } from "../transport.js";

const debug = debuglog("outlast");
/** Room kept for the headers (msg id, Outlast-Client-Id, Outlast-Seq, expected sequence) below NATS's max_payload. */
const HEADER_ROOM_BYTES = 1024;
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/**
 * Records per writer.write() call: each call's PubAcks become one cumulative ack, so the
 * client's window slides every ACK_CHUNK records instead of once per window (4096), and the
 * writer's pipeline never runs dry between windows.
 */
const ACK_CHUNK = 64;
/**
 * Stream lookups and mark reads: answered in milliseconds by a cluster with a leader, never
 * during a leader election (they time out). Shorter than a publish's timeout so that a link
 * opened during an election tries again soon after it ends, not up to 2 s later.
 */
const API_TIMEOUT_MS = 1000;

export class NatsClientLink implements Link {
  readonly #endpoint: Endpoint;
  readonly #clientId: string;
  readonly #o: ResolvedOptions;
  readonly #events: LinkEvents;
  #isOpen = false;
  #closed = false;
  #link: NatsLink | undefined;
  #writer: ExactlyOnceWriter | undefined;
  #heartbeat: Heartbeat | undefined;
  #connectTimer: Timer | undefined;
  #maxRecordBytes = DEFAULT_MAX_PAYLOAD - HEADER_ROOM_BYTES;

  constructor(endpoint: Endpoint, clientId: string, options: ResolvedOptions, events: LinkEvents) {
    this.#endpoint = endpoint;
    this.#clientId = clientId;
    this.#o = options;
    this.#events = events;
    this.#connectTimer = options.clock.setTimeout(() => {
      this.#connectTimer = undefined;
      this.#end(
        new OutlastError(
          "OUTLAST_CONNECT_TIMEOUT",
          `no NATS JetStream link to ${endpoint.href} within connectTimeoutMs ${options.connectTimeoutMs}`,
          { details: { connectTimeoutMs: options.connectTimeoutMs, phase: "nats" } },
        ),
      );
    }, options.connectTimeoutMs);
    void this.#start();
  }

  get isOpen(): boolean {
    return this.#isOpen;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get lastHeardMs(): number {
    return this.#heartbeat?.lastHeardMs ?? -Infinity;
  }

  get writableNeedDrain(): boolean {
    return false; // the writer queues what the window allows; the client's window bounds it
  }

  get maxRecordBytes(): number {
    return this.#maxRecordBytes;
  }

  get maxInFlightMessages(): number {
    return Infinity; // the client's own maxInFlightMessages; the writer pipelines nats.maxInFlight of them
  }

  async #start(): Promise<void> {
    const o = this.#o;
    const stream = o.stream as string;
    const subject = o.subject as string;
    try {
      const [{ NatsLink: Nats }, { ExactlyOnceWriter: Writer }, { PublishSlots }, { ensureStream }] = await Promise.all(
        [
          import("../../../jetstream/nats-link.js"),
          import("../../../jetstream/exactly-once-writer.js"),
          import("../../../jetstream/publish-slots.js"),
          import("../../../jetstream/stream-setup.js"),
        ],
      );
      if (this.#closed) return;
      const n = o.nats;
      const tls = natsTls(o.tls);
      const link = await Nats.open(
        {
          servers: [
            `nats://${this.#endpoint.host.includes(":") ? `[${this.#endpoint.host}]` : this.#endpoint.host}:${this.#endpoint.port}`,
          ],
          connectTimeoutMs: o.connectTimeoutMs,
          requestTimeoutMs: n.publishTimeoutMs,
          apiTimeoutMs: Math.min(n.publishTimeoutMs, API_TIMEOUT_MS),
          reconnect: false,
          name: `outlast ${this.#clientId}`,
          ...(n.user === undefined ? {} : { user: n.user }),
          ...(n.pass === undefined ? {} : { pass: n.pass }),
          ...(n.token === undefined ? {} : { token: n.token }),
          ...(n.credsFile === undefined ? {} : { credsFile: n.credsFile }),
          ...(tls === undefined ? {} : { tls }),
        },
        stream,
      );
      if (this.#closed) {
        await link.close();
        return;
      }
      this.#link = link;
      void link.nc.closed().then((err) =>
        this.#end(
          err instanceof Error
            ? err
            : new OutlastError("OUTLAST_CONNECTION_CLOSED", `the NATS connection to ${this.#endpoint.href} closed`, {
                details: { link: this.#endpoint.href },
              }),
        ),
      );
      link.onStatus((status) => {
        if (status === "disconnect")
          this.#end(
            new OutlastError("OUTLAST_CONNECTION_CLOSED", `lost the NATS connection to ${this.#endpoint.href}`, {
              details: { link: this.#endpoint.href },
            }),
          );
      });
      await ensureStream(link.jsm, {
        stream,
        subjectPrefix: undefined,
        subject,
        replicas: 1,
        duplicateWindowMs: 0,
        create: false,
      });
      const writer = new Writer(
        this.#clientId,
        subject,
        {
          link,
          maxInFlight: n.maxInFlight,
          slots: new PublishSlots(n.maxInFlight),
          natsError: (error, failure) => debug("nats:// %s: %s (%s)", this.#clientId, String(error), failure.kind),
          retryDelayMs: (attempt) => o.random() * Math.min(2000, 100 * 2 ** attempt),
          setTimeout: (fn, ms) => o.clock.setTimeout(fn, ms),
          now: () => o.clock.now(),
        },
        { published: 0, acknowledged: 0, recoveries: 0 },
      );
      this.#writer = writer;
      const mark = await writer.readMark();
      if (this.#closed) return;
      const maxPayload = link.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
      this.#maxRecordBytes = Math.max(1, maxPayload - HEADER_ROOM_BYTES);
      if (this.#connectTimer !== undefined) o.clock.clearTimeout(this.#connectTimer);
      this.#connectTimer = undefined;
      const heartbeat = new Heartbeat({
        clock: o.clock,
        intervalMs: o.heartbeatIntervalMs,
        timeoutMs: o.heartbeatTimeoutMs,
        random: o.random,
        ping: () => {
          link.nc.flush().then(
            () => heartbeat.heard(),
            () => {},
          );
        },
        onTimeout: (err) => this.#end(err),
      });
      this.#heartbeat = heartbeat;
      this.#isOpen = true;
      this.#events.onOpen(mark.seq);
    } catch (err) {
      this.#end(this.#judged(err));
    }
  }

  writeRecords(records: readonly OutboxRecord[], _maybeSentUpToSeq: number): boolean {
    const writer = this.#writer;
    if (writer === undefined || this.#closed) return true;
    // Every record carries its msg id (clientId:seq) anyway: a resend needs no flag.
    // The writer resolves calls in seq order, so the acks below arrive in order.
    for (let i = 0; i < records.length; i += ACK_CHUNK) {
      const chunk = records.length <= ACK_CHUNK ? records : records.slice(i, i + ACK_CHUNK);
      const last = chunk[chunk.length - 1] as OutboxRecord;
      writer.write(chunk).then(
        () => {
          if (this.#closed) return;
          this.#heartbeat?.heard();
          this.#events.onAck(last.seq, 0);
        },
        (err: unknown) => this.#end(this.#judged(err)),
      );
    }
    return true;
  }

  /** A refusal for our credentials or permissions is OUTLAST_AUTH_REJECTED (the client reports it; not a connection error). */
  #judged(err: unknown): Error {
    const error = err instanceof Error ? err : new Error(String(err));
    const verdict = classify(error);
    if (verdict.code === "NATS_AUTHORIZATION" || verdict.code === "NATS_PERMISSION")
      return new OutlastError("OUTLAST_AUTH_REJECTED", `NATS at ${this.#endpoint.href} refused us: ${error.message}`, {
        cause: error,
        details: { requestedClientId: this.#clientId },
      });
    return error;
  }

  sayGoodbye(): void {
    if (this.#closed) return;
    this.#isOpen = false;
    const link = this.#link;
    if (link === undefined) {
      this.#end(undefined);
      return;
    }
    void link.close().then(() => this.#end(undefined, true));
  }

  destroy(err?: Error): void {
    this.#end(err);
  }

  #end(err: Error | undefined, goodbye = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#isOpen = false;
    if (this.#connectTimer !== undefined) this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#heartbeat?.stop();
    this.#writer?.close();
    void this.#link?.close();
    queueMicrotask(() => this.#events.onClose(err, goodbye));
  }
}

/** The client's node:tls options (ca, cert, key as PEM) as nats.js takes them; undefined without any. */
function natsTls(tls: ResolvedOptions["tls"]): { ca?: string; cert?: string; key?: string } | undefined {
  const pem = (v: unknown): string | undefined =>
    typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;
  const ca = pem(tls.ca);
  const cert = pem(tls.cert);
  const key = pem(tls.key);
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}
