/** Why a stored message is dropped without being delivered, and the error its send() rejects with. */

import { OutlastError } from "../errors/outlast-error.js";
import { MESSAGE_HEADER_BYTES } from "../protocol/limits.js";
import type { DropReason } from "../outbox/outbox.js";

const DROP_ERRORS: Record<
  DropReason,
  ["OUTLAST_QUEUE_FULL" | "OUTLAST_MESSAGE_EXPIRED" | "OUTLAST_MESSAGE_TOO_LARGE", string]
> = {
  full: ["OUTLAST_QUEUE_FULL", "dropped to make room in a full queue (best-effort message)"],
  expired: ["OUTLAST_MESSAGE_EXPIRED", "dropped: not acknowledged within its ttlMs"],
  tooLarge: ["OUTLAST_MESSAGE_TOO_LARGE", "dropped: larger than the server's maxFrameBytes"],
};

/** The error a dropped message's send() rejects with. */
export function dropError(seq: number, reason: DropReason): OutlastError {
  const [code, text] = DROP_ERRORS[reason];
  return new OutlastError(code, `message ${seq} ${text}`, { details: { seq, reason } });
}

/** A MESSAGE frame of `dataBytes` exceeds `maxFrameBytes` (the length field counts type + seq + data). */
export function tooLargeForFrame(dataBytes: number, maxFrameBytes: number): boolean {
  return MESSAGE_HEADER_BYTES - 5 + 1 + dataBytes > maxFrameBytes;
}

/** The largest data a MESSAGE frame of at most `maxFrameBytes` carries (the inverse of tooLargeForFrame). */
export function maxDataBytesInFrame(maxFrameBytes: number): number {
  return maxFrameBytes - (MESSAGE_HEADER_BYTES - 5 + 1);
}
