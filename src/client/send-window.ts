/**
 * Messages written on the current connection and not yet acknowledged, bounded
 * by messages and bytes. A typed-array ring (seq, size, sent-at per entry) that
 * starts small and doubles as the window fills, up to maxInFlightMessages: an
 * idle client holds a few hundred bytes, a busy one allocates nothing per
 * message. When a large window empties it goes back to the small size, and
 * when it fills again it returns to its former size in one step (a pipelined
 * sender empties its window once per round of acknowledgements: one
 * allocation per round, not a doubling series).
 */

/** Entries of the ring when the first message goes in flight (a power of two). */
const INITIAL_CAPACITY = 16;
/** An empty window larger than this gives its ring back (the next message allocates a small one). */
const SHRINK_ABOVE = 64;
/** Float64 slots per entry: seq, size, sentAtMs. */
const STRIDE = 3;
/** The ring of a window that holds nothing yet: a new or idle client allocates no ArrayBuffer. */
const NO_RING = new Float64Array(0);

export class SendWindow {
  readonly maxMessages: number;
  readonly maxBytes: number;
  /** Entry i is at [i * STRIDE, i * STRIDE + STRIDE): seq, size, sentAtMs. Capacity is a power of two. */
  #ring = NO_RING;
  /** Capacity - 1 (-1 without a ring). */
  #mask = -1;
  /** The size the ring had before it last shrank: the next growth goes straight back to it. */
  #formerCapacity = 0;
  #head = 0;
  #count = 0;
  #bytes = 0;

  constructor(maxMessages: number, maxBytes: number) {
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Entries the ring holds now (grows on demand; for tests and the footprint). */
  get capacity(): number {
    return this.#mask + 1;
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
    return this.#count === 0 ? 0 : (this.#ring[((this.#head + this.#count - 1) & this.#mask) * STRIDE] as number);
  }

  add(seq: number, size: number, sentAtMs: number): void {
    if (this.#count === this.maxMessages) throw new Error("outlast client bug: send window overflow");
    if (this.#count > this.#mask) {
      this.#resize(Math.max((this.#mask + 1) * 2, INITIAL_CAPACITY, this.#formerCapacity));
      this.#formerCapacity = 0;
    }
    const at = ((this.#head + this.#count) & this.#mask) * STRIDE;
    const ring = this.#ring;
    ring[at] = seq;
    ring[at + 1] = size;
    ring[at + 2] = sentAtMs;
    this.#count++;
    this.#bytes += size;
  }

  /**
   * Removes every message with seq <= `seq`; calls `each(seq, sentAtMs)` for
   * each in order. Returns how many were removed.
   */
  ackUpTo(seq: number, each: ((seq: number, sentAtMs: number) => void) | undefined): number {
    const ring = this.#ring;
    const mask = this.#mask;
    let removed = 0;
    while (this.#count > 0) {
      const at = this.#head * STRIDE;
      const s = ring[at] as number;
      if (s > seq) break;
      if (each !== undefined) each(s, ring[at + 2] as number);
      this.#bytes -= ring[at + 1] as number;
      this.#head = (this.#head + 1) & mask;
      this.#count--;
      removed++;
    }
    if (this.#count === 0) this.#reset();
    return removed;
  }

  /** True when `seq` is in the window. */
  has(seq: number): boolean {
    if (this.#count === 0) return false;
    const first = this.#ring[this.#head * STRIDE] as number;
    return seq >= first && seq <= this.lastSeq;
  }

  clear(): void {
    this.#count = 0;
    this.#bytes = 0;
    this.#reset();
  }

  /** Empty: start at slot 0, and give back a large ring (the small one of a light sender stays). */
  #reset(): void {
    this.#head = 0;
    if (this.#mask + 1 > SHRINK_ABOVE) {
      this.#formerCapacity = this.#mask + 1;
      this.#ring = NO_RING;
      this.#mask = -1;
    }
  }

  /** A ring of `capacity` entries (a power of two >= count), entries moved to the front in order. */
  #resize(capacity: number): void {
    const ring = new Float64Array(capacity * STRIDE);
    const old = this.#ring;
    const oldCapacity = this.#mask + 1;
    const first = Math.min(this.#count, oldCapacity - this.#head);
    ring.set(old.subarray(this.#head * STRIDE, (this.#head + first) * STRIDE), 0);
    if (first < this.#count) ring.set(old.subarray(0, (this.#count - first) * STRIDE), first * STRIDE);
    this.#ring = ring;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
