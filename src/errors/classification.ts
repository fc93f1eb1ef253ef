/**
 * The verdict `classify()` gives on an error. These names are a public contract.
 */

/** What went wrong, coarsely. Exactly one per classification. */
export type Kind =
  | "reset"
  | "refused"
  | "aborted"
  | "broken-pipe"
  | "not-connected"
  | "network-unreachable"
  | "host-unreachable"
  | "network-down"
  | "address-unavailable"
  | "dns"
  | "timeout"
  | "tls"
  | "certificate"
  | "other";

export const KINDS: readonly Kind[] = [
  "reset",
  "refused",
  "aborted",
  "broken-pipe",
  "not-connected",
  "network-unreachable",
  "host-unreachable",
  "network-down",
  "address-unavailable",
  "dns",
  "timeout",
  "tls",
  "certificate",
  "other",
];

/**
 * Could the bytes we wrote have reached the peer? A failure in DNS, in connect
 * or in the TLS handshake means "no": nothing of ours was delivered, so a resend
 * can never be a duplicate. Anything later is "maybe".
 */
export type Delivered = "no" | "maybe";

/** The platforms whose errno numbers we know. */
export type Platform = "linux" | "darwin" | "win32" | "freebsd";

export interface Classification {
  /** A transient connection or network failure: wait, reconnect, resend. */
  readonly connection: boolean;
  readonly kind: Kind;
  /**
   * A finer, stable label inside the kind, e.g. "cancelled", "premature-close",
   * "grpc-unavailable", "http-status", "bug". Empty string when there is none.
   */
  readonly detail: string;
  /** The canonical code that decided (`ECONNRESET`); for errors without a code, the error's name. */
  readonly code: string;
  readonly delivered: Delivered;
  /** The inner error that decided (the input itself when nothing deeper did). */
  readonly source: unknown;
  /** One human line naming the code and what it means. */
  readonly reason: string;
  /** How `source` was reached from the input: e.g. ["cause", "errors[1]"]. Empty when it is the input. */
  readonly path: readonly string[];
}

/**
 * What a rule says about one error object (one node of a cause chain).
 * `registerClassifier` rules return this, or undefined to pass.
 */
export interface Verdict {
  readonly connection: boolean;
  readonly kind: Kind;
  readonly code?: string;
  readonly detail?: string;
  readonly delivered?: Delivered;
  readonly reason?: string;
}
