/**
 * The process's file-descriptor limit, which bounds how many connections a server
 * can hold: the default maxConnections is the soft limit minus a reserve (for the
 * state files, refused sockets lingering, the output, logs), so the server refuses
 * with OUTLAST_SERVER_BUSY before the kernel refuses with EMFILE (which libuv
 * answers by closing the connection without a word).
 */

import { readFileSync } from "node:fs";

/** When the limit cannot be read (not Linux). */
const FALLBACK_MAX_CONNECTIONS = 10_000;

/** The soft RLIMIT_NOFILE from /proc/self/limits; undefined when unknown or unlimited. */
export function openFilesLimit(): number | undefined {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
    const soft = match?.[1];
    return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** File descriptors kept free of connections: 5% of the limit, at least 64. */
export function fdReserve(limit: number): number {
  return Math.max(64, Math.ceil(limit * 0.05));
}

/** The default maxConnections: the soft fd limit minus the reserve (at least 1), or 10,000 when unknown. */
export function defaultMaxConnections(limit = openFilesLimit()): number {
  if (limit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(1, limit - fdReserve(limit));
}

/**
 * The hard limit on open sockets (Node's `server.maxConnections`): past it a connection is
 * closed at once, without a Socket object or a frame, and counted (`fdRefused`), so a storm of
 * refusals (each refused socket holds a descriptor while it lingers) never reaches EMFILE.
 * Half the reserve above the default maxConnections, or `maxConnections` if that is higher;
 * undefined when the limit is unknown.
 */
export function hardConnectionLimit(maxConnections: number, limit = openFilesLimit()): number | undefined {
  if (limit === undefined) return undefined;
  return Math.max(maxConnections, limit - Math.ceil(fdReserve(limit) / 2));
}
