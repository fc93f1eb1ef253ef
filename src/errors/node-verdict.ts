/**
 * The verdict on ONE error object, ignoring its cause and inner errors
 * (classify.ts walks those). Undefined means "this node does not decide".
 */

import type { Delivered, Kind, Platform } from "./classification.js";
import { isSqlStateConnectionClass, ruleForCode } from "./code-rules.js";
import { UV_UNKNOWN, codeForErrno, isUnnamedNodeCode } from "./errno-tables.js";
import { safeGet, type ErrorNode } from "./error-node.js";
import {
  TLS_HANDSHAKE_DROPPED,
  byMessage,
  codeInText,
  grpcVerdict,
  isAxiosTimeout,
  isGrpcStatusError,
} from "./library-rules.js";
import { isMqttReasonError, mqttVerdict } from "./mqtt-rules.js";
import { natsVerdict } from "./nats-rules.js";

export interface NodeVerdict {
  readonly connection: boolean;
  readonly kind: Kind;
  readonly code: string;
  readonly detail: string;
  readonly delivered: Delivered;
  readonly meaning: string;
}

/** System calls that fail before any byte of ours can reach the peer. */
const PRE_SEND_SYSCALLS = new Set(["connect", "getaddrinfo", "getnameinfo", "bind", "getHostByAddr"]);

function isDnsSyscall(syscall: string | undefined): boolean {
  return (
    syscall !== undefined &&
    (syscall.startsWith("query") ||
      syscall === "getaddrinfo" ||
      syscall === "getnameinfo" ||
      syscall === "getHostByAddr")
  );
}

/** Socket system calls where Windows reports ENETDOWN/ENETRESET/EHOSTDOWN as UNKNOWN -4094. */
const SOCKET_SYSCALLS = new Set(["connect", "read", "write", "writev", "shutdown", "send", "recv", "accept"]);

function fromRule(code: string, node: ErrorNode, override?: Partial<NodeVerdict>): NodeVerdict | undefined {
  const rule = ruleForCode(code);
  if (rule === undefined) return undefined;
  const syscall = node.syscall;
  const pre = rule.connectPhase || (syscall !== undefined && PRE_SEND_SYSCALLS.has(syscall)) || isDnsSyscall(syscall);
  return {
    connection: rule.connection,
    kind: rule.kind,
    code,
    detail: rule.detail ?? "",
    delivered: pre ? "no" : "maybe",
    meaning: rule.meaning,
    ...override,
  };
}

/**
 * Turns a code Node could not name plus a numeric errno into a canonical code.
 * Node 20 says `code: "Unknown system error -102"` for ENETRESET from net
 * (and "UNKNOWN" from fs-style errors); the errno still tells.
 */
function canonicalCode(node: ErrorNode, platform: Platform): string | undefined {
  const code = node.code;
  const errno = node.errno;
  if ((code === undefined || isUnnamedNodeCode(code)) && typeof errno === "number" && Number.isInteger(errno)) {
    const named = codeForErrno(errno, platform);
    if (named !== undefined && named !== "UNKNOWN") return named;
    if (code !== undefined) return "UNKNOWN";
  }
  if (code === undefined && typeof errno === "string" && /^E[A-Z0-9_]+$/.test(errno)) return errno; // node-fetch FetchError
  return code;
}

export function nodeVerdict(node: ErrorNode, platform: Platform): NodeVerdict | undefined {
  // nats.js names its errors (a JetStream API error's numeric `code` is no errno).
  const nats = natsVerdict(node);
  if (nats !== undefined) return nats;
  const code = canonicalCode(node, platform);

  if (code !== undefined) {
    const special = byCodeInContext(code, node, platform);
    if (special !== undefined) return special;
    const ruled = fromRule(code, node);
    if (ruled !== undefined) return ruled;
    const family = byCodeFamily(code, node);
    if (family !== undefined) return family;
  }

  const name = node.name;
  if (name === "TimeoutError") return fromRule("TimeoutError", node, { code: "TimeoutError" });
  if (name === "AbortError") return fromRule("AbortError", node);

  if (isGrpcStatusError(node)) {
    const status = node.rawCode as number;
    const g = grpcVerdict(status);
    // UNAVAILABLE usually names the socket error in `details`: use its kind when it is a connection code.
    const inner = status === 14 ? codeInText(node.getText("details") ?? "") : undefined;
    const innerRule = inner === undefined ? undefined : ruleForCode(inner);
    const kind = innerRule?.connection === true ? innerRule.kind : g.kind;
    return {
      connection: g.connection,
      kind,
      code: g.code,
      detail: g.detail ?? "",
      delivered: innerRule?.connectPhase === true ? "no" : "maybe",
      meaning: g.meaning,
    };
  }

  if (isMqttReasonError(node)) {
    const m = mqttVerdict(node.rawCode as number);
    const { code: mqttCode, kind, connection, detail, meaning } = m;
    return { connection, kind, code: mqttCode, detail, delivered: m.connectPhase ? "no" : "maybe", meaning };
  }

  if (code === undefined || code === "UNKNOWN") {
    const lib = byMessage(node.message);
    if (lib !== undefined) {
      return {
        connection: lib.connection,
        kind: lib.kind,
        code: lib.code,
        detail: lib.detail ?? "",
        delivered: lib.connectPhase ? "no" : "maybe",
        meaning: lib.meaning,
      };
    }
  }
  return undefined;
}

