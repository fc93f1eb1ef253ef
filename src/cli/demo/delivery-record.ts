/**
 * What the demo's server handler really saw, to check the run: which message
 * numbers arrived and how often. Lost and duplicated are computed from this
 * record against what was sent, never assumed.
 */

/** The payload of message `i`: its number first, padded to `sizeBytes`. */
export function demoPayload(i: number, sizeBytes: number): Buffer {
  const head = `outlast demo message #${String(i).padStart(7, "0")} `;
  return Buffer.from(head.length >= sizeBytes ? head : head + ".".repeat(sizeBytes - head.length));
}

/** The message number in a demo payload, or -1 when it is not one. */
export function payloadNumber(data: Uint8Array): number {
  const text = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 40)).toString("latin1");
  const m = /^outlast demo message #(\d{7}) /.exec(text);
  return m?.[1] === undefined ? -1 : Number(m[1]);
}

export interface RecordSummary {
  /** Distinct messages the handler saw. */
  readonly delivered: number;
  /** Messages sent that the handler never saw. */
  readonly lost: number;
  /** The first few lost message numbers (to debug a failure). */
  readonly lostExamples: readonly number[];
  /** Second (third, ...) handler calls for a message that were NOT flagged `redelivery`: a real duplicate. */
  readonly duplicates: number;
  /** Second handler calls flagged `redelivery: true` by the server (its documented crash window). */
  readonly redeliveries: number;
  /** Handler calls with a payload that was never sent (corruption). */
  readonly unknown: number;
}

export class DeliveryRecord {
  readonly #seen: Uint16Array;
  #delivered = 0;
  #duplicates = 0;
  #redeliveries = 0;
  #unknown = 0;

  constructor(readonly total: number) {
    this.#seen = new Uint16Array(total);
  }

  /** Called by the server's handler for every message. */
  record(data: Uint8Array, redelivery: boolean): void {
    const i = payloadNumber(data);
    if (i < 0 || i >= this.total) {
      this.#unknown++;
      return;
    }
    const before = this.#seen[i] ?? 0;
    if (before < 0xffff) this.#seen[i] = before + 1;
    if (before === 0) this.#delivered++;
    else if (redelivery) this.#redeliveries++;
    else this.#duplicates++;
  }

  get delivered(): number {
    return this.#delivered;
  }

  /** Compares the record with the `sent` messages numbered 0..sent-1. */
  summary(sent: number): RecordSummary {
    const lostExamples: number[] = [];
    let lost = 0;
    for (let i = 0; i < sent; i++) {
      if (this.#seen[i] === 0) {
        lost++;
        if (lostExamples.length < 10) lostExamples.push(i);
      }
    }
    return {
      delivered: this.#delivered,
      lost,
      lostExamples,
      duplicates: this.#duplicates,
      redeliveries: this.#redeliveries,
      unknown: this.#unknown,
    };
  }
}
