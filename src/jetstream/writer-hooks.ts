/**
 * What an exactly-once writer (exactly-once-writer.ts) is given and what it reports: the
 * messages it takes, the NATS link, pace, clock and shared publish slots its owner hands it
 * (the gateway's JetStream dedup state, or the nats:// client link), and the counters it adds
 * to. Keeps the writer free of both owners.
 */

import type { NatsLink } from "./nats-link.js";
import type { NatsFailure } from "./nats-rules.js";
import type { PublishSlots } from "./publish-slots.js";

export interface OutgoingMessage {
  readonly seq: number;
  readonly data: Uint8Array;
}

export interface WriterHooks {
  readonly link: NatsLink;
  /** Publishes of this writer in flight at once. */
  readonly maxInFlight: number;
  /** Shared with the other writers of a gateway (publish-slots.ts). */
  readonly slots: PublishSlots;
  /** Every NATS error the writer meets, with what it made of it. */
  natsError(error: unknown, failure: NatsFailure, clientId: string): void;
  /** Delay before the next mark read after a failed one. */
  retryDelayMs(attempt: number): number;
  setTimeout(fn: () => void, ms: number): unknown;
  /** Monotonic ms (the injected clock). */
  now(): number;
}

export interface WriterStats {
  /** Publishes sent (resends after a recovery included). */
  published: number;
  /** Messages known stored (PubAck, or under a re-read mark). */
  acknowledged: number;
  /** Times a writer stopped to re-read its mark. */
  recoveries: number;
}