/** Codes whose verdict depends on where they came from. */
function byCodeInContext(code: string, node: ErrorNode, platform: Platform): NodeVerdict | undefined {
  switch (code) {
    case "ECONNRESET":
      // Node: "Client network socket disconnected before secure TLS connection was established"
      if (node.message.includes(TLS_HANDSHAKE_DROPPED))
        return fromRule(code, node, {
          kind: "tls",
          detail: "tls-handshake",
          delivered: "no",
          meaning: "connection closed during the TLS handshake",
        });
      return undefined;
    case "ECONNABORTED":
      if (isAxiosTimeout(node))
        return fromRule("ETIMEDOUT", node, {
          code: "ECONNABORTED",
          detail: "axios-timeout",
          meaning: "axios: request timed out",
        });
      return undefined;
    case "ECONNREFUSED":
      // c-ares could not reach the DNS server (syscall queryA, querySrv, ...)
      if (isDnsSyscall(node.syscall))
        return fromRule(code, node, { kind: "dns", delivered: "no", meaning: "could not reach the DNS server" });
      return undefined;
    case "ENOENT":
      // connect() to a Unix socket path that is not there: the server is not running (yet)
      if (node.syscall === "connect")
        return fromRule("ECONNREFUSED", node, {
          code: "ENOENT",
          meaning: "no server socket at that path: the server is not running",
        });
      return undefined;
    case "ERR_BAD_RESPONSE":
      // axios reuses its HTTP-5xx code for a body cut short ("stream has been aborted", 2xx status, no cause)
      if (node.message.startsWith("stream has been aborted"))
        return fromRule("ECONNRESET", node, {
          code,
          detail: "truncated",
          meaning: "axios: the connection closed in the middle of the response body",
        });
      return undefined;
    case "ERR_CANCELED": {
      // axios drops an AbortSignal.timeout()'s TimeoutError; only config.signal.reason still says "timeout"
      const config = node.get("config");
      const signal =
        config === undefined || config === null || typeof config !== "object" ? undefined : safeGet(config, "signal");
      const reason =
        signal === undefined || signal === null || typeof signal !== "object" ? undefined : safeGet(signal, "reason");
      if (reason !== null && typeof reason === "object" && safeGet(reason, "name") === "TimeoutError")
        return fromRule("TimeoutError", node, {
          code,
          detail: "axios-signal-timeout",
          meaning: "axios: the request's AbortSignal.timeout() fired",
        });
      return undefined;
    }
    case "EACCES":
      // An ICMPv6 "administratively prohibited" answer to our SYN: a firewall on the path (IPv4 gives EHOSTUNREACH).
      // EACCES on a Unix socket path (no port) stays a local permission problem.
      if (node.syscall === "connect" && typeof node.get("port") === "number")
        return fromRule("EHOSTUNREACH", node, {
          code,
          detail: "prohibited",
          meaning: "a firewall on the path refused the connection (ICMP administratively prohibited)",
        });
      return undefined;
    case "EADDRNOTAVAIL":
      if (node.syscall === "listen")
        return fromRule("EADDRINUSE", node, {
          code,
          meaning: "cannot listen on an address this machine does not have",
        });
      return undefined;
    case "UNKNOWN": {
      const errno = node.errno;
      if (
        platform === "win32" &&
        errno === UV_UNKNOWN &&
        node.syscall !== undefined &&
        SOCKET_SYSCALLS.has(node.syscall)
      ) {
        return {
          connection: true,
          kind: "network-down",
          code: "UNKNOWN",
          detail: "win32-unknown",
          delivered: node.syscall === "connect" ? "no" : "maybe",
          meaning: "UNKNOWN (-4094) from a socket call: how Windows reports ENETDOWN, ENETRESET or EHOSTDOWN",
        };
      }
      return undefined;
    }
    case "ERR_HTTP2_STREAM_ERROR": {
      // "Stream closed with error code NGHTTP2_REFUSED_STREAM"
      const inner = codeInText(node.message);
      return inner === undefined ? undefined : fromRule(inner, node);
    }
    default:
      return undefined;
  }
}

/** Families of codes too many to list one by one. */
function byCodeFamily(code: string, node: ErrorNode): NodeVerdict | undefined {
  if (isSqlStateConnectionClass(code)) {
    const kind: Kind = code === "08001" || code === "08004" ? "refused" : code === "08003" ? "not-connected" : "reset";
    return {
      connection: true,
      kind,
      code,
      detail: "sqlstate",
      delivered: kind === "refused" ? "no" : "maybe",
      meaning: `SQLSTATE ${code}: connection exception`,
    };
  }
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_OSSL_SSL")) {
    if (/CERT/.test(code))
      return {
        connection: false,
        kind: "certificate",
        code,
        detail: "",
        delivered: "no",
        meaning: `TLS certificate problem (${code})`,
      };
    return {
      connection: true,
      kind: "tls",
      code,
      detail: "",
      delivered: node.syscall === "connect" ? "no" : "maybe",
      meaning: `broken TLS stream (${code})`,
    };
  }
  if (code.startsWith("ERR_INVALID_ARG") || code.startsWith("ERR_OUT_OF_RANGE") || code.startsWith("ERR_MISSING_ARG")) {
    return {
      connection: false,
      kind: "other",
      code,
      detail: "bug",
      delivered: "no",
      meaning: "invalid argument: a bug in the caller",
    };
  }
  return undefined;
}
