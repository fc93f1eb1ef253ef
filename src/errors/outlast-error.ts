/**
 * The one base class for every error outlast throws or emits. Match on `code`
 * with `isOutlastError(err, code)`, not with instanceof: two copies of the
 * package in one process still agree on codes (the guard reads a
 * `Symbol.for` brand, as undici's errors do, and never the class identity).
 */

/** What a peer's ERROR frame said; the `details` of every error made from one (`errorFromFrame`). */
export interface PeerErrorDetails {
  /** The code on the wire, exactly as the peer sent it (it may be one this build does not know). */
  readonly remoteCode: string;
  /** The peer's text, untrusted. */
  readonly remoteMessage: string;
  readonly retryAfterMs: number;
}

/** A dropped message's send() rejects with this (`dropError`). */
export interface DropDetails {
  readonly seq: number;
  readonly reason: "full" | "expired" | "tooLarge";
}

/**
 * Every code outlast uses, with the type of its `details`. Listed in
 * docs/errors.md (a test keeps both in sync); a retired code is never reused
 * (see RETIRED_OUTLAST_ERROR_CODES). A code a peer may send in an ERROR frame
 * includes `PeerErrorDetails` in its union.
 */
export interface OutlastErrorDetails {
  OUTLAST_INVALID_OPTION: { readonly option: string; readonly dir?: string };
  OUTLAST_RETRY_ABORTED: Record<string, never>;
  OUTLAST_QUEUE_FULL: { readonly queuedMessages: number; readonly queuedBytes: number } | DropDetails;
  OUTLAST_CLOSED: Record<string, never>;
  /** `queuedMessages` when a client's flush timed out. */
  OUTLAST_TIMEOUT: { readonly timeoutMs: number; readonly queuedMessages?: number } | PeerErrorDetails;
  OUTLAST_MESSAGE_EXPIRED: DropDetails;
  /** `maxFrameBytes` when the server's limit (not the outbox's) was exceeded. */
  OUTLAST_MESSAGE_TOO_LARGE: { readonly bytes: number; readonly maxFrameBytes?: number } | DropDetails;
  /** `frame`: the frame type at fault; `state`: the connection's state when it came; `peer`: what answered instead of outlast (its first bytes). */
  OUTLAST_PROTOCOL_ERROR:
    { readonly frame?: string; readonly state?: string; readonly peer?: "http" | "tls" | "ssh" } | PeerErrorDetails;
  OUTLAST_PROTOCOL_VERSION: { readonly requestedClientId?: string; readonly frame?: string } | PeerErrorDetails;
  /** `reasonCode`: an MQTT broker's CONNACK or PUBACK reason code. */
  OUTLAST_AUTH_REJECTED: { readonly requestedClientId: string } | { readonly reasonCode: number } | PeerErrorDetails;
  OUTLAST_HANDLER_FAILED: PeerErrorDetails;
  /** `stream`: a gateway whose stream does not answer (NATS unavailable), or refuses the client; `retryAfterMs`: its hint. */
  OUTLAST_SERVER_BUSY:
    | { readonly maxConnections: number }
    | { readonly stream: string; readonly retryAfterMs?: number }
    | { readonly poolWorker: number; readonly retryAfterMs: number }
    | PeerErrorDetails;
  /** One shape on both sides: the limit passed (client: heartbeatTimeoutMs; server: its idle limit) and the silence. */
  OUTLAST_HEARTBEAT_TIMEOUT: { readonly timeoutMs: number; readonly silentMs: number } | PeerErrorDetails;
  OUTLAST_CONNECT_TIMEOUT: { readonly connectTimeoutMs: number; readonly phase: string };
  /** `unanswered`: a plain link closed before a byte answered HELLO (what a TLS server does). */
  OUTLAST_CONNECTION_CLOSED: { readonly link: string; readonly unanswered?: boolean };
  OUTLAST_OUTBOX_LOCKED: { readonly dir: string; readonly pid: number };
  OUTLAST_OUTBOX_FULL: {
    readonly dir: string;
    readonly maxBytes: number;
    readonly bytes: number;
    readonly needed: number;
  };
  /** `errno`: the fs error's code; `fatal`: the outbox refuses writes until reopened. */
  OUTLAST_OUTBOX_IO: { readonly dir: string; readonly errno: string; readonly fatal: boolean };
  OUTLAST_OUTBOX_CORRUPT:
    | { readonly dir: string; readonly segment: string; readonly version: number }
    | { readonly dir: string; readonly nextSeq: number };
  OUTLAST_STATE_LOCKED: { readonly dir: string; readonly pid: number };
  OUTLAST_STATE_CORRUPT: { readonly path: string };
  OUTLAST_STATE_IO: { readonly dir: string };
  /** A gateway's stream: `setting` is the stream setting that is unsafe, `value` what it is. */
  OUTLAST_STREAM_UNSAFE: { readonly stream: string; readonly setting: string; readonly value: unknown };
  /** `servers`: the NATS URLs tried; `stream` when the stream did not answer. */
  OUTLAST_NATS_UNAVAILABLE: { readonly servers?: readonly string[]; readonly stream?: string };
  /** `stream`, and `subject`/`streamSeq` when a foreign message sits on a client's subject. */
  OUTLAST_NATS_REJECTED: { readonly stream?: string; readonly subject?: string; readonly streamSeq?: number };
}

export type OutlastErrorCode = keyof OutlastErrorDetails;

/** The `details` type of errors with code `C`. */
export type DetailsOf<C extends OutlastErrorCode> = OutlastErrorDetails[C];

