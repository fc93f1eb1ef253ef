/**
 * The errors an exactly-once writer rejects its callers' writes with: a refusal a person must
 * fix (permission, limits: OUTLAST_NATS_REJECTED, naming the stream and subject, with NATS's
 * error as the cause) and a closed writer (OUTLAST_CLOSED). Transient failures reject nothing:
 * the writer re-reads its mark and resends (exactly-once-writer.ts).
 */

import { OutlastError } from "../errors/outlast-error.js";

/** `what` failed for good: e.g. "the stream refused seq 7 of robot-1", "cannot read the mark of robot-1". */
export function natsRejected(
  what: string,
  cause: unknown,
  stream: string,
  subject: string,
): OutlastError<"OUTLAST_NATS_REJECTED"> {
  const text = cause instanceof Error ? cause.message : String(cause);
  return new OutlastError("OUTLAST_NATS_REJECTED", `${what}: ${text}`, { cause, details: { stream, subject } });
}

/** A write to a closed writer, or one still waiting when it closed (`beforeStored`). */
export function writerClosed(clientId: string, beforeStored: boolean): OutlastError<"OUTLAST_CLOSED"> {
  return new OutlastError(
    "OUTLAST_CLOSED",
    beforeStored ? `writer of ${clientId} closed before its messages were stored` : `writer of ${clientId} is closed`,
  );
}
