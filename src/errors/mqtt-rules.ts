/**
 * Verdicts for MQTT reason codes, as MQTT.js reports them: an `Error` named
 * `ErrorWithReasonCode` whose numeric `code` is the CONNACK return code (MQTT
 * 3.1.1: 1-5) or the MQTT 5 reason code (>= 0x80) of a CONNACK, PUBACK or
 * DISCONNECT ("Connection refused: Not authorized", "Publish error: Quota
 * exceeded"). Recognised by that shape, never by importing MQTT.js.
 *
 * The line between the two verdicts: a code that the same request can outlive
 * (the broker is busy, shutting down, out of quota) is a connection error:
 * reconnect and resend. A code that only a person can change (credentials, a
 * ban, a topic the ACL refuses, a malformed request) is not: outlast keeps the
 * messages, reports the error once and retries slowly.
 */

import type { Kind } from "./classification.js";
import type { ErrorNode } from "./error-node.js";

export interface MqttVerdict {
  readonly code: string;
  readonly kind: Kind;
  readonly connection: boolean;
  /** A refusal (a CONNACK, or a PUBACK that did not accept the message): that message was not delivered. */
  readonly connectPhase: boolean;
  readonly meaning: string;
  readonly detail: string;
}

type Row = readonly [
  rc: number,
  code: string,
  kind: Kind,
  connection: boolean,
  connectPhase: boolean,
  meaning: string,
  detail: string,
];

const C = true; // connection error: reconnect and resend
const B = false; // not a connection error: a person must act
const PRE = true; // a refusal (CONNACK, or a PUBACK that did not accept the message): delivered "no"

