/**
 * Publish slots shared by several exactly-once writers: a gateway keeps at most N publishes in
 * flight for all its clients together (a nats:// client has one writer and slots of its own).
 * A writer that finds none free waits here and is pumped again, oldest first, as answers free
 * them. The writer decides what to send; this file only how many may be out at once.
 */

import type { ExactlyOnceWriter } from "./exactly-once-writer.js";

export class PublishSlots {
  #inFlight = 0;
  readonly #waiting = new Set<ExactlyOnceWriter>();

  constructor(readonly max: number) {}

  acquire(): boolean {
    if (this.#inFlight >= this.max) return false;
    this.#inFlight++;
    return true;
  }

  /** A publish was answered: its slot goes to a writer waiting for one (oldest first). */
  release(): void {
    this.#inFlight--;
    for (const writer of this.#waiting) {
      if (this.#inFlight >= this.max) return;
      this.#waiting.delete(writer);
      writer.pump();
    }
  }

  wait(writer: ExactlyOnceWriter): void {
    this.#waiting.add(writer);
  }
}
