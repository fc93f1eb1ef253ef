/**
 * What `outlast outbox inspect|purge` know about an outbox directory: opened
 * through FileOutbox (so it takes the lock, and repairs a torn tail exactly as
 * the next sender would), read record by record, then closed.
 */

import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { isOutlastError } from "../../errors/outlast-error.js";
import { FileOutbox } from "../../outbox/file-outbox.js";
import { QUARANTINE_DIR } from "../../outbox/log/recovery.js";
import { parseSegmentFileName } from "../../outbox/log/record-format.js";

export interface QuarantinedFile {
  readonly file: string;
  readonly bytes: number;
}

export interface OutboxInspection {
  readonly dir: string;
  readonly clientId: string;
  /** Messages stored (not yet acknowledged). */
  readonly messages: number;
  /** Sum of their payload sizes. */
  readonly bytes: number;
  /** What the segment files take on disk. */
  readonly diskBytes: number;
  readonly segments: number;
  readonly importantMessages: number;
  readonly bestEffortMessages: number;
  readonly expiringMessages: number;
  /** Lowest and highest stored seq (undefined when empty). */
  readonly firstSeq: number | undefined;
  readonly lastSeq: number | undefined;
  /** The seq the next message will get. */
  readonly nextSeq: number;
  /**
   * Age of the oldest segment file that holds a stored message (from its
   * creation time): the oldest message was stored at most this long ago.
   * undefined when empty.
   */
  readonly oldestSegmentAgeMs: number | undefined;
  /** Corrupt parts moved aside (now and by earlier opens), under quarantine/. */
  readonly quarantined: readonly QuarantinedFile[];
  readonly quarantinedBytes: number;
  /** What this open repaired: bytes of a torn tail cut off, parts quarantined now. */
  readonly repairedNow: { readonly tornBytes: number; readonly quarantinedParts: number };
}

/** An outbox directory that cannot be inspected; the message says what to do. */
export class OutboxDirError extends Error {
  override name = "OutboxDirError";
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => parseSegmentFileName(n) !== undefined).sort();
}

/** Rejects unless `dir` exists and looks like an outbox (so nothing is created in a mistyped directory). */
export async function checkOutboxDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new OutboxDirError(`${dir} is not a directory`);
    entries = await readdir(dir);
  } catch (err) {
    if (err instanceof OutboxDirError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new OutboxDirError(`there is no outbox at ${dir} (no such directory)`, { cause: err });
    throw new OutboxDirError(`cannot read ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!entries.some((n) => parseSegmentFileName(n) !== undefined || n === QUARANTINE_DIR))
    throw new OutboxDirError(`${dir} is not an outbox (it holds no seg-*.log files)`);
}

async function quarantinedFiles(dir: string): Promise<QuarantinedFile[]> {
  const qdir = join(dir, QUARANTINE_DIR);
  let names: string[];
  try {
    names = (await readdir(qdir)).sort();
  } catch {
    return [];
  }
  const out: QuarantinedFile[] = [];
  for (const file of names) {
    const s = await stat(join(qdir, file)).catch(() => undefined);
    if (s?.isFile() === true) out.push({ file: join(QUARANTINE_DIR, file), bytes: s.size });
  }
  return out;
}

/** Opens the outbox in `dir`; a lock held by a live process becomes a clear OutboxDirError. */
export async function openOutbox(dir: string): Promise<FileOutbox> {
  await checkOutboxDir(dir);
  const outbox = new FileOutbox(dir);
  try {
    await outbox.open("");
  } catch (err) {
    if (isOutlastError(err, "OUTLAST_OUTBOX_LOCKED")) {
      const pid = (err.details as { pid?: unknown }).pid;
      throw new OutboxDirError(`outbox ${dir} is in use by pid ${String(pid)} (an outlast send?); stop it and try again`, { cause: err });
    }
    throw err;
  }
  return outbox;
}

/** Reads everything about an open outbox. */
export async function inspectOpen(outbox: FileOutbox, now = Date.now()): Promise<OutboxInspection> {
  let important = 0;
  let expiring = 0;
  let last: number | undefined;
  for (let after = 0; ; ) {
    const page = outbox.read(after, 4096, Number.MAX_SAFE_INTEGER);
    if (page.length === 0) break;
    for (const r of page) {
      if (r.important) important++;
      if (r.expiresAtMs !== Infinity) expiring++;
      last = r.seq;
    }
    after = page[page.length - 1]?.seq ?? after;
  }
  const segments = await segmentFiles(outbox.dir);
  let oldestSegmentAgeMs: number | undefined;
  if (outbox.count > 0) {
    // Segments are numbered in write order; the oldest still on disk holds the oldest record.
    const first = segments[0];
    const s = first === undefined ? undefined : await stat(join(outbox.dir, first)).catch(() => undefined);
    const born = s === undefined ? undefined : s.birthtimeMs > 0 ? s.birthtimeMs : s.mtimeMs;
    if (born !== undefined) oldestSegmentAgeMs = Math.max(0, Math.round(now - born));
  }
  const quarantined = await quarantinedFiles(outbox.dir);
  const report = outbox.recoveryReport;
  return {
    dir: outbox.dir,
    clientId: outbox.clientId,
    messages: outbox.count,
    bytes: outbox.bytes,
    diskBytes: outbox.diskBytes,
    segments: segments.length,
    importantMessages: important,
    bestEffortMessages: outbox.count - important,
    expiringMessages: expiring,
    firstSeq: outbox.oldest?.seq,
    lastSeq: last,
    nextSeq: outbox.nextSeq,
    oldestSegmentAgeMs,
    quarantined,
    quarantinedBytes: quarantined.reduce((a, q) => a + q.bytes, 0),
    repairedNow: { tornBytes: report?.tornBytes ?? 0, quarantinedParts: report?.quarantined.length ?? 0 },
  };
}

/** Removes every stored message (acknowledged as if delivered: the clientId and next seq are kept) and the quarantined parts. */
export async function purgeOpen(outbox: FileOutbox): Promise<void> {
  if (outbox.nextSeq > 1) outbox.acknowledge(outbox.nextSeq - 1);
  await outbox.sync();
  await rm(join(outbox.dir, QUARANTINE_DIR), { recursive: true, force: true });
}
