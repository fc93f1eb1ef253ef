/**
 * Verdicts for errors that carry no useful `code`: recognised by duck typing
 * (name, message phrases, library-specific fields), never by instanceof and
 * never by importing the library. Each row says which library and why.
 */

import type { Kind } from "./classification.js";
import type { ErrorNode } from "./error-node.js";

export interface LibraryVerdict {
  readonly code: string;
  readonly kind: Kind;
  readonly connection: boolean;
  readonly connectPhase: boolean;
  readonly meaning: string;
  readonly detail?: string;
}

type MessageRow = readonly [prefix: string, verdict: LibraryVerdict];

const v = (
  code: string,
  kind: Kind,
  connection: boolean,
  connectPhase: boolean,
  meaning: string,
  detail?: string,
): LibraryVerdict =>
  detail === undefined
    ? { code, kind, connection, connectPhase, meaning }
    : { code, kind, connection, connectPhase, meaning, detail };

/** Code-less errors matched by the start of their message. */
const BY_MESSAGE_PREFIX: readonly MessageRow[] = [
  // node-postgres: the socket ended under an active client
  [
    "Connection terminated unexpectedly",
    v("PG_CONNECTION_TERMINATED", "reset", true, false, "node-postgres: the server closed the connection", "pg"),
  ],
  [
    "Connection terminated due to connection timeout",
    v("PG_CONNECT_TIMEOUT", "timeout", true, true, "node-postgres: connect timed out", "pg"),
  ],
  [
    "Client has encountered a connection error and is not queryable",
    v("PG_NOT_QUERYABLE", "not-connected", true, false, "node-postgres: client lost its connection", "pg"),
  ],
  // ioredis
  [
    "Connection is closed.",
    v("REDIS_CONNECTION_CLOSED", "not-connected", true, false, "ioredis: the connection is closed", "ioredis"),
  ],
  [
    "Stream isn't writeable and enableOfflineQueue options is false",
    v(
      "REDIS_NOT_WRITABLE",
      "not-connected",
      true,
      true,
      "ioredis: not connected and the offline queue is off",
      "ioredis",
    ),
  ],
  [
    "Reached the max retries per request limit",
    v("REDIS_MAX_RETRIES", "not-connected", true, false, "ioredis: gave up reconnecting for this command", "ioredis"),
  ],
  // ws
  [
    "Opening handshake has timed out",
    v("WS_HANDSHAKE_TIMEOUT", "timeout", true, true, "ws: opening handshake timed out", "ws"),
  ],
  [
    "WebSocket is not open",
    v("WS_NOT_OPEN", "not-connected", true, false, "ws: send on a socket that is not open", "ws"),
  ],
  [
    "WebSocket was closed before the connection was established",
    v("WS_CLOSED_BEFORE_OPEN", "aborted", false, true, "ws: closed by the caller while connecting", "cancelled"),
  ],
  // a gateway in front of the WebSocket server says its backend is down or restarting: transient
  [
    "Unexpected server response: 502",
    v("WS_BAD_GATEWAY", "refused", true, true, "ws: the gateway could not reach the server (HTTP 502)", "http-status"),
  ],
  [
    "Unexpected server response: 503",
    v("WS_UNAVAILABLE", "refused", true, true, "ws: the server is unavailable (HTTP 503)", "http-status"),
  ],
  [
    "Unexpected server response: 504",
    v(
      "WS_GATEWAY_TIMEOUT",
      "timeout",
      true,
      true,
      "ws: the gateway timed out reaching the server (HTTP 504)",
      "http-status",
    ),
  ],
  [
    "Unexpected server response",
    v(
      "WS_UNEXPECTED_RESPONSE",
      "other",
      false,
      true,
      "ws: the server answered the upgrade with an HTTP status",
      "http-status",
    ),
  ],
  // MQTT.js (its reason codes are in mqtt-rules.ts): no PINGRESP within the keepalive, no CONNACK within connectTimeout
  [
    "Keepalive timeout",
    v("MQTT_KEEPALIVE_TIMEOUT", "timeout", true, false, "MQTT.js: no answer within the keepalive", "mqtt"),
  ],
  [
    "connack timeout",
    v("MQTT_CONNACK_TIMEOUT", "timeout", true, true, "MQTT.js: no CONNACK within connectTimeout", "mqtt"),
  ],
  // Node http / net without a code (older versions, wrappers that drop the code)
  [
    "socket hang up",
    v("ECONNRESET", "reset", true, false, "socket hang up: the server closed the connection", "hang-up"),
  ],
  [
    "Client network socket disconnected before secure TLS connection was established",
    v("ECONNRESET", "tls", true, true, "connection closed during the TLS handshake", "tls-handshake"),
  ],
  ["read ECONNRESET", v("ECONNRESET", "reset", true, false, "connection reset by peer")],
];

/** The TLS-handshake phrase Node puts on ECONNRESET when the peer drops the handshake. */
export const TLS_HANDSHAKE_DROPPED = "before secure TLS connection was established";

/** gRPC status codes (grpc-js puts them in a numeric `code`, with `details` and `metadata`). */
const GRPC_STATUS: ReadonlyMap<number, LibraryVerdict> = new Map([
  [1, v("GRPC_CANCELLED", "other", false, false, "gRPC CANCELLED: cancelled by the caller", "cancelled")],
  [4, v("GRPC_DEADLINE_EXCEEDED", "timeout", true, false, "gRPC DEADLINE_EXCEEDED: the deadline passed", "grpc")],
  [
    14,
    v(
      "GRPC_UNAVAILABLE",
      "other",
      true,
      false,
      "gRPC UNAVAILABLE: the service cannot be reached right now",
      "grpc-unavailable",
    ),
  ],
]);

export function isGrpcStatusError(node: ErrorNode): boolean {
  const code = node.rawCode;
  return (
    typeof code === "number" &&
    Number.isInteger(code) &&
    code >= 0 &&
    code <= 16 &&
    typeof node.get("details") === "string" &&
    node.get("metadata") !== undefined
  );
}

/** The gRPC verdict, or a non-connection one for every other status. */
export function grpcVerdict(status: number): LibraryVerdict {
  return (
    GRPC_STATUS.get(status) ?? v(`GRPC_STATUS_${status}`, "other", false, false, `gRPC status ${status}`, "grpc-status")
  );
}

/** A verdict for a code-less error by its message, or undefined. */
export function byMessage(message: string): LibraryVerdict | undefined {
  for (const [prefix, verdict] of BY_MESSAGE_PREFIX) if (message.startsWith(prefix)) return verdict;
  return undefined;
}

/** axios reports its own timeout as ECONNABORTED "timeout of 1000ms exceeded". */
export function isAxiosTimeout(node: ErrorNode): boolean {
  return node.code === "ECONNABORTED" && /^timeout (of \d+ms )?exceeded/.test(node.message);
}

/** An errno-ish code named inside a text ("... Last error: connect ECONNREFUSED 127.0.0.1:50051"). */
export function codeInText(message: string): string | undefined {
  const m = /\b(E[A-Z]{3,}|NGHTTP2_[A-Z_]+|ERR_SSL_[A-Z0-9_]+)\b/.exec(message);
  return m?.[1];
}