const ROWS: readonly Row[] = [
  // MQTT 3.1.1 CONNACK return codes
  [
    1,
    "MQTT_UNACCEPTABLE_PROTOCOL_VERSION",
    "other",
    B,
    PRE,
    "MQTT: the broker does not speak this protocol version",
    "protocol-version",
  ],
  [2, "MQTT_IDENTIFIER_REJECTED", "other", B, PRE, "MQTT: the broker refused the client identifier", "mqtt-client-id"],
  [3, "MQTT_SERVER_UNAVAILABLE", "refused", C, PRE, "MQTT: the broker is unavailable", "busy"], // a broker restarting or overloaded
  [4, "MQTT_BAD_USERNAME_OR_PASSWORD", "other", B, PRE, "MQTT: bad username or password", "auth"],
  [5, "MQTT_NOT_AUTHORIZED", "other", B, PRE, "MQTT: not authorized", "auth"],
  // MQTT 5 reason codes (CONNACK, PUBACK, DISCONNECT)
  [0x80, "MQTT_UNSPECIFIED_ERROR", "other", C, !PRE, "MQTT: the broker failed without saying why", "mqtt"], // transient until proven otherwise
  [0x81, "MQTT_MALFORMED_PACKET", "other", B, !PRE, "MQTT: the broker could not parse a packet", "protocol"],
  [0x82, "MQTT_PROTOCOL_ERROR", "other", B, !PRE, "MQTT: protocol error", "protocol"],
  [
    0x83,
    "MQTT_IMPLEMENTATION_SPECIFIC_ERROR",
    "other",
    B,
    !PRE,
    "MQTT: the broker's policy refused it (implementation specific)",
    "mqtt",
  ],
  [
    0x84,
    "MQTT_UNSUPPORTED_PROTOCOL_VERSION",
    "other",
    B,
    PRE,
    "MQTT: the broker does not speak this protocol version",
    "protocol-version",
  ],
  [
    0x85,
    "MQTT_CLIENT_IDENTIFIER_NOT_VALID",
    "other",
    B,
    PRE,
    "MQTT: the broker refused the client identifier",
    "mqtt-client-id",
  ],
  [0x86, "MQTT_BAD_USERNAME_OR_PASSWORD", "other", B, PRE, "MQTT: bad username or password", "auth"],
  [
    0x87,
    "MQTT_NOT_AUTHORIZED",
    "other",
    B,
    PRE,
    "MQTT: not authorized (CONNACK: to connect; PUBACK: to publish on this topic)",
    "auth",
  ],
  [0x88, "MQTT_SERVER_UNAVAILABLE", "refused", C, PRE, "MQTT: the broker is unavailable", "busy"],
  [0x89, "MQTT_SERVER_BUSY", "refused", C, PRE, "MQTT: the broker is busy", "busy"],
  [0x8a, "MQTT_BANNED", "other", B, PRE, "MQTT: this client is banned", "auth"],
  [0x8b, "MQTT_SERVER_SHUTTING_DOWN", "reset", C, !PRE, "MQTT: the broker is shutting down", "mqtt"],
  [0x8c, "MQTT_BAD_AUTHENTICATION_METHOD", "other", B, PRE, "MQTT: bad authentication method", "auth"],
  [0x8d, "MQTT_KEEP_ALIVE_TIMEOUT", "timeout", C, !PRE, "MQTT: the broker heard nothing within the keepalive", "mqtt"],
  [
    0x8e,
    "MQTT_SESSION_TAKEN_OVER",
    "other",
    B,
    !PRE,
    "MQTT: another connection took this client identifier (two clients with one clientId?)",
    "mqtt-client-id",
  ],
  [0x90, "MQTT_TOPIC_NAME_INVALID", "other", B, PRE, "MQTT: the broker refused the topic name", "bug"],
  [
    0x93,
    "MQTT_RECEIVE_MAXIMUM_EXCEEDED",
    "other",
    B,
    !PRE,
    "MQTT: more publishes in flight than the broker's Receive Maximum",
    "protocol",
  ],
  [0x95, "MQTT_PACKET_TOO_LARGE", "other", B, !PRE, "MQTT: a packet exceeded the broker's Maximum Packet Size", "mqtt"],
  [0x96, "MQTT_MESSAGE_RATE_TOO_HIGH", "refused", C, !PRE, "MQTT: message rate too high", "busy"],
  [0x97, "MQTT_QUOTA_EXCEEDED", "refused", C, !PRE, "MQTT: quota exceeded", "busy"],
  [0x98, "MQTT_ADMINISTRATIVE_ACTION", "reset", C, !PRE, "MQTT: disconnected by an administrator", "mqtt"],
  [0x99, "MQTT_PAYLOAD_FORMAT_INVALID", "other", B, PRE, "MQTT: the broker refused the payload format", "bug"],
  [0x9a, "MQTT_RETAIN_NOT_SUPPORTED", "other", B, PRE, "MQTT: retain not supported", "bug"],
  [0x9b, "MQTT_QOS_NOT_SUPPORTED", "other", B, PRE, "MQTT: QoS not supported", "bug"],
  [0x9c, "MQTT_USE_ANOTHER_SERVER", "refused", C, PRE, "MQTT: the broker says use another server", "mqtt"],
  [0x9d, "MQTT_SERVER_MOVED", "refused", C, PRE, "MQTT: the broker has moved", "mqtt"],
  [0x9f, "MQTT_CONNECTION_RATE_EXCEEDED", "refused", C, PRE, "MQTT: connection rate exceeded", "busy"],
  [0xa0, "MQTT_MAXIMUM_CONNECT_TIME", "reset", C, !PRE, "MQTT: the broker's maximum connect time passed", "mqtt"],
];

const BY_REASON_CODE: ReadonlyMap<number, MqttVerdict> = new Map(
  ROWS.map(([rc, code, kind, connection, connectPhase, meaning, detail]) => [
    rc,
    { code, kind, connection, connectPhase, meaning, detail },
  ]),
);

/** MQTT.js's ErrorWithReasonCode: that name and a numeric `code` in 1..255. */
export function isMqttReasonError(node: ErrorNode): boolean {
  const rc = node.rawCode;
  return node.name === "ErrorWithReasonCode" && typeof rc === "number" && Number.isInteger(rc) && rc > 0 && rc < 256;
}

/** The verdict for a reason code; a code not in the table is not a connection error. */
export function mqttVerdict(reasonCode: number): MqttVerdict {
  return (
    BY_REASON_CODE.get(reasonCode) ?? {
      code: `MQTT_REASON_${reasonCode}`,
      kind: "other",
      connection: false,
      connectPhase: false,
      meaning: `MQTT reason code ${reasonCode}`,
      detail: "mqtt",
    }
  );
}
