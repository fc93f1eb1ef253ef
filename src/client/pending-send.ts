/**
 * One send() call from admission until it is settled: its validated options,
 * its private copy of the data, and its promise. It is the OutboxEntry handed
 * to `append`; its seq is not in it (the outbox numbers its own records, and a
 * renumber would make a copy stale): delivery keeps seq -> send in
 * `SendsBySeq`. Hot path: no closure per send().
 */

import { invalidOption } from "../errors/outlast-error.js";
import type { OutboxEntry } from "../outbox/outbox.js";

export interface SendOptions {
  /** "acknowledged" (default): resolve when the server's handler succeeded; "stored": when the outbox has it. */
  readonly wait?: "stored" | "acknowledged";
  /** Default true. false: best-effort, dropped first when the queue is full. */
  readonly important?: boolean;
  /** Drop the message (reason "expired") when it is not acknowledged within this many ms. */
  readonly ttlMs?: number;
  /** Aborts waiting for room; after the message is stored, only stops waiting for the acknowledgement. */
  readonly signal?: AbortSignal;
}

export interface SendResult {
  readonly seq: number;
}

type Resolve = (r: SendResult) => void;
type Reject = (err: unknown) => void;

// One executor for every send(): `new Promise` calls it synchronously, so these
// hand the resolving functions over without a closure per call.
let nextResolve: Resolve | undefined;
let nextReject: Reject | undefined;
function executor(resolve: Resolve, reject: Reject): void {
  nextResolve = resolve;
  nextReject = reject;
}

export class PendingSend implements OutboxEntry {
  readonly data: Uint8Array;
  readonly important: boolean;
  /** Wall-clock ms. */
  readonly createdAtMs: number;
  /** Wall-clock ms; Infinity without a ttlMs. */
  readonly expiresAtMs: number;
  readonly waitAck: boolean;
  readonly signal: AbortSignal | undefined;
  readonly promise: Promise<SendResult>;
  readonly #resolve: Resolve;
  readonly #reject: Reject;
  onAbort: (() => void) | undefined = undefined;
  settled = false;

  constructor(
    data: Uint8Array,
    important: boolean,
    createdAtMs: number,
    expiresAtMs: number,
    waitAck: boolean,
    signal: AbortSignal | undefined,
  ) {
    this.data = data;
    this.important = important;
    this.createdAtMs = createdAtMs;
    this.expiresAtMs = expiresAtMs;
    this.waitAck = waitAck;
    this.signal = signal;
    this.promise = new Promise<SendResult>(executor);
    this.#resolve = nextResolve as Resolve;
    this.#reject = nextReject as Reject;
    nextResolve = undefined;
    nextReject = undefined;
  }

  /** Resolves with `seq` when `err` is undefined, else rejects with `err`; later calls do nothing. */
  settle(err: unknown, seq: number | undefined): void {
    if (this.settled) return;
    this.settled = true;
    if (this.onAbort !== undefined) this.signal?.removeEventListener("abort", this.onAbort);
    if (seq !== undefined && err === undefined) this.#resolve({ seq });
    else this.#reject(err);
  }
}

/** A send()'s options, validated (throws OUTLAST_INVALID_OPTION). */
export interface ParsedSend {
  waitAck: boolean;
  important: boolean;
  /** Infinity when there is no ttlMs. */
  ttlMs: number;
  signal: AbortSignal | undefined;
}

const DEFAULTS: ParsedSend = Object.freeze({ waitAck: true, important: true, ttlMs: Infinity, signal: undefined });

/** The defaults are shared (frozen): the common send() without options allocates nothing here. */
export function parseSendOptions(options: SendOptions | undefined): Readonly<ParsedSend> {
  if (options === undefined) return DEFAULTS;
  const parsed: ParsedSend = { ...DEFAULTS };
  if (options.wait !== undefined) {
    if (options.wait !== "stored" && options.wait !== "acknowledged")
      invalidOption("wait", `must be "stored" or "acknowledged"`);
    parsed.waitAck = options.wait === "acknowledged";
  }
  if (options.important !== undefined) {
    if (typeof options.important !== "boolean") invalidOption("important", "must be a boolean");
    parsed.important = options.important;
  }
  if (options.ttlMs !== undefined) {
    if (typeof options.ttlMs !== "number" || !(options.ttlMs > 0))
      invalidOption("ttlMs", `must be a number > 0, got ${String(options.ttlMs)}`);
    parsed.ttlMs = options.ttlMs;
  }
  parsed.signal = options.signal;
  return parsed;
}

/** A private copy of the data (the caller may reuse its buffer); small ones come from Node's buffer pool. */
export function copyData(data: Uint8Array | string): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof Uint8Array) {
    const bytes = Buffer.allocUnsafe(data.length);
    bytes.set(data);
    return bytes;
  }
  return invalidOption("data", `must be a Uint8Array or a string, got ${typeof data}`);
}
