/**
 * Coalesced acknowledgements (docs/protocol.md §5): at most one ACK per connection
 * per event-loop turn, for the highest seq the state reports durable. A client whose
 * handler succeeded (or that sent a duplicate) is marked dirty; one setImmediate then
 * records its successes in the DedupState and asks for a commit; the commit listener
 * (ClientRegistry.committed) sends the ACKs, at once for memory, later for disk.
 *
 * Sliced: one turn flushes at most FLUSH_SLICE_CLIENTS clients, in the order they became
 * dirty, and the rest wait for the next turns, so a burst from thousands of clients never
 * stalls the loop on one pass of socket writes (reads go on in between).
 */

import type { ClientState } from "./client-state.js";
import type { DedupState } from "./dedup-state.js";

/**
 * Clients whose ACK one event-loop turn writes at most (each costs a record and a socket write,
 * ~10-40 µs): 20,000 clients bursting at once are acknowledged over ~40 turns, not one long stall.
 */
const FLUSH_SLICE_CLIENTS = 512;

export class AckCoalescer {
  readonly #state: DedupState;
  /** Dirty clients in order; those before #head were flushed. */
  #dirty: ClientState[] = [];
  #head = 0;
  #scheduled = false;
  readonly #onTurn = (): void => this.#flushSlice(FLUSH_SLICE_CLIENTS);

  constructor(state: DedupState) {
    this.#state = state;
  }

  /** The client has something new to acknowledge: flush it on a coming turn. */
  markDirty(client: ClientState): void {
    if (!client.dirty) {
      client.dirty = true;
      this.#dirty.push(client);
    }
    this.#schedule();
  }

  /** Now: records the client's successes (the ACK follows the commit), or sends its ACK if all are recorded. */
  flushClient(client: ClientState): void {
    if (client.handledSeq > client.recordedSeq) {
      this.#state.record(client.id, client.handledSeq);
      client.recordedSeq = client.handledSeq;
      return; // the ACK (and the duplicates count) goes out once the state reports it durable
    }
    client.connection?.flushAck(client.durableSeq);
  }

  /** Records every pending success and sends the coalesced ACKs at once (server close). */
  flushAll(): void {
    this.#flushSlice(Infinity);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#onTurn);
  }

  #flushSlice(limit: number): void {
    this.#scheduled = false;
    const dirty = this.#dirty;
    const end = Math.min(dirty.length, this.#head + limit);
    for (; this.#head < end; this.#head++) {
      const client = dirty[this.#head] as ClientState;
      dirty[this.#head] = undefined as unknown as ClientState;
      client.dirty = false;
      this.flushClient(client);
    }
    if (this.#head >= dirty.length) {
      this.#dirty = [];
      this.#head = 0;
    }
    this.#state.commit(); // the commit listener acknowledges: at once for memory, later for disk
    if (this.#head < this.#dirty.length) this.#schedule();
  }
}
