/**
 * Telling file-system failures apart by their errno code (no OutlastError
 * here: each user of the log wraps them in its own coded error).
 */

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Out-of-space errors leave nothing half-done that a retry could break: the write is undone and the log goes on. */
export function isSpaceError(err: unknown): boolean {
  const c = errnoCode(err);
  return c === "ENOSPC" || c === "EDQUOT" || c === "EFBIG";
}
