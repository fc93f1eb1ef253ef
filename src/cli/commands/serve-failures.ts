/**
 * `outlast serve`'s start failures in one line each: what went wrong with --listen or the
 * --state directory, and what to do about it (naming the flag or variable the user set).
 */

import { statSync } from "node:fs";
import { dirname } from "node:path";
import { isOutlastError } from "../../errors/outlast-error.js";
import { formatHostPort, oneLine, type HostPort } from "../config.js";

/** The part of serve's configuration a start failure speaks of. */
export interface StartSettings {
  readonly listen: HostPort;
  readonly listenSource: string;
  readonly state: string | undefined;
  readonly stateSource: string;
}

/** One line for a failure to start listening. */
export function startFailure(err: unknown, config: StartSettings): Error {
  if (isOutlastError(err, "OUTLAST_STATE_LOCKED")) {
    const { dir, pid } = err.details;
    return new Error(
      `state directory ${dir} is locked by pid ${pid}; stop that server or pass another ${config.stateSource}`,
      { cause: err },
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  // A file-system error (it carries a path) comes from opening the state directory, never from listening.
  const path = (err as { path?: unknown } | null)?.path;
  if (config.state !== undefined && typeof path === "string") return stateFailure(err, path, config);
  const where = formatHostPort(config.listen.host, config.listen.port);
  if (code === "EADDRINUSE")
    return new Error(
      `cannot listen on ${where}: address already in use; stop the other server or pass another ${config.listenSource}`,
      { cause: err },
    );
  if (code === "EADDRNOTAVAIL" || code === "EACCES" || code === "ENOTFOUND" || code === "EAI_AGAIN")
    return new Error(`cannot listen on ${where}: ${oneLine(err)}; pass another ${config.listenSource}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** The nearest of `path` and its parents that exists and is not a directory (what ENOTDIR or EEXIST tripped on). */
function fileInTheWay(path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // missing: look at the parent
    }
    if (dirname(p) === p) return path;
  }
}

/** What went wrong with the --state directory, and what to do about it. */
function stateFailure(err: unknown, path: string, config: StartSettings): Error {
  const code = (err as { code?: unknown }).code;
  const dir = config.state ?? path;
  const flag = config.stateSource;
  const at = path === dir ? "" : ` (at ${path})`;
  let what: string;
  switch (code) {
    case "EACCES":
    case "EPERM":
      what = `this user may not create or write it${at}; give this user write access to it, or pass another ${flag}`;
      break;
    case "ENOTDIR":
    case "EEXIST":
      what = `${fileInTheWay(path)} is a file, not a directory; pass another ${flag}`;
      break;
    case "EROFS":
      what = `it is on a read-only file system; pass a ${flag} on a writable one`;
      break;
    case "ENOSPC":
    case "EDQUOT":
      what = `the disk is full${at}; free some space or pass a ${flag} on another disk`;
      break;
    default:
      what = `${oneLine(err)}; check the directory, or pass another ${flag}`;
  }
  return new Error(`cannot use the state directory ${dir}: ${what}`, { cause: err });
}
