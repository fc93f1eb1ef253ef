/**
 * A buffer to encode one batch of records into, reused from batch to batch
 * while batches are small (a commit loop runs one step at a time and its
 * write has finished before the next batch is encoded), so a busy log does
 * not allocate one per commit.
 */

/** Batches up to this size are encoded into the reused buffer. */
const SCRATCH_MAX_BYTES = 1024 * 1024;

export class ScratchBuffer {
  #scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

  /** A buffer of exactly `size` bytes (its contents are garbage). */
  take(size: number): Buffer {
    if (size > SCRATCH_MAX_BYTES) return Buffer.allocUnsafe(size);
    if (this.#scratch.length < size)
      this.#scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX_BYTES, Math.max(size, 2 * this.#scratch.length)));
    return this.#scratch.subarray(0, size);
  }
}
