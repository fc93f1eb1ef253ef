/**
 * The reconnecting client: `connect(url, options)` returns it at once and it
 * connects in the background. This file is the policy (state machine,
 * backoff, error reporting, close/destroy); delivery.ts moves the messages,
 * a transport (transport/transport.ts, chosen by the URL's scheme) runs one link.
 */

import dc from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { debuglog } from "node:util";
import { backoffDelayMs } from "../errors/backoff.js";
import type { Classification } from "../errors/classification.js";
import { classify } from "../errors/classify.js";
import { isOutlastError, OutlastError } from "../errors/outlast-error.js";
import type { DropReason } from "../outbox/outbox.js";
import type { SendOptions, SendResult } from "./delivery.js";
import { Delivery } from "./delivery.js";
import type { ConnectOptions, ResolvedOptions } from "./options.js";
import { resolveOptions } from "./options.js";
import type { State, StateName } from "./state-machine.js";
import { connectionOf, StateMachine } from "./state-machine.js";
import type { ClientStats } from "./stats.js";
import { StatsCounters } from "./stats.js";
import { passOf, ServerList } from "./server-list.js";
import { transportFor } from "./transport/registry.js";
import type { Link, Transport } from "./transport/transport.js";
import type { ServerAddresses } from "./url.js";
import { parseEndpoints } from "./url.js";

const debug = debuglog("outlast");
const channels = {
  stateChange: dc.channel("outlast:client:stateChange"),
  connect: dc.channel("outlast:client:connect"),
  connectionLost: dc.channel("outlast:client:connectionLost"),
  error: dc.channel("outlast:client:error"),
  dropped: dc.channel("outlast:client:dropped"),
};

/** Default for close({ timeoutMs }). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export interface StateChangeEvent {
  readonly from: StateName;
  readonly to: StateName;
  /** Why the link was lost or the attempt failed, when an error did it. */
  readonly classification: Classification | undefined;
  /** The error itself, when there was one. */
  readonly error: Error | undefined;
  /** For `waiting`: the delay before the next attempt (ms). */
  readonly delayMs?: number;
}

export interface RecoveredEvent {
  /** Messages found in the outbox when it opened. */
  readonly messages: number;
  readonly bytes: number;
}

export interface DeliveredEvent {
  readonly seq: number;
  /** Write-to-acknowledgement time of this message (ms). */
  readonly latencyMs: number;
}

export interface DroppedEvent {
  readonly seq: number;
  readonly reason: DropReason;
}

/** The client's events and their arguments: `client.on("stateChange", (e) => ...)` is typed. */
export interface ClientEvents {
  stateChange: [event: StateChangeEvent];
  delivered: [event: DeliveredEvent];
  dropped: [event: DroppedEvent];
  /** The outbox opened holding messages stored by an earlier run (a durable outbox after a restart): they are delivered first. */
  recovered: [event: RecoveredEvent];
  /** Non-connection problems only (certificate, rejected credentials, protocol version, a failed outbox). */
  error: [error: Error];
  closed: [];
}

export class Client extends EventEmitter<ClientEvents> {
  readonly #o: ResolvedOptions;
  readonly #servers: ServerList;
  readonly #sm: StateMachine;
  readonly #stats = new StatsCounters();
  readonly #delivery: Delivery;
  readonly #transport: Transport;
  #clientId: string;
  /** Code of the non-connection error already emitted in this streak of failures. */
  #reportedCode: string | undefined;
  #closePromise: Promise<void> | undefined;
  #destroyPromise: Promise<void> | undefined;
  /** The error that stopped the outbox for good (reported once; the client is destroyed with it). */
  #outboxFailure: Error | undefined;

