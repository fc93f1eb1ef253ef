/**
 * What a JetStream writer does after a failed publish or mark read. The verdict itself is
 * classify()'s: nats.js errors have their rows in src/errors/nats-rules.ts (library rules,
 * docs/library-errors.md), so every NATS error is judged by the one classifier.
 */

import { classify } from "../errors/classify.js";
import { NATS_API } from "../errors/nats-rules.js";

/** JetStream API error codes the writer and the stream setup tell apart. */
export const API = NATS_API;

/** What the writer does after a failed publish or mark read. */
export type NatsFailure =
  /** Someone else wrote on the subject (another gateway): re-read the mark. Not an error. */
  | { readonly kind: "moved" }
  /** Leader election, timeout, lost connection: stop acknowledging, re-read, retry with the same headers. */
  | { readonly kind: "transient"; readonly reason: string }
  /** A person must act (permission, configuration, limits). */
  | { readonly kind: "fatal"; readonly reason: string };

export function natsFailure(err: unknown): NatsFailure {
  if (typeof err === "object" && err !== null && (err as { code?: unknown }).code === API.wrongLastSequence)
    return { kind: "moved" };
  const c = classify(err);
  return c.connection ? { kind: "transient", reason: c.reason } : { kind: "fatal", reason: c.reason };
}
