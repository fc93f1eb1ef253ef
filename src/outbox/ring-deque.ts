/**
 * A double-ended queue on a power-of-two ring buffer: O(1) push, shift, pop and
 * index, no `Array.prototype.shift` (which is O(n) once an array grows large).
 */

export class RingDeque<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.#items = new Array<T | undefined>(cap);
    this.#mask = cap - 1;
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length > this.#mask) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Removes and returns the first item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  /** Removes and returns the last item. */
  pop(): T | undefined {
    if (this.#length === 0) return undefined;
    const i = (this.#head + this.#length - 1) & this.#mask;
    const item = this.#items[i];
    this.#items[i] = undefined;
    this.#length--;
    return item;
  }

  peekFirst(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  peekLast(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[(this.#head + this.#length - 1) & this.#mask];
  }

  /** The item at position `index` from the front (0-based), or undefined. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  /** Replaces the item at `index` (which must exist). */
  set(index: number, item: T): void {
    if (index < 0 || index >= this.#length) throw new RangeError(`index ${index} out of range`);
    this.#items[(this.#head + index) & this.#mask] = item;
  }

  /** Removes the item at `index`, keeping order (O(n) in the distance to the nearer end). */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    const item = this.at(index);
    if (index < this.#length / 2) {
      for (let i = index; i > 0; i--)
        this.#items[(this.#head + i) & this.#mask] = this.#items[(this.#head + i - 1) & this.#mask];
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) & this.#mask;
    } else {
      for (let i = index; i < this.#length - 1; i++)
        this.#items[(this.#head + i) & this.#mask] = this.#items[(this.#head + i + 1) & this.#mask];
      this.#items[(this.#head + this.#length - 1) & this.#mask] = undefined;
    }
    this.#length--;
    return item;
  }

  clear(): void {
    this.#items = new Array<T | undefined>(16);
    this.#mask = 15;
    this.#head = 0;
    this.#length = 0;
  }

  /**
   * Index of the first item whose `seq` is greater than `seq` (binary search: the
   * items must be in increasing seq order). `length` when there is none.
   */
  indexAfterSeq(this: RingDeque<T & { readonly seq: number }>, seq: number): number {
    let lo = 0;
    let hi = this.#length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#items[(this.#head + mid) & this.#mask] as { readonly seq: number }).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #grow(): void {
    const old = this.#items;
    const cap = old.length * 2;
    const items = new Array<T | undefined>(cap);
    for (let i = 0; i < this.#length; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#mask = cap - 1;
    this.#head = 0;
  }
}
