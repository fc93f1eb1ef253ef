/**
 * The handler pipeline over each clientId's state (client-state.ts): duplicate check,
 * serialized handler calls (one at a time per clientId, across connections), the poison
 * policy, recording success in the DedupState, and coalesced acknowledgements
 * (at most one ACK per connection per event-loop turn, once the state reports the
 * successes durable).
 *
 * Hot path: a synchronous handler costs one call and one object (the message);
 * no promise, no timer per message. Acks are flushed from one setImmediate.
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
import type { ClientConnection, Queued } from "./client-state.js";
import { ClientState } from "./client-state.js";
import type { DedupState } from "./dedup-state.js";
import { acknowledgedChannel, handlerErrorChannel } from "./diagnostics.js";
import { UNTIMED, callStarted, callSucceeded } from "./handler-timing.js";
import type { BatchHandler, DeadLetterHandler, IncomingMessage, MessageHandler } from "./options.js";

export interface HandlerFailure {
  readonly clientId: string;
  /** The (first) seq of the failed call. */
  readonly seq: number;
  /** The last seq of the failed call: > seq when a batch of several messages failed. */
  readonly lastSeq: number;
  /** Failed calls in a row that started at `seq`. */
  readonly attempt: number;
}

export interface RegistryHooks {
  /** Exactly one of onMessage / onMessages. */
  readonly onMessage: MessageHandler | undefined;
  readonly onMessages: BatchHandler | undefined;
  readonly onDeadLetter: DeadLetterHandler | undefined;
  readonly maxHandlerAttempts: number;
  readonly handlerError: (error: unknown, info: HandlerFailure) => void;
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
/**
 * Clients whose ACK one event-loop turn writes at most (each costs a record and a socket write,
 * ~10-40 µs): 20,000 clients bursting at once are acknowledged over ~40 turns, not one long stall.
 */
const FLUSH_SLICE_CLIENTS = 512;

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
  readonly #hooks: RegistryHooks;
  readonly #onMessage: MessageHandler;
  readonly #onMessages: BatchHandler | undefined;
  readonly #dirty: ClientState[] = [];
  #flushScheduled = false;
  readonly stats: RegistryStats = { messagesProcessed: 0, duplicatesSkipped: 0, handlerFailures: 0, deadLettered: 0 };
  readonly #flush = (): void => this.#flushSlice(FLUSH_SLICE_CLIENTS);

  constructor(state: DedupState, hooks: RegistryHooks) {
    this.#state = state;
    this.#hooks = hooks;
    this.#onMessages = hooks.onMessages;
    this.#onMessage = hooks.onMessage ?? (() => {});
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
    client.settledWaiters.push(fn);
    if (client.durableSeq < client.handledSeq) this.#markDirty(client);
  }

