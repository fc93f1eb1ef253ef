/**
 * Verdicts for nats.js errors (@nats-io/nats-core, @nats-io/jetstream: the gateway's and
 * the nats:// client's wire), recognised by their `name` and fields, never by importing
 * nats.js. Each row says why. The line between the verdicts: what a leader election, a
 * restart or a lost connection explains (no responders, a closed connection, JetStream
 * temporarily unavailable) is a connection error: retry with the same headers. What only
 * a person can change (credentials, permissions, a missing stream, a message too large)
 * is not. A nats.js `TimeoutError` is judged by the generic TimeoutError rule (a timeout:
 * the request may have been acted on).
 */

import type { Delivered, Kind } from "./classification.js";
import type { ErrorNode } from "./error-node.js";

export interface NatsVerdict {
  readonly code: string;
  readonly kind: Kind;
  readonly connection: boolean;
  readonly delivered: Delivered;
  readonly meaning: string;
  readonly detail: string;
}

/** JetStream API error codes told apart (nats-server's errors.json). */
export const NATS_API = {
  /** "wrong last sequence": Nats-Expected-Last-Subject-Sequence did not match. */
  wrongLastSequence: 10071,
  /** "JetStream system temporarily unavailable". */
  temporarilyUnavailable: 10008,
  streamNotFound: 10059,
  noMessageFound: 10037,
} as const;

const conn = (code: string, kind: Kind, delivered: Delivered, meaning: string): NatsVerdict => ({
  code,
  kind,
  connection: true,
  delivered,
  meaning,
  detail: "nats",
});

const person = (code: string, meaning: string, detail = "nats"): NatsVerdict => ({
  code,
  kind: "other",
  connection: false,
  delivered: "no",
  meaning,
  detail,
});

/** The verdict for one nats.js error (not its cause), or undefined: not a NATS shape, or judged by its cause. */
export function natsVerdict(node: ErrorNode): NatsVerdict | undefined {
  const message = node.message;
  switch (node.name) {
    case "NoRespondersError": // nats-core 3: no subscriber on the subject (a stream without a leader: an election)
    case "NoResponders":
      return conn("NATS_NO_RESPONDERS", "not-connected", "no", "NATS: no responders (no stream leader yet)");
    case "ClosedConnectionError": // the connection was closed under the request
    case "DrainingConnectionError":
      return conn("NATS_CONNECTION_CLOSED", "not-connected", "maybe", "NATS connection closed");
    case "ConnectionError": // dial or socket failure inside nats.js
      return conn("NATS_CONNECTION_ERROR", "not-connected", "maybe", `NATS connection failed: ${message}`);
    case "RequestError": // a request failed because of its transport; other RequestErrors are judged by their cause
      if (message.includes("no responders"))
        return conn("NATS_NO_RESPONDERS", "not-connected", "no", "NATS: no responders (no stream leader yet)");
      if (message.includes("disconnected"))
        return conn("NATS_DISCONNECTED", "not-connected", "maybe", "NATS connection lost");
      return undefined;
    case "PermissionViolationError": // the user may not publish or subscribe there: a person must act
      return person("NATS_PERMISSION", `NATS permission violation: ${message}`, "auth");
    case "AuthorizationError": // wrong user, password, token or creds
    case "UserAuthenticationExpiredError":
      return person("NATS_AUTHORIZATION", `NATS authorization failed: ${message}`, "auth");
    case "JetStreamApiError":
    case "StreamNotFoundError":
    case "ConsumerNotFoundError": {
      const status = node.get("status");
      const code = typeof node.rawCode === "number" ? node.rawCode : 0;
      if (status === 503 || code === NATS_API.temporarilyUnavailable)
        return conn(`NATS_API_${code}`, "not-connected", "maybe", `JetStream temporarily unavailable: ${message}`);
      if (status === 408)
        return conn(`NATS_API_${code}`, "timeout", "maybe", `JetStream request timed out: ${message}`);
      return person(`NATS_API_${code}`, `JetStream API error ${code}: ${message}`);
    }
    default:
      return undefined;
  }
}
