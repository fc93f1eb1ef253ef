/**
 * What `outlast outbox inspect|purge` know about an outbox directory.
 * inspect reads it with inspectOutbox (no lock, no write: it works while an
 * `outlast send` holds the outbox). purge opens it through FileOutbox (it
 * takes the lock, and repairs a torn tail exactly as the next sender would),
 * acknowledges everything, then closes it.
 */

import { readdir, stat } from "node:fs/promises";
import { isOutlastError } from "../../errors/outlast-error.js";
import { FileOutbox } from "../../outbox/file-outbox.js";
import { inspectOutbox, quarantineFiles, type OutboxInspection } from "../../outbox/inspect.js";
import { nodeFs } from "../../storage/fs-layer.js";
import { QUARANTINE_DIR } from "../../outbox/log/recovery.js";
import { parseSegmentFileName } from "../../storage/record-format.js";

/** A record time before this (2001-09-09) is no wall-clock time: records written before records carried one hold a monotonic clock reading. */
const WALL_CLOCK_SINCE_MS = 1e12;

/** What `outlast outbox inspect --json` prints. */
export interface InspectReport extends OutboxInspection {
  readonly bestEffortMessages: number;
  /** How long ago the oldest unacknowledged message was created (from its record's wall-clock time); undefined when empty or unknown. */
  readonly oldestAgeMs: number | undefined;
}

/** A summary of an open outbox, for purge's question and its report. */
export interface PurgeSummary {
  readonly clientId: string;
  readonly messages: number;
  readonly bytes: number;
  readonly quarantined: readonly { readonly file: string; readonly bytes: number }[];
}

/** An outbox directory that cannot be inspected; the message says what to do. */
export class OutboxDirError extends Error {
  override name = "OutboxDirError";
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

/** Reads what the outbox in `dir` holds, without its lock and without writing. */
export async function inspectDir(dir: string, now = Date.now()): Promise<InspectReport> {
  await checkOutboxDir(dir);
  const i = await inspectOutbox(dir);
  const t = i.oldestCreatedAtMs;
  return {
    ...i,
    bestEffortMessages: i.messages - i.importantMessages,
    oldestAgeMs: t === undefined || t < WALL_CLOCK_SINCE_MS ? undefined : Math.max(0, Math.round(now - t)),
  };
}

/** Opens the outbox in `dir` (taking its lock); a lock held by a live process becomes a clear OutboxDirError. */
export async function openOutbox(dir: string): Promise<FileOutbox> {
  await checkOutboxDir(dir);
  const outbox = new FileOutbox(dir);
  try {
    await outbox.open("");
  } catch (err) {
    if (isOutlastError(err, "OUTLAST_OUTBOX_LOCKED")) {
      throw new OutboxDirError(
        `outbox ${dir} is in use by pid ${err.details.pid} (an outlast send?); stop it and try again`,
        { cause: err },
      );
    }
    throw err;
  }
  return outbox;
}

export async function purgeSummary(outbox: FileOutbox): Promise<PurgeSummary> {
  return {
    clientId: outbox.clientId,
    messages: outbox.count,
    bytes: outbox.bytes,
    quarantined: await quarantineFiles(nodeFs, outbox.dir),
  };
}
