/**
 * Turning file-system failures into coded OutlastErrors: ENOSPC, EIO and
 * friends become OUTLAST_OUTBOX_IO with the original error as `cause`.
 */

import { OutlastError } from "../../errors/outlast-error.js";

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

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

/** Out-of-space errors leave nothing half-done that a retry could break: the write is undone and the outbox goes on. */
export function isSpaceError(err: unknown): boolean {
  const c = errnoCode(err);
  return c === "ENOSPC" || c === "EDQUOT" || c === "EFBIG";
}
