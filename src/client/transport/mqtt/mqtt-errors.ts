/**
 * MQTT.js's errors as the client reports them. A CONNACK or PUBACK reason code
 * arrives as MQTT.js's ErrorWithReasonCode and keeps that shape (classify()
 * judges it by src/errors/mqtt-rules.ts); rejected credentials become
 * OUTLAST_AUTH_REJECTED (the same code as the outlast server's), with the
 * broker's error as the cause.
 */

import { isOutlastError, OutlastError } from "../../../errors/outlast-error.js";
import { mqttVerdict } from "../../../errors/mqtt-rules.js";
import { loadedMqtt } from "./load-mqtt.js";

export interface ReasonError extends Error {
  readonly code: number;
}

/** `err` when it carries an MQTT reason code; or a new one for `rc` (a broker's DISCONNECT). */
export function mqttReasonError(err: unknown): ReasonError | undefined;
export function mqttReasonError(rc: number, what: string): ReasonError;
export function mqttReasonError(err: unknown, what?: string): ReasonError | undefined {
  if (typeof err === "number") {
    const { ErrorWithReasonCode, ReasonCodes } = loadedMqtt();
    const name = (ReasonCodes as Record<number, string | undefined>)[err] ?? `reason code ${err}`;
    return new ErrorWithReasonCode(`${what ?? "MQTT"}: ${name}`, err);
  }
  if (
    err instanceof Error &&
    err.name === "ErrorWithReasonCode" &&
    typeof (err as Partial<ReasonError>).code === "number"
  )
    return err as ReasonError;
  return undefined;
}

/** The broker does not speak the version we asked for (3.1.1: return code 1; MQTT 5: 0x84). */
export function isVersionRefusal(err: ReasonError): boolean {
  return err.code === 1 || err.code === 0x84;
}

/** OUTLAST_AUTH_REJECTED for a refusal of our credentials or rights; undefined for any other reason. */
export function authRejected(err: ReasonError, href: string): OutlastError<"OUTLAST_AUTH_REJECTED"> | undefined {
  if (isOutlastError(err) || mqttVerdict(err.code).detail !== "auth") return undefined;
  return new OutlastError(
    "OUTLAST_AUTH_REJECTED",
    `the MQTT broker at ${href} refused us: ${err.message} (reason code ${err.code}); check username, password, client certificate and the broker's ACL`,
    { cause: err, details: { reasonCode: err.code } },
  );
}
