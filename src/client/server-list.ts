/**
 * The servers a client may use, in a shuffled order, tried round robin: a
 * fleet given the same list spreads over the servers, and when one dies its
 * clients move to the next one, so no load balancer is needed (nats.js's
 * server list works the same way). The backoff between attempts is the usual
 * full jitter, with the attempt counting complete passes over the list (see
 * `passOf`): a lost link moves on to the next server after a short jittered
 * pause, and the delays only grow once every server has failed.
 */

import type { Endpoint } from "./url.js";

export interface ServerEntry {
  readonly endpoint: Endpoint;
  /** Clock ms before which this server asked not to be tried again (a busy server's retryAfterMs); 0 when none. */
  notBeforeMs: number;
}

export class ServerList {
  readonly #entries: readonly ServerEntry[];
  /** Index of the server of the current (or last) attempt; -1 before the first. */
  #index = -1;

  /** Shuffles `endpoints` with `random` (Fisher-Yates); a single server is used as is. */
  constructor(endpoints: readonly Endpoint[], random: () => number) {
    if (endpoints.length === 0) throw new Error("outlast client bug: an empty server list");
    const entries = endpoints.map((endpoint): ServerEntry => ({ endpoint, notBeforeMs: 0 }));
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random() * (i + 1)));
      const t = entries[i] as ServerEntry;
      entries[i] = entries[j] as ServerEntry;
      entries[j] = t;
    }
    this.#entries = entries;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The server of the current (or last) attempt; undefined before the first. */
  get current(): ServerEntry | undefined {
    return this.#index < 0 ? undefined : this.#entries[this.#index];
  }

  /** The server the next attempt goes to (without moving to it). */
  peekNext(): ServerEntry {
    return this.#entries[(this.#index + 1) % this.#entries.length] as ServerEntry;
  }

  /** Moves to the next server, round robin, and returns it. */
  next(): ServerEntry {
    this.#index = (this.#index + 1) % this.#entries.length;
    return this.#entries[this.#index] as ServerEntry;
  }

  /** The shuffled order (for messages and tests). */
  order(): readonly Endpoint[] {
    return this.#entries.map((e) => e.endpoint);
  }
}

/**
 * The backoff attempt for the `failures`-th failure in a row (0-based) over
 * `servers` servers: the number of complete passes over the list. With one
 * server it is `failures` itself; with three, failures 0-2 wait at most
 * baseMs (each moving on to the next server), 3-5 at most 2 x baseMs, and so on.
 */
export function passOf(failures: number, servers: number): number {
  return Math.floor(failures / Math.max(1, servers));
}
