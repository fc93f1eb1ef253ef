/**
 * Watches one `outlast serve` process (a plain server or a gateway) for the
 * metrics and the status page, with no dependency: times handler calls (the
 * `outlast:server:handlerStart` / `outlast:server:handled` channels), follows
 * each message from its handler call to its ACK (`outlast:server:acknowledged`)
 * for ack latency, acknowledged msg/s and the clients with the oldest
 * unacknowledged messages, keeps the last rejections and protocol errors, and
 * the readiness checks. Histograms are fed through `onHandler`/`onAck`/`onCommit`
 * (server-metrics.ts sets them).
 */

import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { ServerStats } from "../../server/index.js";
import { Readiness } from "./readiness.js";

/** Seconds of history kept for the msg/s chart. */
export const HISTORY_SECONDS = 300;
const RECENT_PROBLEMS = 20;
const LATENCY_SAMPLES = 1024;

/** What the metrics and the page read at scrape time: a Server's stats, or a gateway's put in the same terms. */
export type ObservedStats = Pick<
  ServerStats,
  | "connections"
  | "clients"
  | "messagesProcessed"
  | "deadLettered"
  | "duplicatesSkipped"
  | "handlerFailures"
  | "authRejected"
  | "protocolErrors"
  | "busyRejected"
  | "connectionsAccepted"
>;

export interface Observed {
  stats(): ObservedStats;
}

/** The peer of a rejection or protocol error (a server's ConnectionInfo, or less). */
export interface ProblemPeer {
  readonly clientId?: string | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

export interface Problem {
  readonly timeMs: number;
  readonly code: string;
  readonly message: string;
  readonly clientId: string | undefined;
  readonly remote: string | undefined;
}

interface HandlerStart {
  readonly clientId: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly messages: number;
}

interface Handled {
  readonly messages: number;
  readonly durationMs: number;
}

/** Handler calls of one client not acknowledged yet, oldest first (parallel arrays, a moving head). */
class Pending {
  firstSeqs: number[] = [];
  lastSeqs: number[] = [];
  startsMs: number[] = [];
  counts: number[] = [];
  messages = 0;
  head = 0;

  get size(): number {
    return this.lastSeqs.length - this.head;
  }

  push(firstSeq: number, lastSeq: number, startMs: number, count: number): void {
    this.firstSeqs.push(firstSeq);
    this.lastSeqs.push(lastSeq);
    this.startsMs.push(startMs);
    this.counts.push(count);
    this.messages += count;
  }

  /** Removes every call that ended at a seq <= `seq`, calling `each` with its start time and message count. */
  ackUpTo(seq: number, each: (startMs: number, count: number) => void): void {
    while (this.head < this.lastSeqs.length && (this.lastSeqs[this.head] as number) <= seq) {
      const count = this.counts[this.head] as number;
      this.messages -= count;
      each(this.startsMs[this.head] as number, count);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.lastSeqs.length) {
      this.firstSeqs = this.firstSeqs.slice(this.head);
      this.lastSeqs = this.lastSeqs.slice(this.head);
      this.startsMs = this.startsMs.slice(this.head);
      this.counts = this.counts.slice(this.head);
      this.head = 0;
    }
  }
}

export class ServerObserver {
  /** The server being watched (replaced when serve retries a locked state directory), or a gateway's stats. */
  server: Observed | undefined;
  readonly readiness = new Readiness();
  draining = false;
  onHandler: (seconds: number) => void = () => {};
  onAck: (seconds: number) => void = () => {};
  onCommit: (seconds: number) => void = () => {};
  readonly #now: () => number;
  readonly #wallNow: () => number;
  readonly #pending = new Map<string, Pending>();
  /** Acknowledged messages per second, a ring indexed by second. */
  readonly #perSecond = new Float64Array(HISTORY_SECONDS);
  #currentSecond: number;
  readonly #latencyMs = new Float64Array(LATENCY_SAMPLES);
  #latencyCount = 0;
  readonly #problems: Problem[] = [];
  readonly #startedMs: number;
  readonly #onAcknowledged = (m: unknown): void => this.#acknowledged(m as { committed: ReadonlyMap<string, number> });
  readonly #onCommit = (m: unknown): void => this.onCommit((m as { durationMs: number }).durationMs / 1000);
  readonly #onHandlerStart = (m: unknown): void => this.#started(m as HandlerStart);
  readonly #onHandled = (m: unknown): void => this.#handled(m as Handled);