  #checkSettled(client: ClientState): void {
    if (client.settledWaiters.length === 0 || !client.settled) return;
    const waiters = client.settledWaiters;
    client.settledWaiters = [];
    for (const w of waiters) w();
  }

  #dropQueue(client: ClientState): void {
    client.queue = [];
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
      this.#markDirty(client);
      return;
    }
    if (this.#onMessages !== undefined || client.busy || client.queued > 0) {
      client.queue.push({ seq, data });
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
      this.#failed(client, conn, message, err);
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
          this.#failed(client, conn, message, err);
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
      this.#batchFailed(client, conn, batch, err);
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
          this.#batchFailed(client, conn, batch, err);
          this.#drain(client);
        },
      );
      return;
    }
    this.#succeeded(client, lastSeq, take, startedMs);
  }

  #dequeue(client: ClientState): Queued {
    const next = client.queue[client.queueHead] as Queued;
    client.queue[client.queueHead++] = undefined as unknown as Queued;
    client.queuedBytes -= next.data.length;
    if (client.queued === 0) {
      client.queue = [];
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
    if (client.failedSeq !== 0 && seq >= client.failedSeq) {
      client.failedAttempts = 0;
      if (seq >= client.failedToSeq) {
        client.failedSeq = 0;
        client.failedToSeq = 0;
      }
    }
    this.stats.messagesProcessed += count;
    this.#markDirty(client);
  }

  /** A call with the messages firstSeq..lastSeq failed: count it; returns the attempt number. */
  #noteFailure(client: ClientState, firstSeq: number, lastSeq: number, err: unknown): number {
    const attempt = client.failedSeq === firstSeq ? client.failedAttempts + 1 : 1;
    client.failedSeq = firstSeq;
    client.failedToSeq = Math.max(client.failedToSeq, lastSeq);
    client.failedAttempts = attempt;
    this.stats.handlerFailures++;
    const info: HandlerFailure = { clientId: client.id, seq: firstSeq, lastSeq, attempt };
    if (handlerErrorChannel.hasSubscribers) handlerErrorChannel.publish({ error: err, ...info });
    this.#hooks.handlerError(err, info);
    return attempt;
  }

  #batchFailed(client: ClientState, conn: ClientConnection, batch: readonly IncomingMessage[], err: unknown): void {
    const first = batch[0] as IncomingMessage;
    if (batch.length === 1) {
      this.#failed(client, conn, first, err);
      return;
    }
    // Not dead-lettered as a whole: its messages come back one per call, and the one that fails is.
    const attempt = this.#noteFailure(client, first.seq, (batch[batch.length - 1] as IncomingMessage).seq, err);
    this.#giveBack(client, conn, attempt, err);
  }

  #failed(client: ClientState, conn: ClientConnection, message: IncomingMessage, err: unknown): void {
    const attempt = this.#noteFailure(client, message.seq, message.seq, err);
    const deadLetter = this.#hooks.onDeadLetter;
    if (attempt >= this.#hooks.maxHandlerAttempts && deadLetter !== undefined) {
      this.#deadLetter(client, conn, message, err, deadLetter);
      return;
    }
    this.#giveBack(client, conn, attempt, err);
  }

  /**
   * Not acknowledged: drop what is queued behind it and close the connection it came
   * from; the client resends after reconnecting. (If that connection was already
   * replaced, the new one gets WELCOME with lastSeq before the failed seq.)
   */
  #giveBack(client: ClientState, conn: ClientConnection, attempt: number, err: unknown): void {
    if (client.connection !== conn) return;
    this.#dropQueue(client);
    this.#flushClient(client);
    conn.handlerFailed(err, backoffCeilingMs(attempt - 1, RETRY_BASE_MS, RETRY_CAP_MS));
  }

  #deadLetter(
    client: ClientState,
    conn: ClientConnection,
    message: IncomingMessage,
    err: unknown,
    deadLetter: DeadLetterHandler,
  ): void {
    const done = (): void => {
      this.stats.deadLettered++;
      this.#succeeded(client, message.seq);
    };
    let result: unknown;
    try {
      result = deadLetter(message, err);
    } catch (dlErr) {
      this.#giveBack(client, conn, client.failedAttempts, dlErr);
      return;
    }
    if (!isThenable(result)) {
      done();
      return;
    }
    client.busy = true;
    result.then(
      () => {
        client.busy = false;
        done();
        this.#drain(client);
      },
      (dlErr: unknown) => {
        client.busy = false;
        this.#giveBack(client, conn, client.failedAttempts, dlErr);
        this.#drain(client);
      },
    );
  }

  #markDirty(client: ClientState): void {
    if (!client.dirty) {
      client.dirty = true;
      this.#dirty.push(client);
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  #flushClient(client: ClientState): void {
    if (client.handledSeq > client.recordedSeq) {
      this.#state.record(client.id, client.handledSeq);
      client.recordedSeq = client.handledSeq;
      return; // the ACK (and the duplicates count) goes out once the state reports it durable
    }
    client.connection?.flushAck(client.durableSeq);
  }

  /** Records every pending success and sends the coalesced ACKs at once (server close). */
  flush(): void {
    this.#flushSlice(Infinity);
  }

  /**
   * Records successes and sends the coalesced ACKs of up to `limit` clients, in the order they
   * became dirty; the rest wait for the next event-loop turn, so a burst from thousands of
   * clients never stalls the loop on one pass of socket writes (reads go on in between).
   */
  #flushSlice(limit: number): void {
    this.#flushScheduled = false;
    const dirty = this.#dirty.length <= limit ? this.#dirty.splice(0) : this.#dirty.splice(0, limit);
    for (const client of dirty) {
      client.dirty = false;
      this.#flushClient(client);
    }
    this.#state.commit(); // the commit listener (committed) acknowledges: at once for memory, later for disk
    if (this.#dirty.length > 0) this.#scheduleFlush();
  }

  /** The state made these records durable: acknowledge them. */
  committed(committed: ReadonlyMap<string, number>): void {
    for (const [id, seq] of committed) {
      const client = this.#clients.get(id);
      if (client === undefined || seq <= client.durableSeq) continue;
      client.durableSeq = seq;
      client.connection?.flushAck(seq);
      this.#checkSettled(client);
    }
    if (acknowledgedChannel.hasSubscribers) acknowledgedChannel.publish({ committed });
  }

  /** Drops every queued (not started) message: used when the server drains. */
  dropAllQueues(): void {
    for (const client of this.#clients.values()) if (client.queued > 0) this.#dropQueue(client);
  }
}
