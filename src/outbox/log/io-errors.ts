/**
 * The outbox's coded errors for what the log and its lock report:
 * ENOSPC, EIO and friends become OUTLAST_OUTBOX_IO with the original error as
 * `cause`; a live lock holder OUTLAST_OUTBOX_LOCKED.
 */

import { OutlastError } from "../../errors/outlast-error.js";
import type { LockErrors } from "../../storage/dir-lock.js";
import { errnoCode } from "../../storage/errno.js";

/** OUTLAST_OUTBOX_IO: `what` failed in `dir`; the cause is kept. */
export function outboxIoError(dir: string, what: string, cause: unknown, fatal: boolean): OutlastError {
  const code = errnoCode(cause) ?? "unknown error";
  const hint =
    code === "ENOSPC" || code === "EDQUOT"
      ? "free disk space"
      : code === "EACCES" || code === "EPERM"
        ? "this process may not read or write it: fix its permissions or use another directory"
        : code === "EROFS"
          ? "its file system is read-only: use a directory on a writable one"
          : fatal
            ? "the outbox stopped (a failed sync cannot be retried safely); check the disk, then reopen it"
            : "check the disk";
  return new OutlastError("OUTLAST_OUTBOX_IO", `outbox ${dir}: ${what} failed (${code}); ${hint}`, {
    cause,
    details: { dir, errno: code, fatal },
  });
}

export function lockedError(dir: string, pid: number): OutlastError {
  return new OutlastError(
    "OUTLAST_OUTBOX_LOCKED",
    `outbox directory ${dir} is locked by pid ${pid}; stop that process or pass another outbox`,
    { details: { dir, pid } },
  );
}

/** The outbox's errors for the directory lock (storage/dir-lock.ts). */
export function outboxLockErrors(dir: string): LockErrors {
  return {
    locked: (pid) => lockedError(dir, pid),
    io: (what, cause) => outboxIoError(dir, what, cause, false),
  };
}

/** OUTLAST_OUTBOX_FULL: `needed` more bytes would pass `maxBytes` (`used` are on disk). */
export function outboxFullError(dir: string, maxBytes: number, used: number, needed: number): OutlastError {
  return new OutlastError(
    "OUTLAST_OUTBOX_FULL",
    `outbox ${dir} is full: ${used} of maxBytes ${maxBytes} bytes on disk, ${needed} more needed; wait for acknowledgements or raise maxBytes`,
    { details: { dir, maxBytes, bytes: used, needed } },
  );
}
