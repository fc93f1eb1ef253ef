/**
 * Coalesced acknowledgements (docs/protocol.md §5): at most one ACK per connection
 * per event-loop turn, for the highest seq the state reports durable. A client whose
 * handler succeeded (or that sent a duplicate) is marked dirty; one setImmediate then
 * records the successes of every dirty client in the DedupState and asks for a commit.
 * When the state reports them durable (ClientRegistry.committed: at once for memory,
 * later for disk) their clients join the ACKs to write.
 *
 * Sliced by time: one turn writes ACKs for at most ACK_SLICE_MS (each write is a
 * syscall, ~10-40 µs on loopback, where it also runs the peer's receive path), and the
 * rest wait for the next turns, in order, so a burst from 20,000 clients never stalls the
 * loop on one pass of socket writes: reads, timers and the other connections go on in
 * between. Both queues are insertion-ordered Sets: a client is in each at most once,
 * and nothing is kept on the client for it.
 */

import type { ClientState } from "./client-state.js";
import type { DedupState } from "./dedup-state.js";

/** ACK writes per event-loop turn, in wall-clock ms (checked every ACK_CHECK_EVERY writes). */
const ACK_SLICE_MS = 5;
const ACK_CHECK_EVERY = 16;

export class AckCoalescer {
  readonly #state: DedupState;
  /** Clients with successes (or duplicates) to record and acknowledge. */
  readonly #dirty = new Set<ClientState>();
  /** Clients whose ACK is due (durable, or duplicates only), in order. */
  readonly #due = new Set<ClientState>();
  #scheduled = false;
  readonly #onTurn = (): void => this.#turn(ACK_SLICE_MS);

  constructor(state: DedupState) {
    this.#state = state;
  }

  /** The client has something new to acknowledge: record it and write its ACK on a coming turn. */
  markDirty(client: ClientState): void {
    this.#dirty.add(client);
    this.#schedule();
  }

  /** The client's ACK can go out (the state made its successes durable). */
  ackDue(client: ClientState): void {
    this.#due.add(client);
    this.#schedule();
  }

  /** Now: records the client's successes (the ACK follows the commit), or queues its ACK if all are recorded. */
  flushClient(client: ClientState): void {
    this.#dirty.delete(client);
    if (client.handledSeq > client.recordedSeq) {
      this.#state.record(client.id, client.handledSeq);
      client.recordedSeq = client.handledSeq;
      return; // the ACK (and the duplicates count) goes out once the state reports it durable
    }
    this.ackDue(client);
  }

  /** Records every pending success and writes every due ACK at once (server close). */
  flushAll(): void {
    this.#turn(Infinity);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#onTurn);
  }

  #turn(sliceMs: number): void {
    this.#scheduled = true; // what this turn adds is handled in it, or scheduled once at its end
    if (this.#dirty.size > 0) {
      // Recording is cheap (a buffered append): every dirty client at once, then one commit.
      for (const client of this.#dirty) this.flushClient(client);
      this.#state.commit(); // the commit listener makes the ACKs due: at once for memory, later for disk
    }
    const start = sliceMs === Infinity ? 0 : performance.now();
    let written = 0;
    for (const client of this.#due) {
      this.#due.delete(client);
      client.connection?.flushAck(client.durableSeq);
      if (++written % ACK_CHECK_EVERY === 0 && performance.now() - start >= sliceMs) break;
    }
    this.#scheduled = false;
    if (this.#due.size > 0 || this.#dirty.size > 0) this.#schedule();
  }
}