/** The codes a peer may send in an ERROR frame: those whose details admit what the frame carries. */
export type PeerErrorCode = {
  [C in OutlastErrorCode]: PeerErrorDetails extends DetailsOf<C> ? C : never;
}[OutlastErrorCode];

// `satisfies` makes a missing or an extra code a compile error: the list and the type cannot drift.
const CODES = {
  OUTLAST_INVALID_OPTION: true,
  OUTLAST_RETRY_ABORTED: true,
  OUTLAST_QUEUE_FULL: true,
  OUTLAST_CLOSED: true,
  OUTLAST_TIMEOUT: true,
  OUTLAST_MESSAGE_EXPIRED: true,
  OUTLAST_MESSAGE_TOO_LARGE: true,
  OUTLAST_PROTOCOL_ERROR: true,
  OUTLAST_PROTOCOL_VERSION: true,
  OUTLAST_AUTH_REJECTED: true,
  OUTLAST_HANDLER_FAILED: true,
  OUTLAST_SERVER_BUSY: true,
  OUTLAST_HEARTBEAT_TIMEOUT: true,
  OUTLAST_CONNECT_TIMEOUT: true,
  OUTLAST_CONNECTION_CLOSED: true,
  OUTLAST_OUTBOX_LOCKED: true,
  OUTLAST_OUTBOX_FULL: true,
  OUTLAST_OUTBOX_IO: true,
  OUTLAST_OUTBOX_CORRUPT: true,
  OUTLAST_STATE_LOCKED: true,
  OUTLAST_STATE_CORRUPT: true,
  OUTLAST_STATE_IO: true,
  OUTLAST_STREAM_UNSAFE: true,
  OUTLAST_NATS_UNAVAILABLE: true,
  OUTLAST_NATS_REJECTED: true,
} as const satisfies Record<OutlastErrorCode, true>;

export const OUTLAST_ERROR_CODES: readonly OutlastErrorCode[] = Object.freeze(Object.keys(CODES) as OutlastErrorCode[]);

/**
 * Codes outlast once used and never uses again (a new meaning gets a new code).
 * `OUTLAST_RETRY_EXHAUSTED`: retry() rethrows the last error itself.
 */
export const RETIRED_OUTLAST_ERROR_CODES: readonly string[] = Object.freeze(["OUTLAST_RETRY_EXHAUSTED"]);

/** True for one of this build's codes. */
export function isOutlastErrorCode(code: unknown): code is OutlastErrorCode {
  return typeof code === "string" && Object.hasOwn(CODES, code);
}

type DetailsOption<C extends OutlastErrorCode> =
  Record<string, never> extends DetailsOf<C> ? { readonly details?: DetailsOf<C> } : { readonly details: DetailsOf<C> };

/** `details` is required unless the code's details type has no required field. */
export type OutlastErrorOptions<C extends OutlastErrorCode = OutlastErrorCode> = ErrorOptions & DetailsOption<C>;

type OptionsArg<C extends OutlastErrorCode> =
  Record<string, never> extends DetailsOf<C> ? [options?: OutlastErrorOptions<C>] : [options: OutlastErrorOptions<C>];

/** Shared by every copy of the package in one process (undici's `Symbol.for("undici.error.UND_ERR")` pattern). */
const BRAND: unique symbol = Symbol.for("outlast.error") as never;

export class OutlastError<C extends OutlastErrorCode = OutlastErrorCode> extends Error {
  override name = "OutlastError";
  readonly code: C;
  readonly details: Readonly<DetailsOf<C>>;

  constructor(code: C, message: string, ...[options]: OptionsArg<C>) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ?? ({} as DetailsOf<C>);
  }

  /** `x instanceof OutlastError` holds for an outlast error from any copy of the package. */
  static override [Symbol.hasInstance]<T>(
    this: abstract new (...args: never[]) => T,
    instance: unknown,
  ): instance is T {
    if ((this as unknown) !== OutlastError) return Function.prototype[Symbol.hasInstance].call(this, instance);
    return branded(instance);
  }
}
Object.defineProperty(OutlastError.prototype, BRAND, { value: true });

/** An OutlastError of any one code: switching on `code` narrows `details`. */
export type AnyOutlastError = { [C in OutlastErrorCode]: OutlastError<C> }[OutlastErrorCode];

function branded(err: unknown): boolean {
  if ((typeof err !== "object" && typeof err !== "function") || err === null) return false;
  try {
    return (err as { [BRAND]?: unknown })[BRAND] === true;
  } catch {
    return false; // a revoked Proxy or a throwing getter is not ours
  }
}

/**
 * True when `err` is an outlast error with `code` (any of this build's codes
 * when omitted), made by any copy of the package in this process. An object
 * that merely has an `OUTLAST_*` code is not one.
 */
export function isOutlastError<C extends OutlastErrorCode>(err: unknown, code: C): err is OutlastError<C>;
export function isOutlastError(err: unknown): err is AnyOutlastError;
export function isOutlastError(err: unknown, code?: OutlastErrorCode): boolean {
  if (!branded(err)) return false;
  let c: unknown;
  try {
    c = (err as { code?: unknown }).code;
  } catch {
    return false;
  }
  return code === undefined ? isOutlastErrorCode(c) : c === code;
}

/** Throws OUTLAST_INVALID_OPTION naming the option. */
export function invalidOption(option: string, message: string): never {
  throw new OutlastError("OUTLAST_INVALID_OPTION", `invalid option ${option}: ${message}`, {
    details: { option },
  });
}
