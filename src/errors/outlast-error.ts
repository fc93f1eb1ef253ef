/**
 * The one base class for every error outlast throws or emits. Match on `code`
 * with `isOutlastError(err, code)`, not with instanceof: two copies of the
 * package in one process still agree on codes.
 */

/** Every code outlast uses. Listed in docs/errors.md; a retired code is never reused. */
export type OutlastErrorCode =
  | "OUTLAST_INVALID_OPTION"
  | "OUTLAST_RETRY_ABORTED"
  | "OUTLAST_RETRY_EXHAUSTED"
  | "OUTLAST_QUEUE_FULL"
  | "OUTLAST_CLOSED"
  | "OUTLAST_TIMEOUT"
  | "OUTLAST_MESSAGE_EXPIRED"
  | "OUTLAST_MESSAGE_TOO_LARGE"
  | "OUTLAST_PROTOCOL_ERROR"
  | "OUTLAST_PROTOCOL_VERSION"
  | "OUTLAST_AUTH_REJECTED"
  | "OUTLAST_HANDLER_FAILED"
  | "OUTLAST_SERVER_BUSY"
  | "OUTLAST_HEARTBEAT_TIMEOUT"
  | "OUTLAST_CONNECT_TIMEOUT"
  | "OUTLAST_CONNECTION_CLOSED"
  | "OUTLAST_OUTBOX_LOCKED"
  | "OUTLAST_OUTBOX_FULL"
  | "OUTLAST_OUTBOX_IO"
  | "OUTLAST_OUTBOX_CORRUPT"
  | "OUTLAST_STATE_LOCKED"
  | "OUTLAST_STATE_CORRUPT"
  | "OUTLAST_STATE_IO";

export const OUTLAST_ERROR_CODES: readonly OutlastErrorCode[] = [
  "OUTLAST_INVALID_OPTION",
  "OUTLAST_RETRY_ABORTED",
  "OUTLAST_RETRY_EXHAUSTED",
  "OUTLAST_QUEUE_FULL",
  "OUTLAST_CLOSED",
  "OUTLAST_TIMEOUT",
  "OUTLAST_MESSAGE_EXPIRED",
  "OUTLAST_MESSAGE_TOO_LARGE",
  "OUTLAST_PROTOCOL_ERROR",
  "OUTLAST_PROTOCOL_VERSION",
  "OUTLAST_AUTH_REJECTED",
  "OUTLAST_HANDLER_FAILED",
  "OUTLAST_SERVER_BUSY",
  "OUTLAST_HEARTBEAT_TIMEOUT",
  "OUTLAST_CONNECT_TIMEOUT",
  "OUTLAST_CONNECTION_CLOSED",
  "OUTLAST_OUTBOX_LOCKED",
  "OUTLAST_OUTBOX_FULL",
  "OUTLAST_OUTBOX_IO",
  "OUTLAST_OUTBOX_CORRUPT",
  "OUTLAST_STATE_LOCKED",
  "OUTLAST_STATE_CORRUPT",
  "OUTLAST_STATE_IO",
];

export interface OutlastErrorOptions extends ErrorOptions {
  /** Context on typed fields, e.g. `{ option: "heartbeatIntervalMs" }` or `{ pid: 4242 }`. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class OutlastError extends Error {
  override name = "OutlastError";
  readonly code: OutlastErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: OutlastErrorCode, message: string, options: OutlastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `err` is an outlast error (with `code`, when given), from any copy of the package. */
export function isOutlastError(err: unknown, code?: OutlastErrorCode): err is OutlastError {
  if (typeof err !== "object" || err === null) return false;
  let c: unknown;
  try {
    c = (err as { code?: unknown }).code;
  } catch {
    return false;
  }
  if (typeof c !== "string" || !(OUTLAST_ERROR_CODES as readonly string[]).includes(c)) return false;
  return code === undefined || c === code;
}

/** Throws OUTLAST_INVALID_OPTION naming the option. */
export function invalidOption(option: string, message: string): never {
  throw new OutlastError("OUTLAST_INVALID_OPTION", `invalid option ${option}: ${message}`, {
    details: { option },
  });
}
