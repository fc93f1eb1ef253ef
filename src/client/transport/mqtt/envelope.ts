/**
 * The opt-in envelope (`mqtt: { envelope: true }`) for consumers of MQTT 3.1.1,
 * which has no user properties: the payload becomes one JSON line with the
 * message's identity, a newline, then the message bytes unchanged:
 *
 *   {"outlast-client-id":"robot-7","outlast-seq":"42"}\n<message bytes>
 *
 * `outlast-seq` is a decimal string, as in the MQTT 5 user property. A consumer
 * reads up to the first newline (0x0A; JSON.stringify never writes a raw one)
 * with `readMqttEnvelope`, or by hand in any language.
 */

const NEWLINE = 0x0a;

/** The envelope line of one message, newline included. */
export function envelopeHeader(clientId: string, seq: number): Buffer {
  return Buffer.from(`${JSON.stringify({ "outlast-client-id": clientId, "outlast-seq": String(seq) })}\n`, "utf8");
}

export interface MqttEnvelope {
  readonly clientId: string;
  readonly seq: number;
  /** The message as sent (a view into `payload`, no copy). */
  readonly data: Uint8Array;
}

/** Reads an enveloped payload; undefined when it is not one (no JSON line with both fields). */
export function readMqttEnvelope(payload: Uint8Array): MqttEnvelope | undefined {
  const end = payload.indexOf(NEWLINE);
  if (end < 0) return undefined;
  let head: unknown;
  try {
    head = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, end).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof head !== "object" || head === null) return undefined;
  const clientId = (head as Record<string, unknown>)["outlast-client-id"];
  const seqText = (head as Record<string, unknown>)["outlast-seq"];
  if (typeof clientId !== "string" || typeof seqText !== "string" || !/^[1-9][0-9]*$/.test(seqText)) return undefined;
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { clientId, seq, data: payload.subarray(end + 1) };
}