  constructor({ now = () => performance.now(), wallNow = () => Date.now() } = {}) {
    this.#now = now;
    this.#wallNow = wallNow;
    this.#startedMs = now();
    this.#currentSecond = Math.floor(now() / 1000);
    subscribe("outlast:server:acknowledged", this.#onAcknowledged);
    subscribe("outlast:server:stateCommit", this.#onCommit);
    subscribe("outlast:server:handlerStart", this.#onHandlerStart);
    subscribe("outlast:server:handled", this.#onHandled);
  }

  close(): void {
    unsubscribe("outlast:server:acknowledged", this.#onAcknowledged);
    unsubscribe("outlast:server:stateCommit", this.#onCommit);
    unsubscribe("outlast:server:handlerStart", this.#onHandlerStart);
    unsubscribe("outlast:server:handled", this.#onHandled);
  }

  get uptimeMs(): number {
    return this.#now() - this.#startedMs;
  }

  /** A handler call began: its messages are remembered until their ACK is due. */
  #started({ clientId, firstSeq, lastSeq, messages }: HandlerStart): void {
    let pending = this.#pending.get(clientId);
    if (pending === undefined) this.#pending.set(clientId, (pending = new Pending()));
    pending.push(firstSeq, lastSeq, this.#now(), messages);
  }

  /** A handler call succeeded: one observation per message (the metric counts handled messages), each the call's duration. */
  #handled({ messages, durationMs }: Handled): void {
    for (let i = 0; i < messages; i++) {
      this.#latencyMs[this.#latencyCount++ % LATENCY_SAMPLES] = durationMs;
      this.onHandler(durationMs / 1000);
    }
  }

  #acknowledged({ committed }: { committed: ReadonlyMap<string, number> }): void {
    const now = this.#now();
    let count = 0;
    for (const [clientId, seq] of committed) {
      const pending = this.#pending.get(clientId);
      if (pending === undefined) continue;
      pending.ackUpTo(seq, (startMs, messages) => {
        count += messages;
        for (let i = 0; i < messages; i++) this.onAck((now - startMs) / 1000);
      });
      if (pending.size === 0) this.#pending.delete(clientId);
    }
    this.#advance(now);
    const i = this.#currentSecond % HISTORY_SECONDS;
    this.#perSecond[i] = (this.#perSecond[i] as number) + count;
  }

  #advance(now: number): void {
    const second = Math.floor(now / 1000);
    for (let s = Math.max(this.#currentSecond + 1, second - HISTORY_SECONDS + 1); s <= second; s++)
      this.#perSecond[s % HISTORY_SECONDS] = 0;
    if (second > this.#currentSecond) this.#currentSecond = second;
  }

  /** Acknowledged messages in each of the last `seconds` whole seconds, oldest first (the current second excluded). */
  ackRate(seconds = HISTORY_SECONDS - 1): number[] {
    this.#advance(this.#now());
    const n = Math.min(seconds, HISTORY_SECONDS - 1);
    const out: number[] = [];
    for (let s = this.#currentSecond - n; s < this.#currentSecond; s++)
      out.push(s < 0 ? 0 : (this.#perSecond[s % HISTORY_SECONDS] as number));
    return out;
  }

  /** [p50, p99] handler time (ms) over the last 1024 calls; [0, 0] before any. */
  handlerPercentilesMs(): [number, number] {
    const n = Math.min(this.#latencyCount, LATENCY_SAMPLES);
    if (n === 0) return [0, 0];
    const sorted = this.#latencyMs.slice(0, n).sort();
    const at = (p: number): number => sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] as number;
    return [at(0.5), at(0.99)];
  }

  /** Clients whose oldest unacknowledged message was handed to the handler longest ago. */
  oldestUnacknowledged(limit = 10): { clientId: string; seq: number; ageMs: number; pending: number }[] {
    const now = this.#now();
    const all: { clientId: string; seq: number; ageMs: number; pending: number }[] = [];
    for (const [clientId, p] of this.#pending) {
      if (p.size === 0) continue;
      all.push({
        clientId,
        seq: p.firstSeqs[p.head] as number,
        ageMs: now - (p.startsMs[p.head] as number),
        pending: p.messages,
      });
    }
    return all.sort((a, b) => b.ageMs - a.ageMs).slice(0, limit);
  }

  /** Age (s) of the oldest unacknowledged handler call; 0 when none. */
  oldestUnacknowledgedSeconds(): number {
    return (this.oldestUnacknowledged(1)[0]?.ageMs ?? 0) / 1000;
  }

  /** For the server's clientError event: remembered when it is a rejection or a protocol error. */
  clientError(err: Error, info: ProblemPeer): void {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("OUTLAST_")) return; // resets and such: the network
    this.#problems.push({
      timeMs: this.#wallNow(),
      code,
      message: err.message.slice(0, 300),
      clientId: info.clientId,
      remote: info.remoteAddress === undefined ? undefined : `${info.remoteAddress}:${info.remotePort ?? 0}`,
    });
    if (this.#problems.length > RECENT_PROBLEMS) this.#problems.shift();
  }

  /** The last rejections and protocol errors, newest first. */
  recentProblems(): readonly Problem[] {
    return [...this.#problems].reverse();
  }
}
