/**
 * How the client reaches a peer: one Transport per wire (the outlast protocol
 * over tcp:// and tls://, MQTT over mqtt:// and mqtts://, ...), chosen by the
 * URL's scheme (schemes.ts). A Transport opens Links; a Link is one
 * connection's life. Everything else (the outbox, the send window, backoff,
 * classify(), stats, events, close/destroy) lives above this interface in
 * client.ts and delivery.ts and is written once for every transport.
 *
 * How to add one: docs in /docs/brokers.md and notes/transport-interface.md.
 */

import type { OutboxRecord } from "../../outbox/outbox.js";
import type { ResolvedOptions } from "../options.js";
import type { Endpoint } from "../url.js";

/** What a Link tells the client. Each is called on the event loop, never inside a Link method call. */
export interface LinkEvents {
  /**
   * The link is ready for records. `lastSeq`: the highest seq of this clientId the
   * peer has already processed (the outlast server's WELCOME.lastSeq), or 0 when the
   * peer keeps no such mark (a broker): then every stored record is written again.
   */
  onOpen(lastSeq: number): void;
  /**
   * Cumulative: every record with seq <= `seq` written on this link is acknowledged
   * and may leave the outbox. `duplicates`: how many of them the peer skipped as
   * duplicates (0 when it cannot tell). A transport whose peer acknowledges one
   * record at a time reports the contiguous acknowledged prefix (see AckTracker).
   */
  onAck(seq: number, duplicates: number): void;
  /** Writes may resume after writeRecords() returned false. */
  onDrain(): void;
  /**
   * Exactly once, last. `err`: what ended the link (undefined for a clean end); the
   * client classifies it (classify()): a connection error retries with backoff, any
   * other kind is reported as `error` and retried at the backoff cap.
   * `goodbye`: the peer closed on purpose (it said GOODBYE, or a broker's DISCONNECT).
   */
  onClose(err: Error | undefined, goodbye: boolean): void;
}

/** One connection to one peer. A Link never reconnects: the client opens a new one. */
export interface Link {
  /** True between onOpen and the start of closing. */
  readonly isOpen: boolean;
  /** True once onClose was called. */
  readonly closed: boolean;
  /** Clock ms when a byte last arrived from the peer; -Infinity before onOpen (backoff reset and dead-link checks). */
  readonly lastHeardMs: number;
  /** The link's write buffer is full: wait for onDrain before writing more. */
  readonly writableNeedDrain: boolean;
  /** Largest record data the peer takes (valid after onOpen); larger stored records are dropped as "tooLarge". */
  readonly maxRecordBytes: number;
  /**
   * Most records unacknowledged at once on this link (valid after onOpen): the client's
   * window is the smaller of this and maxInFlightMessages (MQTT: the broker's Receive Maximum).
   */
  readonly maxInFlightMessages: number;
  /**
   * Optional: most records per writeRecords() call. The client writes batches until the link's
   * buffer is full (writableNeedDrain), then waits for onDrain, so little waits in user space.
   * Undefined: one call takes everything the window allows (the outlast protocol copies small
   * records into one buffer, so one large write is cheapest there).
   */
  readonly maxBatchMessages?: number;
  /**
   * Writes `records` (in seq order, after those already written on this link). Records
   * with seq <= `maybeSentUpToSeq` may have been written before, on an earlier link or
   * by an earlier process (MQTT sets DUP on them). Returns false when the caller should
   * wait for onDrain.
   */
  writeRecords(records: readonly OutboxRecord[], maybeSentUpToSeq: number): boolean;
  /** Graceful end (close()): the peer is told, onClose follows. */
  sayGoodbye(): void;
  /** Ends at once; onClose follows with `err` (when given and nothing ended it before). */
  destroy(err?: Error): void;
}

export interface Transport {
  /** Its name, for messages ("outlast", "mqtt"). */
  readonly name: string;
  /**
   * Checks the options this transport needs or refuses, at connect() (throws
   * OUTLAST_INVALID_OPTION naming the option). E.g. mqtt:// requires `topic`.
   */
  checkOptions(options: ResolvedOptions): void;
  /** Starts connecting at once; the Link reports through `events`. `connectTimeoutMs` bounds the whole opening. */
  open(endpoint: Endpoint, clientId: string, options: ResolvedOptions, events: LinkEvents): Link;
}
