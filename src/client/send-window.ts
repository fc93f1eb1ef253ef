/**
 * Messages written on the current connection and not yet acknowledged, bounded
 * by messages and bytes. Fixed-size typed-array ring (capacity =
 * maxInFlightMessages): no allocation per message.
 */

export class SendWindow {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly #seqs: Float64Array;
  readonly #sizes: Float64Array;
  readonly #sentAt: Float64Array;
  #head = 0;
  #count = 0;
  #bytes = 0;

  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.#seqs = new Float64Array(maxMessages);
    this.#sizes = new Float64Array(maxMessages);
    this.#sentAt = new Float64Array(maxMessages);
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Messages that may still be added (ignoring bytes). */
  get freeMessages(): number {
    return this.maxMessages - this.#count;
  }

  /** Bytes that may still be added; an empty window always takes one message, whatever its size. */
  get freeBytes(): number {
    return this.#count === 0 ? Infinity : Math.max(0, this.maxBytes - this.#bytes);
  }

  /** Highest seq in the window, or 0. */
  get lastSeq(): number {
    return this.#count === 0 ? 0 : (this.#seqs[(this.#head + this.#count - 1) % this.maxMessages] as number);
  }

  add(seq: number, size: number, sentAtMs: number): void {
    if (this.#count === this.maxMessages) throw new Error("outlast client bug: send window overflow");
    const i = (this.#head + this.#count) % this.maxMessages;
    this.#seqs[i] = seq;
    this.#sizes[i] = size;
    this.#sentAt[i] = sentAtMs;
    this.#count++;
    this.#bytes += size;
  }

  /**
   * Removes every message with seq <= `seq`; calls `each(seq, sentAtMs)` for
   * each in order. Returns how many were removed.
   */
  ackUpTo(seq: number, each: ((seq: number, sentAtMs: number) => void) | undefined): number {
    let removed = 0;
    while (this.#count > 0) {
      const s = this.#seqs[this.#head] as number;
      if (s > seq) break;
      if (each !== undefined) each(s, this.#sentAt[this.#head] as number);
      this.#bytes -= this.#sizes[this.#head] as number;
      this.#head = (this.#head + 1) % this.maxMessages;
      this.#count--;
      removed++;
    }
    return removed;
  }

  /** True when `seq` is in the window. */
  has(seq: number): boolean {
    if (this.#count === 0) return false;
    const first = this.#seqs[this.#head] as number;
    return seq >= first && seq <= this.lastSeq;
  }

  clear(): void {
    this.#head = 0;
    this.#count = 0;
    this.#bytes = 0;
  }
}
