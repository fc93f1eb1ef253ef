/**
 * For a transport whose peer acknowledges records one at a time (an MQTT
 * PUBACK, a JetStream PubAck): turns those into the client's cumulative
 * acknowledgement. Records are written in seq order; `ack(seq)` returns the
 * highest seq of the contiguous acknowledged prefix when it grew, so a record
 * never leaves the outbox before every record written before it on this link
 * is acknowledged too. In order (the common case: MQTT requires PUBACKs in
 * order) each ack is O(1); out of order ones wait in a set.
 */

export class AckTracker {
  /** Seqs written and not yet part of the acknowledged prefix, in write order, from `#head`. */
  #seqs: number[] = [];
  #head = 0;
  /** Acknowledged seqs that are not yet at the head. */
  readonly #early = new Set<number>();

  /** Records written and not yet released. */
  get pending(): number {
    return this.#seqs.length - this.#head;
  }

  written(seq: number): void {
    this.#seqs.push(seq);
  }

  /** Returns the new cumulative acknowledged seq, or undefined when the prefix did not grow. */
  ack(seq: number): number | undefined {
    const seqs = this.#seqs;
    if (this.#head >= seqs.length) return undefined;
    if (seqs[this.#head] !== seq) {
      this.#early.add(seq);
      return undefined;
    }
    let last = seq;
    this.#head++;
    while (this.#head < seqs.length && this.#early.size > 0 && this.#early.delete(seqs[this.#head] as number)) {
      last = seqs[this.#head] as number;
      this.#head++;
    }
    if (this.#head === seqs.length) {
      this.#seqs = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > seqs.length) {
      this.#seqs = seqs.slice(this.#head);
      this.#head = 0;
    }
    return last;
  }
}
