/**
 * The poison policy: what happens when a handler call fails. The failure is counted
 * and reported (`handlerError`); the failed seqs come back flagged `redelivery`; a
 * single message that failed maxHandlerAttempts times in a row goes to onDeadLetter
 * (when set) and counts as handled; otherwise the messages are given back unacknowledged
 * with a retryAfterMs that doubles per attempt. A failed batch is never dead-lettered as
 * a whole: its messages come back one per call, and the one that fails is.
 */

import type { ClientConnection, ClientState } from "./client-state.js";
import { handlerErrorChannel } from "./diagnostics.js";
import type { DeadLetterHandler, IncomingMessage } from "./options.js";

export interface HandlerFailure {
  readonly clientId: string;
  /** The (first) seq of the failed call. */
  readonly seq: number;
  /** The last seq of the failed call: > seq when a batch of several messages failed. */
  readonly lastSeq: number;
  /** Failed calls in a row that started at `seq`. */
  readonly attempt: number;
}

export interface FailureHooks {
  readonly onDeadLetter: DeadLetterHandler | undefined;
  readonly maxHandlerAttempts: number;
  readonly handlerError: (error: unknown, info: HandlerFailure) => void;
}

/** What the policy asks of the registry. */
export interface FailureOutcomes {
  /** The call ending at `seq` counts as handled (dead-lettered). */
  succeeded(client: ClientState, seq: number): void;
  /** Not acknowledged: drop what is queued and close `conn` with a retry hint for `attempt`. */
  giveBack(client: ClientState, conn: ClientConnection, attempt: number, err: unknown): void;
  /** A pending call ended: run what is queued. */
  drain(client: ClientState): void;
}

export interface FailureStats {
  handlerFailures: number;
  deadLettered: number;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== undefined && value !== null && typeof (value as { then?: unknown }).then === "function";
}

export class HandlerFailures {
  readonly #hooks: FailureHooks;
  readonly #outcomes: FailureOutcomes;
  readonly #stats: FailureStats;

  constructor(hooks: FailureHooks, outcomes: FailureOutcomes, stats: FailureStats) {
    this.#hooks = hooks;
    this.#outcomes = outcomes;
    this.#stats = stats;
  }

  /** A call with one message failed. */
  failed(client: ClientState, conn: ClientConnection, message: IncomingMessage, err: unknown): void {
    const attempt = this.#note(client, message.seq, message.seq, err);
    const deadLetter = this.#hooks.onDeadLetter;
    if (attempt >= this.#hooks.maxHandlerAttempts && deadLetter !== undefined) {
      this.#deadLetter(client, conn, message, err, deadLetter);
      return;
    }
    this.#outcomes.giveBack(client, conn, attempt, err);
  }

  /** A batch call failed. */
  batchFailed(client: ClientState, conn: ClientConnection, batch: readonly IncomingMessage[], err: unknown): void {
    const first = batch[0] as IncomingMessage;
    if (batch.length === 1) {
      this.failed(client, conn, first, err);
      return;
    }
    // Not dead-lettered as a whole: its messages come back one per call, and the one that fails is.
    const attempt = this.#note(client, first.seq, (batch[batch.length - 1] as IncomingMessage).seq, err);
    this.#outcomes.giveBack(client, conn, attempt, err);
  }

  /** The call that ended with `seq` succeeded: the failure streak it covered is over. */
  succeeded(client: ClientState, seq: number): void {
    if (client.failedSeq === 0 || seq < client.failedSeq) return;
    client.failedAttempts = 0;
    if (seq >= client.failedToSeq) {
      client.failedSeq = 0;
      client.failedToSeq = 0;
    }
  }

  /** Counts a failed call of firstSeq..lastSeq and reports it; returns the attempt number. */
  #note(client: ClientState, firstSeq: number, lastSeq: number, err: unknown): number {
    const attempt = client.failedSeq === firstSeq ? client.failedAttempts + 1 : 1;
    client.failedSeq = firstSeq;
    client.failedToSeq = Math.max(client.failedToSeq, lastSeq);
    client.failedAttempts = attempt;
    this.#stats.handlerFailures++;
    const info: HandlerFailure = { clientId: client.id, seq: firstSeq, lastSeq, attempt };
    if (handlerErrorChannel.hasSubscribers) handlerErrorChannel.publish({ error: err, ...info });
    this.#hooks.handlerError(err, info);
    return attempt;
  }

  #deadLetter(
    client: ClientState,
    conn: ClientConnection,
    message: IncomingMessage,
    err: unknown,
    deadLetter: DeadLetterHandler,
  ): void {
    const done = (): void => {
      this.#stats.deadLettered++;
      this.#outcomes.succeeded(client, message.seq);
    };
    let result: unknown;
    try {
      result = deadLetter(message, err);
    } catch (dlErr) {
      this.#outcomes.giveBack(client, conn, client.failedAttempts, dlErr);
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
        this.#outcomes.drain(client);
      },
      (dlErr: unknown) => {
        client.busy = false;
        this.#outcomes.giveBack(client, conn, client.failedAttempts, dlErr);
        this.#outcomes.drain(client);
      },
    );
  }
}
