/**
 * The handler pipeline over each clientId's state (client-state.ts): duplicate check,
 * serialized handler calls (one at a time per clientId, across connections), recording
 * success, and when a client is settled (WELCOME and drains wait for it). What a failed
 * call leads to is handler-failures.ts (the poison policy); the coalesced ACKs are
 * ack-coalescer.ts.
 *
 * Hot path: a synchronous handler costs one call and one object (the message);
 * no promise, no timer per message.
 * The "handler started" marks belong to the state (DedupState.progress): this file
 * only says when a call starts, succeeds, and when none follows at once.
 *
 * With the batch handler (`onMessages`), every MESSAGE is queued, and a client's queue
 * is handed over whole when its handler is free: at the end of the socket read that
 * filled it, or when the previous call finishes. A failed batch is not acknowledged;
 * after it, its seqs are handed over one per call until past it, so the poison policy
 * (attempts, dead letter) finds the one message that fails.
 */

import { backoffCeilingMs } from "../errors/backoff.js";
import { isOutlastError } from "../errors/outlast-error.js";
import { AckCoalescer } from "./ack-coalescer.js";
import type { ClientConnection, Queued } from "./client-state.js";
import { ClientState } from "./client-state.js";
import type { DedupState } from "./dedup-state.js";
import { acknowledgedChannel } from "./diagnostics.js";
import type { FailureHooks } from "./handler-failures.js";
import { HandlerFailures } from "./handler-failures.js";
import { UNTIMED, callStarted, callSucceeded } from "./handler-timing.js";
import type { BatchHandler, IncomingMessage, MessageHandler } from "./options.js";

export type { HandlerFailure } from "./handler-failures.js";

export interface RegistryHooks extends FailureHooks {
  /** Exactly one of onMessage / onMessages. */
  readonly onMessage: MessageHandler | undefined;
  readonly onMessages: BatchHandler | undefined;
}

export interface RegistryStats {
  messagesProcessed: number;
  duplicatesSkipped: number;
  handlerFailures: number;
  deadLettered: number;
}

/** Pause reading a connection whose client has this much queued behind a slow async handler. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const MAX_QUEUED_MESSAGES = 16_384;
/** retryAfterMs after a handler failure: 100 ms, doubling per attempt of the same message, up to 30 s. */
const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 30_000;

/** The seq may have been handed to a handler before: by a server that died, or by a call that failed. */
function isRedelivery(client: ClientState, seq: number): boolean {
  return (
    (seq >= client.doubtFromSeq && seq <= client.doubtToSeq) || (seq >= client.failedSeq && seq <= client.failedToSeq)
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as { then?: unknown }).then === "function";
}

export class ClientRegistry {
  readonly #clients = new Map<string, ClientState>();
  readonly #state: DedupState;
  readonly #onMessage: MessageHandler;
  readonly #onMessages: BatchHandler | undefined;
  readonly #acks: AckCoalescer;
  readonly #failures: HandlerFailures;
  readonly stats: RegistryStats = { messagesProcessed: 0, duplicatesSkipped: 0, handlerFailures: 0, deadLettered: 0 };

