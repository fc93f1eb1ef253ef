/**
 * The server's DedupState kept in a JetStream stream (docs/scale-out.md): what a gateway
 * knows of a client is the mark of its subject, read through the stream leader, and the
 * server's batch handler (`store`) is the exactly-once write into that subject. So a
 * gateway is an ordinary outlast server (src/server: connections, handshake, registry,
 * acknowledgements) whose state is the stream.
 *
 * - `open()`: connects to NATS (OUTLAST_NATS_UNAVAILABLE naming the URLs), creates or
 *   checks the stream (OUTLAST_STREAM_UNSAFE naming the setting).
 * - `load(id)`: the client's mark. It is `shared`: the server asks again whenever a known
 *   client connects again, so WELCOME always reports the stream's own mark. A stream that
 *   does not answer turns the client away with OUTLAST_SERVER_BUSY (retry in 1 s); one that
 *   refuses (permission) with OUTLAST_SERVER_BUSY and a 30 s hint, loudly on the gateway.
 * - `store(batch)`: the batch handler; resolves once every message has its PubAck.
 * - `record`/`commit`: a handler's success is already in the stream, so a record is
 *   durable at once (the commit listener is called inside commit(), as in memory).
 */

import { backoffCeilingMs } from "../errors/backoff.js";
import type { Clock } from "../errors/clock.js";
import { OutlastError } from "../errors/outlast-error.js";
import type { ExactlyOnceWriter } from "../jetstream/exactly-once-writer.js";
import { ExactlyOnceWriter as Writer } from "../jetstream/exactly-once-writer.js";
import { PublishSlots } from "../jetstream/publish-slots.js";
import type { WriterStats } from "../jetstream/writer-hooks.js";
import type { LinkStatus } from "../jetstream/nats-link.js";
import { NatsLink } from "../jetstream/nats-link.js";
import type { NatsFailure } from "../jetstream/nats-rules.js";
import { natsFailure } from "../jetstream/nats-rules.js";
import type { ClientProgress, ClientSeqs, CommitListener, DedupState, FatalListener } from "../server/dedup-state.js";
import { NO_DOUBT, NO_PROGRESS } from "../server/dedup-state.js";
import { MemoryDedupState } from "../server/memory-dedup-state.js";
import type { IncomingMessage } from "../server/options.js";
import type { ResolvedForward } from "./options.js";
import type { StreamSetup } from "../jetstream/stream-setup.js";
import { ensureStream } from "../jetstream/stream-setup.js";
import { clientSubject } from "../jetstream/subject.js";

/** Retry hints for a client turned away: the stream does not answer / refuses (a person must act). */
const UNAVAILABLE_RETRY_MS = 1000;
const REFUSED_RETRY_MS = 30_000;

export interface JetStreamStateHooks {
  readonly clock: Clock;
  natsError(error: unknown, failure: NatsFailure, clientId: string | undefined): void;
  natsStatus(status: LinkStatus, server: string): void;
}

export class JetStreamDedupState implements DedupState {
  readonly shared = true;
  readonly #forward: ResolvedForward;
  readonly #hooks: JetStreamStateHooks;
  readonly #writers = new Map<string, ExactlyOnceWriter>();
  readonly #slots: PublishSlots;
  readonly stats: WriterStats = { published: 0, acknowledged: 0, recoveries: 0 };
  #link: NatsLink | undefined;
  #setup: StreamSetup | undefined;
  /** The records: a handler's success is already in the stream, so they are durable at once, as in memory. */
  readonly #records = new MemoryDedupState();
  #closed = false;
  #opening = true;

  constructor(forward: ResolvedForward, hooks: JetStreamStateHooks) {
    this.#forward = forward;
    this.#hooks = hooks;
    this.#slots = new PublishSlots(forward.maxInFlight);
  }

  /** The stream's settings as found or created by open(). */
  get setup(): StreamSetup | undefined {
    return this.#setup;
  }

  get natsConnected(): boolean {
    return this.#link?.connected ?? false;
  }

  /** clientIds with a writer. */
  get clients(): number {
    return this.#writers.size;
  }

  /** Highest seq of `clientId` known stored (0 when unknown). */
  storedSeq(clientId: string): number {
    return this.#writers.get(clientId)?.storedSeq ?? 0;
  }

