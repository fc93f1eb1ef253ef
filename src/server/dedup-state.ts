/**
 * Where the server keeps, per clientId, the highest seq whose handler succeeded
 * (`lastSeq`), so a resend is skipped as a duplicate. MemoryDedupState keeps it
 * for the life of the process; FileDedupState persists it crash-safely.
 *
 * Protocol between the registry and a state:
 * - `open()` once, then `lastSeq(id)` / `startedSeq(id)` / `inDoubt(id)` when a client is first seen.
 * - Per message (persistent states only): `progress(slot(id), doneSeq, startedSeq)` right
 *   before each handler call (startedSeq = the seq handed over) and right after each
 *   success (doneSeq = that seq). Written into the page cache at once: survives a
 *   process kill, not a power loss.
 * - `markStarted(id, seq)` before a handler call that is not covered by an earlier
 *   mark (batch-granular: one mark may cover several messages of one read). Only
 *   used to flag redeliveries after a power loss.
 * - `record(id, seq)` after handler success (buffered), then `commit()` at the end of
 *   a batch. When `synchronous` is true a record is durable on return; otherwise the
 *   commit listener is called with every (id, seq) once it is durable (group commit).
 */

/** Called with (clientId -> highest seq) of every record that became durable. */
export type CommitListener = (committed: ReadonlyMap<string, number>) => void;
/** Called when the state cannot keep its promise (e.g. fdatasync failed): the server must stop. */
export type FatalListener = (err: Error) => void;

/** Seqs in [fromSeq, toSeq] may have been handed to the handler by a server that died; empty when toSeq < fromSeq. */
export interface InDoubt {
  readonly fromSeq: number;
  readonly toSeq: number;
}

export const NO_DOUBT: InDoubt = { fromSeq: 1, toSeq: 0 };

export interface DedupState {
  /** True when `record()` is durable on return (no commit listener calls). */
  readonly synchronous: boolean;
  /** Loads the state (and takes the directory lock). */
  open(): Promise<void>;
  /** Highest seq whose success was recorded for `clientId`; 0 when none. */
  lastSeq(clientId: string): number;
  /** Highest seq covered by a batch "started" mark for `clientId` (>= lastSeq); lastSeq when markers are not kept. */
  startedSeq(clientId: string): number;
  /** What a server that died (before this open) may have left inside its handler for `clientId`. */
  inDoubt(clientId: string): InDoubt;
  /** The clientId's progress slot (assigned on first use); -1 when this state keeps no per-message progress. */
  slot(clientId: string): number;
  /**
   * Per-message progress of one client: every seq <= doneSeq was processed; startedSeq
   * (> doneSeq) is being handed to the handler, or equals doneSeq when none is.
   * Synchronous and cheap (one small write, no fsync, no allocation). Hot path.
   */
  progress(slot: number, doneSeq: number, startedSeq: number): void;
  /** Notes that handler calls up to `seq` are about to start. Written before the handler runs. */
  markStarted(clientId: string, seq: number): void;
  /** Records that the handler succeeded for every seq <= `seq`. */
  record(clientId: string, seq: number): void;
  /** Makes buffered records durable soon (group commit); no-op when synchronous. */
  commit(): void;
  setListeners(onCommit: CommitListener, onFatal: FatalListener): void;
  /** Resolves when everything recorded so far is durable. */
  flush(): Promise<void>;
  /** Flushes (when `graceful`), releases the lock, closes files. Idempotent. */
  close(graceful: boolean): Promise<void>;
}