  constructor(state: DedupState, hooks: RegistryHooks) {
    this.#state = state;
    this.#onMessages = hooks.onMessages;
    this.#onMessage = hooks.onMessage ?? (() => {});
    this.#acks = new AckCoalescer(state);
    this.#failures = new HandlerFailures(
      hooks,
      {
        succeeded: (client, seq) => this.#succeeded(client, seq),
        giveBack: (client, conn, attempt, err) => this.#giveBack(client, conn, attempt, err),
        drain: (client) => this.#drain(client),
      },
      this.stats,
    );
  }

  get size(): number {
    return this.#clients.size;
  }

  get(clientId: string): ClientState {
    let client = this.#clients.get(clientId);
    if (client === undefined) {
      client = new ClientState(clientId);
      this.#clients.set(clientId, client);
      this.#load(client);
    }
    return client;
  }

  /** Asks the state what it knows of the client; a remote state answers later (WELCOME waits: not settled). */
  #load(client: ClientState): void {
    const seqs = this.#state.load(client.id);
    if (!isThenable(seqs)) {
      client.loaded(seqs, this.#state.progress(client.id));
      return;
    }
    seqs.then(
      (loaded) => {
        client.loaded(loaded, this.#state.progress(client.id));
        this.#checkSettled(client);
      },
      (err: unknown) => {
        // A later HELLO tries again. A coded error turns the waiting connection away (a shared store
        // unreachable); anything else went to the state's fatal listener (the server stops).
        if (this.#clients.get(client.id) === client) this.#clients.delete(client.id);
        this.#loadFailed(client, err);
      },
    );
  }

  /** A shared state is asked again when a known client connects again; then `ready`. */
  #reload(client: ClientState, conn: ClientConnection, ready: () => void): void {
    client.loading = true;
    Promise.resolve(this.#state.load(client.id)).then(
      (seqs) => {
        client.reloaded(seqs);
        if (client.connection === conn) ready();
        this.#checkSettled(client);
      },
      (err: unknown) => {
        client.loading = false;
        this.#loadFailed(client, err);
        this.#checkSettled(client);
      },
    );
  }

  #loadFailed(client: ClientState, err: unknown): void {
    if (!isOutlastError(err)) return;
    const details = err.details as { retryAfterMs?: unknown };
    const retryAfterMs = typeof details.retryAfterMs === "number" ? details.retryAfterMs : 1000;
    client.connection?.turnAway(err, retryAfterMs);
  }

  /**
   * Makes `conn` the client's connection. The previous one stops being served at once
   * (its queued messages are dropped: the client resends them); `ready` runs once the
   * client is settled (its in-flight handler finished and its successes are durable),
   * so WELCOME reports an exact lastSeq. `ready` is skipped if `conn` was replaced meanwhile.
   */
  attach(
    client: ClientState,
    conn: ClientConnection,
    previous: (old: ClientConnection) => void,
    ready: () => void,
  ): void {
    const old = client.connection;
    client.connection = conn;
    this.#dropQueue(client);
    if (old !== undefined && old !== conn) previous(old);
    const reload = this.#state.shared === true && client.attachedBefore;
    client.attachedBefore = true;
    this.whenSettled(client, () => {
      if (client.connection !== conn) return;
      if (reload) this.#reload(client, conn, ready);
      else ready();
    });
  }

  /** The connection is gone or closing: stop serving it. Its in-flight handler call finishes on its own. */
  detach(client: ClientState, conn: ClientConnection): void {
    if (client.connection !== conn) return;
    client.connection = undefined;
    this.#dropQueue(client);
  }

  /** Runs `fn` once the client is settled (at once when it is). */
  whenSettled(client: ClientState, fn: () => void): void {
    if (client.settled) {
      fn();
      return;
    }
    (client.settledWaiters ??= []).push(fn);
    if (client.durableSeq < client.handledSeq) this.#acks.markDirty(client);
  }

  #checkSettled(client: ClientState): void {
    const waiters = client.settledWaiters;
    if (waiters === undefined || !client.settled) return;
    client.settledWaiters = undefined;
    for (const w of waiters) w();
  }

  #dropQueue(client: ClientState): void {
    client.queue = undefined;
    client.queueHead = 0;
    client.queuedBytes = 0;
    if (client.paused) {
      client.paused = false;
      client.connection?.resume();
    }
    this.#checkSettled(client);
  }

  /** A MESSAGE arrived on `conn`, the client's current connection. */
  message(client: ClientState, conn: ClientConnection, seq: number, data: Uint8Array): void {
    if (seq <= client.handledSeq) {
      conn.duplicates++;
      this.stats.duplicatesSkipped++;
      this.#acks.markDirty(client);
      return;
    }
    if (this.#onMessages !== undefined || client.busy || client.queued > 0) {
      (client.queue ??= []).push({ seq, data });
      client.queuedBytes += data.length;
      if (!client.paused && (client.queuedBytes > MAX_QUEUED_BYTES || client.queued > MAX_QUEUED_MESSAGES)) {
        client.paused = true;
        conn.pause();
      }
      return;
    }
    this.#run(client, conn, seq, data);
  }

  #run(client: ClientState, conn: ClientConnection, seq: number, data: Uint8Array): void {
    client.progress.starting(seq);
    const message: IncomingMessage = {
      clientId: client.id,
      seq,
      data,
      redelivery: isRedelivery(client, seq),
    };
    const startedMs = callStarted(client.id, seq, seq, 1);
    let result: unknown;
    try {
      result = this.#onMessage(message);
    } catch (err) {
      this.#failures.failed(client, conn, message, err);
      return;
    }
    if (isThenable(result)) {
      client.busy = true;
      result.then(
        () => {
          client.busy = false;
          this.#succeeded(client, seq, 1, startedMs);
          this.#drain(client);
        },
        (err: unknown) => {
          client.busy = false;
          this.#failures.failed(client, conn, message, err);
          this.#drain(client);
        },
      );
      return;
    }
    this.#succeeded(client, seq, 1, startedMs);
  }

  /**
   * Batch handler: runs what one read queued (or leaves it queued behind a running call).
   * Single calls run as the MESSAGEs arrive. Either way, the marks say when no handler runs.
   */
  #runBatch(client: ClientState, conn: ClientConnection, handler: BatchHandler): void {
    // After a failed batch, one message per call until past it (the poison policy's unit is one message).
    const take = client.failedToSeq > client.handledSeq ? 1 : client.queued;
    const batch: IncomingMessage[] = [];
    for (let i = 0; i < take; i++) {
      const next = this.#dequeue(client);
      batch.push({ clientId: client.id, seq: next.seq, data: next.data, redelivery: isRedelivery(client, next.seq) });
    }
    const lastSeq = (batch[take - 1] as IncomingMessage).seq;
    client.progress.starting(lastSeq);
    const startedMs = callStarted(client.id, (batch[0] as IncomingMessage).seq, lastSeq, take);
    let result: unknown;
    try {
      result = handler(batch);
    } catch (err) {
      this.#failures.batchFailed(client, conn, batch, err);
      return;
    }
    if (isThenable(result)) {
      client.busy = true;
      result.then(
        () => {
          client.busy = false;
          this.#succeeded(client, lastSeq, take, startedMs);
          this.#drain(client);
        },
        (err: unknown) => {
          client.busy = false;
          this.#failures.batchFailed(client, conn, batch, err);
          this.#drain(client);
        },
      );
      return;
    }
    this.#succeeded(client, lastSeq, take, startedMs);
  }

  #dequeue(client: ClientState): Queued {
    const queue = client.queue as Queued[];
    const next = queue[client.queueHead] as Queued;
    queue[client.queueHead++] = undefined as unknown as Queued;
    client.queuedBytes -= next.data.length;
    if (client.queued === 0) {
      client.queue = undefined;
      client.queueHead = 0;
    }
    return next;
  }

  /** The connection finished processing one read: run what the batch handler is waiting for; else mark that no handler runs. */
  endRead(client: ClientState): void {
    if (this.#onMessages !== undefined && !client.busy && client.queued > 0) this.#drain(client);
    else if (!client.busy) client.progress.settle();
  }

  #drain(client: ClientState): void {
    const conn = client.connection;
    const batch = this.#onMessages;
    while (!client.busy && client.queued > 0 && conn !== undefined && client.connection === conn) {
      if (batch !== undefined) {
        this.#runBatch(client, conn, batch);
        continue;
      }
      const next = this.#dequeue(client);
      this.#run(client, conn, next.seq, next.data);
    }
    if (!client.busy) client.progress.settle();
    if (client.paused && client.queuedBytes <= MAX_QUEUED_BYTES / 2 && client.queued <= MAX_QUEUED_MESSAGES / 2) {
      client.paused = false;
      conn?.resume();
    }
    this.#checkSettled(client);
  }

  /** The call that ended with `seq` (holding `count` messages) succeeded. */
  #succeeded(client: ClientState, seq: number, count = 1, startedMs = UNTIMED): void {
    if (seq > client.handledSeq) client.handledSeq = seq;
    client.progress.finished(seq); // before anything else (the next handler call above all)
    callSucceeded(client.id, seq, count, startedMs);
    this.#failures.succeeded(client, seq);
    this.stats.messagesProcessed += count;
    this.#acks.markDirty(client);
  }

  /**
   * Not acknowledged: drop what is queued behind it and close the connection it came
   * from; the client resends after reconnecting. (If that connection was already
   * replaced, the new one gets WELCOME with lastSeq before the failed seq.)
   */
  #giveBack(client: ClientState, conn: ClientConnection, attempt: number, err: unknown): void {
    if (client.connection !== conn) return;
    this.#dropQueue(client);
    this.#acks.flushClient(client);
    conn.handlerFailed(err, backoffCeilingMs(attempt - 1, RETRY_BASE_MS, RETRY_CAP_MS));
  }

  /** Records every pending success and sends the coalesced ACKs at once (server close). */
  flush(): void {
    this.#acks.flushAll();
  }

  /** The state made these records durable: acknowledge them. */
  committed(committed: ReadonlyMap<string, number>): void {
    for (const [id, seq] of committed) {
      const client = this.#clients.get(id);
      if (client === undefined || seq <= client.durableSeq) continue;
      client.durableSeq = seq;
      this.#acks.ackDue(client);
      this.#checkSettled(client);
    }
    if (acknowledgedChannel.hasSubscribers) acknowledgedChannel.publish({ committed });
  }

  /** Drops every queued (not started) message: used when the server drains. */
  dropAllQueues(): void {
    for (const client of this.#clients.values()) if (client.queued > 0) this.#dropQueue(client);
  }
}
