/**
 * One log line per connection event of a server: opened, authenticated,
 * rejected or failed (with its code), closed (with its cause). Read from the
 * `outlast:server:*` diagnostics channels and the server's clientError event,
 * through one token bucket (rate-limit.ts) so hostile input cannot flood the log.
 */

import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { formatHostPort, oneLine } from "../config.js";
import type { Log, LogFields, LogLevel } from "./log.js";
import { DEFAULT_LOG_RATE, RateLimiter, type RateLimitOptions } from "./rate-limit.js";

interface Peer {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly clientId?: string | undefined;
}

/** `client 127.0.0.1:5555 (clientId "a")`. */
export function clientLabel(info: Peer): string {
  const addr =
    info.remoteAddress === undefined ? "client" : `client ${formatHostPort(info.remoteAddress, info.remotePort ?? 0)}`;
  return info.clientId === undefined ? addr : `${addr} (clientId ${JSON.stringify(info.clientId)})`;
}

function peerFields(info: Peer): LogFields {
  return { clientId: info.clientId, remoteAddress: info.remoteAddress, remotePort: info.remotePort };
}

/** Codes that turn a connection away (as opposed to a failure of an open one). */
const REJECTIONS = new Set([
  "OUTLAST_AUTH_REJECTED",
  "OUTLAST_SERVER_BUSY",
  "OUTLAST_PROTOCOL_VERSION",
  "OUTLAST_TIMEOUT",
  "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",
]);

/** A socket-level error of one peer (reset, broken pipe): the network, not a person, so info. */
function isSocketErrno(code: string | undefined): boolean {
  return code !== undefined && /^E[A-Z]+$/.test(code);
}

export interface ConnectionLog {
  /** For the server's `clientError` event. */
  clientError(err: Error, info: Peer): void;
  /** Unsubscribes; reports lines still held back. */
  close(): void;
}

export function connectionLog(
  log: Log,
  { rate = DEFAULT_LOG_RATE, now = () => performance.now() }: { rate?: RateLimitOptions; now?: () => number } = {},
): ConnectionLog {
  const limiter = new RateLimiter(rate, now());
  const line = (level: LogLevel, msg: string, fields: LogFields): void => {
    const { allowed, suppressed } = limiter.take(now());
    if (!allowed) return;
    if (suppressed > 0)
      log.warn(`${suppressed} connection log lines were suppressed (more than ${rate.perSecond}/s)`, {
        event: "log.suppressed",
        suppressed,
      });
    log[level](msg, fields);
  };
  const onOpen = (m: unknown): void => {
    const p = m as Peer;
    line("info", `${clientLabel(p)}: connected`, { event: "connection.opened", ...peerFields(p) });
  };
  const onHandshake = (m: unknown): void => {
    const h = m as Peer & { clientId: string; requestedClientId: string; version: number };
    const asked = h.requestedClientId === h.clientId ? "" : ` (asked for ${JSON.stringify(h.requestedClientId)})`;
    line("info", `${clientLabel(h)}: authenticated${asked}, protocol v${h.version}`, {
      event: "connection.authenticated",
      ...peerFields(h),
      requestedClientId: h.requestedClientId,
      version: h.version,
    });
  };
  const onClose = (m: unknown): void => {
    const c = m as Peer & { reason: string };
    line("info", `${clientLabel(c)}: closed (${c.reason})`, {
      event: "connection.closed",
      ...peerFields(c),
      reason: c.reason,
    });
  };
  subscribe("outlast:server:connection", onOpen);
  subscribe("outlast:server:handshake", onHandshake);
  subscribe("outlast:server:close", onClose);
  return {
    clientError(err, info) {
      const raw = (err as { code?: unknown }).code;
      const code = typeof raw === "string" ? raw : undefined;
      const rejected = code !== undefined && (REJECTIONS.has(code) || code.startsWith("ERR_SSL"));
      const level: LogLevel = isSocketErrno(code) ? "info" : "warn";
      line(
        level,
        `${clientLabel(info)}: ${code !== undefined && !err.message.includes(code) ? `${code}: ` : ""}${oneLine(err)}`,
        {
          event: rejected ? "connection.rejected" : "connection.error",
          ...peerFields(info),
          code,
        },
      );
    },
    close() {
      unsubscribe("outlast:server:connection", onOpen);
      unsubscribe("outlast:server:handshake", onHandshake);
      unsubscribe("outlast:server:close", onClose);
      if (limiter.suppressed > 0)
        log.warn(`${limiter.suppressed} connection log lines were suppressed (more than ${rate.perSecond}/s)`, {
          event: "log.suppressed",
          suppressed: limiter.suppressed,
        });
    },
  };
}
