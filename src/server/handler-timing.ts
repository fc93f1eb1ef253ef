/**
 * Times handler calls for the `outlast:server:handlerStart` / `outlast:server:handled`
 * channels, only while someone listens (a metrics exporter): otherwise one
 * hasSubscribers check per call and nothing else.
 */

import { handledChannel, handlerStartChannel } from "./diagnostics.js";

/** No one listened when the call began: nothing to publish when it ends. */
export const UNTIMED = -1;

/** Publishes the start of a call; returns its start time (ms), or UNTIMED. */
export function callStarted(clientId: string, firstSeq: number, lastSeq: number, messages: number): number {
  if (!handlerStartChannel.hasSubscribers && !handledChannel.hasSubscribers) return UNTIMED;
  if (handlerStartChannel.hasSubscribers) handlerStartChannel.publish({ clientId, firstSeq, lastSeq, messages });
  return performance.now();
}

/** Publishes the success of a call begun at `startedMs` (nothing when UNTIMED). */
export function callSucceeded(clientId: string, lastSeq: number, messages: number, startedMs: number): void {
  if (startedMs === UNTIMED || !handledChannel.hasSubscribers) return;
  handledChannel.publish({ clientId, lastSeq, messages, durationMs: performance.now() - startedMs });
}
