/**
 * When the server's WELCOME says it has processed more of this clientId's
 * messages than we ever sent, another outbox used the clientId (a robot whose
 * disk was wiped, a second process, a memory outbox after a restart): our
 * stored records' numbers would look like duplicates and be skipped. The
 * records the server cannot have seen from us take new numbers after its
 * lastSeq. Which records those are depends on what we know of our past.
 */

/** What the rule looks at. */
export interface SeqHistory {
  /** A durable outbox: its records may have been sent by an earlier process. */
  readonly durable: boolean;
  /** The outbox's next seq when it opened: an earlier process may have sent any seq below it. */
  readonly nextSeqAtOpen: number;
  /** Highest seq this process wrote on any connection (0 when none). */
  readonly highestSentEver: number;
}

/**
 * The seq after which stored records must be renumbered (to `lastSeq + 1` on),
 * or undefined when the server's `lastSeq` fits our history and nothing moves.
 * - Memory outbox: this process is the only one that ever sent these numbers.
 *   A lastSeq above the highest seq we sent is someone else's: renumber every
 *   record we never sent (those after `highestSentEver`).
 * - Durable outbox: an earlier process may have sent any record below
 *   `nextSeqAtOpen`, and this one up to `highestSentEver`, so only a lastSeq
 *   above both (a number no process ever sent from this outbox) proves
 *   another outbox: renumber every record. (Records stored since the open,
 *   never sent, do not count: a new outbox that stored more than the server's
 *   lastSeq before its first WELCOME must renumber too, or the records up to
 *   lastSeq are skipped as duplicates: a silent loss.)
 */
export function renumberAfter(lastSeq: number, history: SeqHistory): number | undefined {
  if (history.durable) return lastSeq >= history.nextSeqAtOpen && lastSeq > history.highestSentEver ? 0 : undefined;
  return lastSeq > history.highestSentEver ? history.highestSentEver : undefined;
}

/** Old seq -> new seq for records (live, in order) that are renumbered consecutively from `firstNewSeq`. */
export function renumberMap(oldSeqs: readonly number[], firstNewSeq: number): Map<number, number> {
  const remap = new Map<number, number>();
  for (let i = 0; i < oldSeqs.length; i++) remap.set(oldSeqs[i] as number, firstNewSeq + i);
  return remap;
}