  async open(): Promise<void> {
    const f = this.#forward;
    const link = await NatsLink.open(
      {
        servers: f.servers,
        connectTimeoutMs: f.connectTimeoutMs,
        requestTimeoutMs: f.publishTimeoutMs,
        name: f.name ?? "outlast-gateway",
        ...(f.user === undefined ? {} : { user: f.user }),
        ...(f.pass === undefined ? {} : { pass: f.pass }),
        ...(f.token === undefined ? {} : { token: f.token }),
        ...(f.credsFile === undefined ? {} : { credsFile: f.credsFile }),
        ...(f.tls === undefined ? {} : { tls: f.tls }),
      },
      f.stream,
    );
    this.#link = link;
    try {
      this.#setup = await this.#ensureStream(link);
    } catch (err) {
      await link.close();
      throw err;
    }
    this.#opening = false;
    link.onStatus((status, server) => this.#onStatus(status, server));
  }

  /** The stream lookup, retried while JetStream elects its leaders (a cluster just started). */
  async #ensureStream(link: NatsLink): Promise<StreamSetup> {
    const f = this.#forward;
    const clock = this.#hooks.clock;
    const requirements = {
      stream: f.stream,
      subjectPrefix: f.subjectPrefix,
      replicas: f.replicas,
      minReplicas: f.minReplicas,
      duplicateWindowMs: f.duplicateWindowMs,
      create: f.createStream,
    };
    const deadline = clock.now() + Math.max(15_000, 4 * f.publishTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      try {
        return await ensureStream(link.jsm, requirements);
      } catch (err) {
        const unavailable = (err as { code?: unknown }).code === "OUTLAST_NATS_UNAVAILABLE";
        if (!unavailable || clock.now() >= deadline || this.#closed) throw err;
        await new Promise<void>((resolve) => clock.setTimeout(resolve, backoffCeilingMs(attempt, 100, 1000)));
      }
    }
  }

  #onStatus(status: LinkStatus, server: string): void {
    for (const w of this.#writers.values()) {
      if (status === "disconnect") w.linkLost();
      else w.pump();
    }
    this.#hooks.natsStatus(status, server);
  }

  #writer(clientId: string): ExactlyOnceWriter {
    let w = this.#writers.get(clientId);
    if (w === undefined) {
      const link = this.#link;
      const setup = this.#setup;
      if (link === undefined || setup === undefined || this.#opening)
        throw new OutlastError("OUTLAST_CLOSED", "the JetStream state is not open");
      const clock = this.#hooks.clock;
      w = new Writer(
        clientId,
        clientSubject(setup.subjectPrefix, clientId),
        {
          link,
          maxInFlight: this.#forward.maxInFlightPerClient,
          slots: this.#slots,
          natsError: (error, failure, id) => this.#hooks.natsError(error, failure, id),
          retryDelayMs: (attempt) => Math.random() * backoffCeilingMs(attempt, 100, 2000),
          setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
          now: () => clock.now(),
        },
        this.stats,
      );
      this.#writers.set(clientId, w);
    }
    return w;
  }

  async load(clientId: string): Promise<ClientSeqs> {
    const stream = this.#forward.stream;
    try {
      const mark = await this.#writer(clientId).readMark();
      return { lastSeq: mark.seq, inDoubt: NO_DOUBT };
    } catch (err) {
      if ((err as { code?: unknown }).code === "OUTLAST_CLOSED") throw err;
      const failure = natsFailure(err);
      const text = err instanceof Error ? err.message : String(err);
      if (failure.kind === "fatal")
        throw new OutlastError(
          "OUTLAST_SERVER_BUSY",
          `stream ${stream} refused to give this client's mark (${failure.reason}); NATS or the stream must be fixed, retry later`,
          { cause: err, details: { stream, retryAfterMs: REFUSED_RETRY_MS } },
        );
      throw new OutlastError(
        "OUTLAST_SERVER_BUSY",
        `stream ${stream} unavailable (${failure.kind === "transient" ? failure.reason : text}); retry later`,
        { cause: err, details: { stream, retryAfterMs: UNAVAILABLE_RETRY_MS } },
      );
    }
  }

  /** The batch handler: resolves once every message of the batch is in the stream. */
  store(batch: readonly IncomingMessage[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return Promise.resolve();
    return this.#writer(first.clientId).write(batch);
  }

  progress(_clientId: string): ClientProgress {
    return NO_PROGRESS; // a handler call is a publish: the stream itself says what landed
  }

  record(clientId: string, seq: number): void {
    if (!this.#closed) this.#records.record(clientId, seq);
  }

  commit(): void {
    this.#records.commit();
  }

  setListeners(onCommit: CommitListener, onFatal: FatalListener): void {
    // No fatal failure of its own: a lost NATS connection is waited out, never fatal.
    this.#records.setListeners(onCommit, onFatal);
  }

  flush(): Promise<void> {
    return this.#records.flush();
  }

  /** From now on a write that cannot go on (NATS unavailable) fails with `err` instead of waiting (closing). */
  giveUp(err: Error): void {
    for (const w of this.#writers.values()) w.giveUp(err);
  }

  async close(graceful: boolean): Promise<void> {
    if (this.#closed) return;
    await this.#records.close(graceful);
    this.#closed = true;
    for (const w of this.#writers.values()) w.close();
    await this.#link?.close();
  }
}
