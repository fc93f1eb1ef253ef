/**
 * Where the server keeps, per clientId, the highest seq whose handler succeeded
 * (`lastSeq`), so a resend is skipped as a duplicate, and the marks that say which
 * seq a handler was given ("started") so a server that died can flag a
 * redelivery. MemoryDedupState keeps it for the life of the process;
 * FileDedupState persists it crash-safely; a remote store (a JetStream stream)
 * fits the same contract. Every implementation passes one conformance suite
 * (test/server/dedup-state-conformance.ts).
 *
 * Contract between the server (client-registry.ts) and a state:
 * - `open()` once, before anything else. It takes whatever lock keeps a second
 *   server out, and loads or connects. It rejects with a coded OutlastError.
 * - `load(id)` once per clientId per process, before its first message (the
 *   server waits for it before WELCOME). A local state answers synchronously;
 *   a remote one may return a Promise. `lastSeq` is the highest seq whose
 *   success is DURABLE (never one only buffered), so WELCOME never reports a seq
 *   a crash could take back. `inDoubt` names seqs a server that died may have
 *   handed to its handler (they come back with `redelivery: true`).
 * - `record(id, seq)` after a handler succeeded for `seq` (and every seq below
 *   it): buffered, cheap, synchronous. `commit()` asks for every record so far
 *   to be made durable (group commit: one durable write for all the records of
 *   many calls). When they are, the commit listener is called with
 *   (clientId -> highest durable seq); only then does the server acknowledge.
 *   A state may call it synchronously inside `commit()` (memory) or later
 *   (disk, network). It never reports a seq below one it reported before.
 * - `progress(id)` returns the clientId's progress marks (ClientProgress): the
 *   state decides what to keep and how cheaply (the file state: one small
 *   write into the page cache per message, no sync; memory: nothing). The
 *   server calls `starting(seq)` right before each handler call,
 *   `finished(seq)` right after each success, `settle()` when no call follows
 *   at once (end of a socket read, a queue run dry).
 * - A failure the state cannot recover from (a failed fdatasync, a lost stream)
 *   goes to the fatal listener once; the server stops rather than acknowledge
 *   what was not made durable. Later calls are harmless no-ops.
 * - `flush()` resolves once everything recorded so far is durable (rejects
 *   after a fatal failure); `close(graceful)` flushes when graceful, releases
 *   the lock, and is idempotent.
 * - A `shared` state is written by other servers too (the JetStream state: every
 *   gateway writes the one stream). The server calls `load(id)` again whenever a
 *   clientId it already knows connects again (once nothing of it runs), and
 *   takes what it returns when it is above what this server knows, so WELCOME
 *   reports the store's own mark, not this server's stale view.
 * - `load(id)` may reject with a coded OutlastError (the store is unreachable:
 *   OUTLAST_SERVER_BUSY; it refuses this client): the server turns the waiting
 *   connection away with it, with `details.retryAfterMs` as the retry hint, and
 *   keeps serving. Any other rejection means the state went to its fatal listener.
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

/** What a state knows of one clientId when the server first meets it. */
export interface ClientSeqs {
  /** Highest seq whose success is durable; 0 when none. */
  readonly lastSeq: number;
  /** What a server that died (before this open) may have left inside its handler; NO_DOUBT when nothing. */
  readonly inDoubt: InDoubt;
}

/**
 * The "handler started for seq N" marks of one clientId, owned by the state.
 * Calls come in this order per message: starting(N), then finished(N) on
 * success (nothing on failure: the call did start, and the mark stays).
 * Synchronous and cheap (the hot path). What survives a crash is the state's
 * business; a lost mark only loses a `redelivery` flag, never a message.
 */
export interface ClientProgress {
  /** The handler is about to be called with `seq` (every seq below it is finished). */
  starting(seq: number): void;
  /** The handler succeeded for `seq`. */
  finished(seq: number): void;
  /** No handler call for this client follows at once: the marks should say none is running. */
  settle(): void;
}

/** For states that keep no marks. */
export const NO_PROGRESS: ClientProgress = {
  starting() {},
  finished() {},
  settle() {},
};

export interface DedupState {
  /** Other servers write the same store: load() is called again on every new connection of a known clientId. */
  readonly shared?: boolean;
  /** Takes the lock and loads (or connects). */
  open(): Promise<void>;
  /** What the state knows of `clientId` (called once per clientId per process). */
  load(clientId: string): ClientSeqs | Promise<ClientSeqs>;
  /** The progress marks of `clientId` (called once per clientId per process, after load). */
  progress(clientId: string): ClientProgress;
  /** Records that the handler succeeded for every seq <= `seq` (buffered). */
  record(clientId: string, seq: number): void;
  /** Makes buffered records durable (group commit); the commit listener hears when. */
  commit(): void;
  setListeners(onCommit: CommitListener, onFatal: FatalListener): void;
  /** Resolves when everything recorded so far is durable. */
  flush(): Promise<void>;
  /** Flushes (when `graceful`), releases the lock, closes files. Idempotent. */
  close(graceful: boolean): Promise<void>;
}