  /** `url`: one server, a comma-separated string of several, or a list (tried in a shuffled order, round robin). */
  constructor(url: ServerAddresses, options?: ConnectOptions) {
    super();
    const endpoints = parseEndpoints(url);
    this.#o = resolveOptions(options);
    this.#transport = transportFor((endpoints[0] as (typeof endpoints)[number]).transport);
    this.#transport.checkOptions(this.#o);
    this.#servers = new ServerList(endpoints, this.#o.random);
    this.#clientId = this.#o.clientId;
    this.#sm = new StateMachine({ name: "connecting", attempt: 0, connection: undefined });
    this.#delivery = new Delivery(this.#o, this.#stats, {
      dropped: (seq, reason) => {
        if (channels.dropped.hasSubscribers) channels.dropped.publish({ client: this, seq, reason });
        this.emit("dropped", { seq, reason } satisfies DroppedEvent);
      },
      wantsDelivered: () => this.listenerCount("delivered") > 0,
      delivered: (seq, latencyMs) => this.emit("delivered", { seq, latencyMs } satisfies DeliveredEvent),
      storeFailed: (err) => {
        if (err !== this.#outboxFailure) this.#report(err); // a fatal outbox failure is reported once, by onFailure
      },
    });
    this.#o.outbox.onFailure?.((err) => this.#onOutboxFailure(err));
    this.#o.outbox.open(this.#clientId).then(
      (clientId) => {
        if (this.#sm.state.name === "closed") return;
        this.#clientId = clientId;
        const recovered = this.#o.outbox.count;
        this.#stats.recovered = recovered;
        this.#delivery.ready();
        if (recovered > 0) this.emit("recovered", { messages: recovered, bytes: this.#o.outbox.bytes });
        if (this.#sm.state.name === "connecting") this.#startConnection(this.#sm.state.attempt, false);
      },
      (err: unknown) => {
        this.#report(err);
        void this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** connecting | open | waiting | closing | closed */
  get state(): StateName {
    return this.#sm.state.name;
  }

  /** The URL of the server this client is connected (or connecting) to; undefined while it waits to retry or is closed. */
  get serverUrl(): string | undefined {
    return connectionOf(this.#sm.state) === undefined ? undefined : this.#servers.current?.endpoint.href;
  }

  /** The clientId in use (a durable outbox's persisted one wins over the option). */
  get clientId(): string {
    return this.#clientId;
  }

  send(data: Uint8Array | string, options?: SendOptions): Promise<SendResult> {
    return this.#delivery.send(data, options);
  }

  /** Resolves when everything sent so far is acknowledged (or dropped); rejects OUTLAST_TIMEOUT after `timeoutMs`. */
  flush(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#sm.state.name === "closed") return Promise.resolve();
    return this.#delivery.flush(options.timeoutMs);
  }

  /** Stops accepting, waits (up to timeoutMs, default 10 s) for acknowledgements, says GOODBYE, closes. Idempotent. */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    if (this.#destroyPromise !== undefined) return this.#destroyPromise;
    const timeoutMs = options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.#delivery.stopAccepting(closedError());
    this.#closePromise = this.#delivery
      .flush(timeoutMs)
      .catch((err: unknown) => debug("close: %s", (err as Error).message))
      .then(() => this.#finishClose());
    return this.#closePromise;
  }

  /** Stops at once: the socket is destroyed, unfinished sends reject with `err` (default OUTLAST_CLOSED). Idempotent. */
  destroy(err?: Error): Promise<void> {
    if (this.#destroyPromise !== undefined) return this.#destroyPromise;
    const reason = err ?? closedError();
    this.#delivery.failAll(reason);
    const state = this.#sm.state;
    if (state.name === "waiting") this.#o.clock.clearTimeout(state.timer);
    connectionOf(state)?.destroy();
    if (state.name !== "closed") this.#move({ name: "closed", error: err }, undefined, err);
    this.#destroyPromise = this.#o.outbox.close().catch((e: unknown) => debug("outbox close: %s", String(e)));
    return this.#destroyPromise;
  }

  stats(): ClientStats {
    const s = this.#stats;
    const [p50, p99] = s.percentiles();
    const oldest = this.#delivery.oldestCreatedAtMs();
    return {
      queuedMessages: this.#delivery.queuedMessages,
      queuedBytes: this.#delivery.queuedBytes,
      oldestQueuedAgeMs: oldest === undefined ? 0 : Math.max(0, (this.#o.clock.wallNow?.() ?? Date.now()) - oldest),
      waitingSends: this.#delivery.waitingSends,
      inFlightMessages: this.#delivery.window.count,
      inFlightBytes: this.#delivery.window.bytes,
      sent: s.sent,
      resends: s.resends,
      recovered: s.recovered,
      acknowledged: s.acknowledged,
      duplicatesSkipped: s.duplicatesSkipped,
      drops: { ...s.drops },
      reconnects: { ...s.reconnects },
      ackLatencyP50Ms: p50,
      ackLatencyP99Ms: p99,
    };
  }

  // ---- the link ----

  #startConnection(attempt: number, move: boolean): void {
    const { endpoint } = this.#servers.next();
    if (channels.connect.hasSubscribers) channels.connect.publish({ client: this, attempt, url: endpoint.href });
    const connection: Link = this.#transport.open(endpoint, this.#clientId, this.#o, {
      onOpen: (lastSeq) => this.#onOpen(connection, lastSeq),
      onAck: (seq, duplicates) => this.#delivery.ack(seq, duplicates),
      onDrain: () => this.#delivery.drained(),
      onClose: (err, goodbye) => this.#onClose(connection, err, goodbye),
    });
    const next: State = { name: "connecting", attempt, connection };
    if (move) this.#move(next, undefined, undefined);
    else this.#sm.update(next);
  }

  #onOpen(connection: Link, lastSeq: number): void {
    const state = this.#sm.state;
    if (state.name !== "connecting" || state.connection !== connection) return;
    this.#reportedCode = undefined;
    this.#delivery.attach(connection);
    this.#move(
      { name: "open", attempt: state.attempt, connection, sinceMs: this.#o.clock.now() },
      undefined,
      undefined,
    );
    this.#delivery.welcome(lastSeq).catch((err: unknown) => {
      this.#report(err);
      connection.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  }

  #onClose(connection: Link, err: Error | undefined, goodbye: boolean): void {
    const state = this.#sm.state;
    if (connectionOf(state) !== connection) return;
    this.#delivery.detach();
    if (state.name === "closing") {
      this.#move({ name: "closed", error: undefined }, undefined, undefined);
      return;
    }
    if (state.name !== "connecting" && state.name !== "open") return;

    const classification = err === undefined ? undefined : classify(err);
    const kind = classification?.kind ?? (goodbye ? "goodbye" : "closed");
    this.#stats.countReconnect(kind);
    if (channels.connectionLost.hasSubscribers) {
      channels.connectionLost.publish({ client: this, error: err, classification, goodbye, state: state.name });
    }
    debug("link %s lost: %s", state.name, err?.message ?? (goodbye ? "server said GOODBYE" : "server closed"));

    const delayMs = this.#retryDelayMs(state, connection, err, classification);
    const attempt = this.#attemptAfter(state, connection) + 1;
    const timer = this.#o.clock.setTimeout(() => this.#retry(), delayMs);
    this.#move(
      { name: "waiting", attempt, untilMs: this.#o.clock.now() + delayMs, timer, classification },
      classification,
      err,
      delayMs,
    );
  }

  /** Failures in a row before this one: reset when the lost link had stayed open for backoff.resetAfterMs. */
  #attemptAfter(state: State & { name: "connecting" | "open" }, connection: Link): number {
    const healthy = state.name === "open" && connection.lastHeardMs - state.sinceMs >= this.#o.backoff.resetAfterMs;
    return healthy ? 0 : state.attempt;
  }

  /**
   * How long to wait before the next attempt, which goes to the next server of
   * the list: full jitter over the passes made (`passOf`), at least what a busy
   * next server asked for (its retryAfterMs), and at the cap after a failure a
   * person must fix.
   */
  #retryDelayMs(
    state: State & { name: "connecting" | "open" },
    connection: Link,
    err: Error | undefined,
    classification: Classification | undefined,
  ): number {
    const { baseMs, capMs } = this.#o.backoff;
    const now = this.#o.clock.now();
    const retryAfterMs = isOutlastError(err) && "retryAfterMs" in err.details ? err.details.retryAfterMs : 0;
    const current = this.#servers.current;
    if (retryAfterMs > 0 && current !== undefined) current.notBeforeMs = now + Math.min(retryAfterMs, 2 ** 31 - 1);
    if (classification !== undefined && !classification.connection) {
      // Certificate, credentials, protocol version, a peer's bug: a person must act.
      // Keep the messages, report once per streak, retry at the cap (never a hot loop).
      if (err !== undefined) this.#reportOnce(err);
      return capMs / 2 + (this.#o.random() * capMs) / 2;
    }
    const pass = passOf(this.#attemptAfter(state, connection), this.#servers.size);
    const delayMs = backoffDelayMs(pass, { baseMs, capMs, random: this.#o.random });
    return Math.max(delayMs, this.#servers.peekNext().notBeforeMs - now);
  }

  #retry(): void {
    const state = this.#sm.state;
    if (state.name !== "waiting") return;
    this.#startConnection(state.attempt, true);
  }

  #reportOnce(err: Error): void {
    const code = classify(err).code;
    if (this.#reportedCode === code) return;
    this.#reportedCode = code;
    this.#report(err);
  }

  /** `error` is for problems a person must fix; with no listener it goes to debuglog and the diagnostics channel, never a crash. */
  #report(err: unknown): void {
    if (channels.error.hasSubscribers) channels.error.publish({ client: this, error: err });
    if (this.listenerCount("error") > 0)
      this.emit("error", err instanceof Error ? err : new Error(String(err), { cause: err }));
    else debug("error (no listener): %s", err instanceof Error ? err.message : String(err));
  }

  /** The outbox stopped for good (e.g. a failed fdatasync): nothing more can be stored or acknowledged durably. */
  #onOutboxFailure(err: Error): void {
    if (this.#outboxFailure !== undefined || this.#destroyPromise !== undefined) return;
    this.#outboxFailure = err;
    this.#report(err);
    void this.destroy(err); // rejects pending sends, acknowledgement waiters and flush() with err
  }

  #finishClose(): Promise<void> {
    if (this.#destroyPromise !== undefined) return this.#destroyPromise;
    const state = this.#sm.state;
    const connection = connectionOf(state);
    let closed: Promise<void> = Promise.resolve();
    if (state.name === "open" && connection !== undefined) {
      closed = new Promise<void>((resolve) => this.once("closed", resolve));
      this.#move({ name: "closing", connection }, undefined, undefined);
      connection.sayGoodbye();
    } else if (state.name === "connecting" || state.name === "waiting") {
      if (state.name === "waiting") this.#o.clock.clearTimeout(state.timer);
      this.#move({ name: "closing", connection: undefined }, undefined, undefined);
      connection?.destroy();
      this.#move({ name: "closed", error: undefined }, undefined, undefined);
    }
    return closed.then(() => {
      this.#delivery.failAll(closedError());
      return this.#o.outbox.close().catch((e: unknown) => debug("outbox close: %s", String(e)));
    });
  }

  #move(next: State, classification: Classification | undefined, error: Error | undefined, delayMs?: number): void {
    const from = this.#sm.move(next);
    const event: StateChangeEvent = {
      from: from.name,
      to: next.name,
      classification,
      error,
      ...(delayMs === undefined ? {} : { delayMs }),
    };
    if (channels.stateChange.hasSubscribers) channels.stateChange.publish({ client: this, ...event });
    this.emit("stateChange", event);
    if (next.name === "closed") this.emit("closed");
  }
}

function closedError(): OutlastError {
  return new OutlastError("OUTLAST_CLOSED", "the client is closed; create a new one with connect()");
}

/**
 * Returns a client at once; it connects in the background and reconnects until closed.
 * `url` is one server (`tcp://host:port`, `tls://host:port`) or several (an array, or
 * one comma-separated string): tried in a shuffled order, moving to the next when one fails.
 */
export function connect(url: ServerAddresses, options?: ConnectOptions): Client {
  return new Client(url, options);
}
