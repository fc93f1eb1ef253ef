/**
 * The stored sends waiting for their acknowledgement, by seq: the seq -> send
 * map of the delivery path. The outbox numbers its records and never writes
 * into a send, so this is the one place that knows which send a seq belongs
 * to; a renumber remaps it here. Seqs only grow (appends come back in order),
 * so two parallel ring deques do: O(1) to add and to settle in order, binary
 * search to find one. A send settled early (aborted, dropped) stays until
 * acknowledged past, and is skipped.
 */

import { RingDeque } from "../outbox/ring-deque.js";
import type { PendingSend } from "./pending-send.js";

export class SendsBySeq {
  #seqs = new RingDeque<number>();
  #sends = new RingDeque<PendingSend>();

  get size(): number {
    return this.#seqs.length;
  }

  /** Adds `send` as `seq`, which must be higher than every seq held. */
  add(seq: number, send: PendingSend): void {
    this.#seqs.push(seq);
    this.#sends.push(send);
  }

  /** Resolves every send with seq <= `upToSeq` with its seq, and forgets them. */
  acknowledge(upToSeq: number): void {
    const seqs = this.#seqs;
    for (let seq = seqs.peekFirst(); seq !== undefined && seq <= upToSeq; seq = seqs.peekFirst()) {
      seqs.shift();
      (this.#sends.shift() as PendingSend).settle(undefined, seq);
    }
  }

  /** The unsettled send stored as `seq`, if any. */
  get(seq: number): PendingSend | undefined {
    const seqs = this.#seqs;
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((seqs.at(mid) as number) < seq) lo = mid + 1;
      else hi = mid;
    }
    if (seqs.at(lo) !== seq) return undefined;
    const send = this.#sends.at(lo) as PendingSend;
    return send.settled ? undefined : send;
  }

  /**
   * The outbox gave its records new seqs: `remap` maps an old seq to its new
   * one (in the same order). Settled sends are left out; an unsettled one with
   * no new seq keeps its own (it is below every renumbered one).
   */
  renumber(remap: ReadonlyMap<number, number>): void {
    const seqs = new RingDeque<number>();
    const sends = new RingDeque<PendingSend>();
    for (let i = 0; i < this.#seqs.length; i++) {
      const send = this.#sends.at(i) as PendingSend;
      if (send.settled) continue;
      const old = this.#seqs.at(i) as number;
      seqs.push(remap.get(old) ?? old);
      sends.push(send);
    }
    this.#seqs = seqs;
    this.#sends = sends;
  }

  /** Rejects every send held with `err` and forgets them. */
  failAll(err: unknown): void {
    for (const send of this.#sends) send.settle(err, undefined);
    this.#seqs.clear();
    this.#sends.clear();
  }
}
