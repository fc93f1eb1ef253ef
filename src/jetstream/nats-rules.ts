/**
 * classify() rules for nats.js errors (@nats-io/nats-core, @nats-io/jetstream), by name
 * and fields, never by instanceof: registered when a NATS link opens (gateway or nats://
 * client), so every NATS error is judged by the one classifier. Each row says why.
 *
 * `natsFailure` turns a publish or mark-read error into what the gateway does next.
 */

import type { Verdict } from "../errors/classification.js";
import { classify } from "../errors/classify.js";
import { registerClassifier } from "../errors/registry.js";

/** JetStream API error codes the gateway tells apart (nats-server's errors.json). */
export const API = {
  /** "wrong last sequence": Nats-Expected-Last-Subject-Sequence did not match. */
  wrongLastSequence: 10071,
  /** "JetStream system temporarily unavailable". */
  temporarilyUnavailable: 10008,
  streamNotFound: 10059,
  noMessageFound: 10037,
} as const;

interface NatsLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly status?: unknown;
  readonly api_error?: unknown;
}

function fields(err: unknown): NatsLike | undefined {
  return typeof err === "object" && err !== null ? err : undefined;
}

const transient = (kind: Verdict["kind"], code: string, reason: string, delivered: "no" | "maybe"): Verdict => ({
  connection: true,
  kind,
  code,
  detail: "nats",
  delivered,
  reason,
});

const person = (code: string, reason: string): Verdict => ({
  connection: false,
  kind: "other",
  code,
  detail: "nats",
  reason,
});

/** The verdict for one nats.js error object (not its cause), or undefined to pass. */
export function natsVerdict(err: unknown): Verdict | undefined {
  const e = fields(err);
  if (e === undefined) return undefined;
  const name = typeof e.name === "string" ? e.name : "";
  const message = typeof e.message === "string" ? e.message : "";
  switch (name) {
    case "TimeoutError": // no answer in time: the request may have been acted on (a PubAck lost in an election)
      return transient("timeout", "NATS_TIMEOUT", "NATS request timed out", "maybe");
    case "NoResponders": // no subscriber for the subject: a stream without a leader (election), or JetStream restarting
      return transient("not-connected", "NATS_NO_RESPONDERS", "NATS: no responders (no stream leader yet)", "no");
    case "ClosedConnectionError": // the connection was closed under the request
    case "DrainingConnectionError":
      return transient("not-connected", "NATS_CONNECTION_CLOSED", "NATS connection closed", "maybe");
    case "ConnectionError": // dial or socket failure inside nats.js
      return transient("not-connected", "NATS_CONNECTION_ERROR", `NATS connection failed: ${message}`, "maybe");
    case "RequestError": // a request failed because of its transport: "no responders", "connection disconnected"
      if (message.includes("no responders"))
        return transient("not-connected", "NATS_NO_RESPONDERS", "NATS: no responders (no stream leader yet)", "no");
      if (message.includes("disconnected"))
        return transient("not-connected", "NATS_DISCONNECTED", "NATS connection lost", "maybe");
      return undefined;
    case "JetStreamNotEnabled": // nats.js says this for "no responders" to a JetStream publish: judged by its cause
      return undefined;
    case "PermissionViolationError": // the account may not publish or subscribe there: a person must act
      return person("NATS_PERMISSION", `NATS permission violation: ${message}`);
    case "AuthorizationError":
    case "UserAuthenticationExpiredError":
      return person("NATS_AUTHORIZATION", `NATS authorization failed: ${message}`);
    case "JetStreamApiError":
    case "StreamNotFoundError":
    case "ConsumerNotFoundError": {
      const status = typeof e.status === "number" ? e.status : 0;
      const code = typeof e.code === "number" ? e.code : 0;
      if (status === 503 || code === API.temporarilyUnavailable)
        return transient("not-connected", `NATS_API_${code}`, `JetStream temporarily unavailable: ${message}`, "maybe");
      if (status === 408)
        return transient("timeout", `NATS_API_${code}`, `JetStream request timed out: ${message}`, "maybe");
      return person(`NATS_API_${code}`, `JetStream API error ${code}: ${message}`);
    }
    default:
      return undefined;
  }
}

let registered = false;

/** Registers the NATS rules with classify() once per process. */
export function registerNatsClassifier(): void {
  if (registered) return;
  registered = true;
  registerClassifier({ name: "nats", match: natsVerdict });
}

/** What the gateway does after a failed publish or mark read. */
export type NatsFailure =
  /** Someone else wrote on the subject (another gateway): re-read the mark. Not an error. */
  | { readonly kind: "moved" }
  /** Leader election, timeout, lost connection: stop acknowledging, re-read, retry with the same headers. */
  | { readonly kind: "transient"; readonly reason: string }
  /** A person must act (permission, configuration, limits). */
  | { readonly kind: "fatal"; readonly reason: string };

export function natsFailure(err: unknown): NatsFailure {
  registerNatsClassifier();
  const e = fields(err);
  if (e !== undefined && e.code === API.wrongLastSequence) return { kind: "moved" };
  const c = classify(err);
  return c.connection ? { kind: "transient", reason: c.reason } : { kind: "fatal", reason: c.reason };
}
