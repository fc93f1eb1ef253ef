/**
 * Purging a durable outbox: every stored message is given up for good and the
 * quarantined parts are deleted. The clientId and the sequence numbering are
 * kept, so a server never mistakes the next messages for old ones. What
 * `outlast outbox purge` does, through the outbox rather than around it.
 */

import { join } from "node:path";
import type { FileOutbox } from "./file-outbox.js";
import { quarantineFiles } from "./inspect.js";
import { nodeFs, type StorageFs } from "../storage/fs-layer.js";
import { QUARANTINE_DIR } from "./log/recovery.js";

export interface PurgeResult {
  /** Messages given up (stored, never to be delivered). */
  readonly messages: number;
  readonly bytes: number;
  /** Quarantined parts deleted. */
  readonly quarantined: readonly { readonly file: string; readonly bytes: number }[];
}

/**
 * Gives up every message stored in the open `outbox` (acknowledged as if delivered,
 * durably) and deletes its quarantined parts. The outbox stays open and usable.
 */
export async function purgeOutbox(outbox: FileOutbox, fs: StorageFs = nodeFs): Promise<PurgeResult> {
  const result = { messages: outbox.count, bytes: outbox.bytes, quarantined: await quarantineFiles(fs, outbox.dir) };
  if (outbox.nextSeq > 1) outbox.acknowledge(outbox.nextSeq - 1);
  await outbox.sync();
  if (result.quarantined.length > 0) {
    // quarantineFiles names them from the outbox directory ("quarantine/seg-...").
    for (const { file } of result.quarantined) await fs.unlink(join(outbox.dir, file));
    await fs.fsyncDir(join(outbox.dir, QUARANTINE_DIR));
  }
  return result;
}
