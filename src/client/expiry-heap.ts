/** A binary min-heap of (expiresAtMs, seq): the next message to expire, O(log n) per operation. */

export class ExpiryHeap {
  readonly #at: number[] = [];
  readonly #seq: number[] = [];

  get size(): number {
    return this.#at.length;
  }

  /** Deadline of the earliest entry, or Infinity. */
  peekAt(): number {
    return this.#at.length === 0 ? Infinity : (this.#at[0] as number);
  }

  push(at: number, seq: number): void {
    const a = this.#at;
    const s = this.#seq;
    let i = a.length;
    a.push(at);
    s.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= at) break;
      a[i] = a[parent] as number;
      s[i] = s[parent] as number;
      i = parent;
    }
    a[i] = at;
    s[i] = seq;
  }

  /** Removes the earliest entry and returns its seq. */
  pop(): number | undefined {
    const a = this.#at;
    const s = this.#seq;
    if (a.length === 0) return undefined;
    const top = s[0] as number;
    const lastAt = a.pop() as number;
    const lastSeq = s.pop() as number;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (a[r] as number) < (a[l] as number) ? r : l;
        if ((a[c] as number) >= lastAt) break;
        a[i] = a[c] as number;
        s[i] = s[c] as number;
        i = c;
      }
      a[i] = lastAt;
      s[i] = lastSeq;
    }
    return top;
  }

  clear(): void {
    this.#at.length = 0;
    this.#seq.length = 0;
  }
}
