/**
 * describeCode: what a code or an errno number means on a platform, its
 * numbers everywhere, the verdict classify gives it, and what to do.
 */

import { adviceFor } from "./advice.js";
import type { Delivered, Kind, Platform } from "./classification.js";
import { ruleForCode, type CodeRule } from "./code-rules.js";
import {
  codeForErrno,
  errnoMessage,
  errnosForCode,
  isUnnamedNodeCode,
  nodeReportsAs,
  toPlatform,
  UV_UNKNOWN,
  WIN32_REPORTED_AS_UNKNOWN,
  type ErrnoNumbers,
} from "./errno-tables.js";

export interface CodeDescription {
  /** The canonical code ("ECONNRESET"); "UNKNOWN" for libuv's unknown error. */
  readonly code: string;
  /** strerror-like text ("connection reset by peer"); the meaning for codes that are not errnos. */
  readonly message: string;
  readonly kind: Kind;
  /** Whether classify calls it a connection error: reconnect and resend. */
  readonly connection: boolean;
  /** "no" when it happens before any byte can reach the peer (DNS, connect, TLS handshake). */
  readonly delivered: Delivered;
  /** The finer label inside the kind ("cancelled", "bug", ...); "" when none. */
  readonly detail: string;
  /** Short human meaning. */
  readonly meaning: string;
  /** What a client should do. */
  readonly advice: string;
  /** Its numbers on each platform; empty for codes that are not errnos. */
  readonly numbers: ErrnoNumbers;
  /** Platform quirks worth knowing (how Node reports it, what an UNKNOWN may hide). */
  readonly notes: readonly string[];
}

export interface DescribeCodeOptions {
  /** How to read a number; default: this process's platform (OpenBSD, NetBSD as freebsd; other Unixes as linux). */
  readonly platform?: Platform;
}

const PLATFORM_NAMES: Readonly<Record<Platform, string>> = {
  linux: "Linux",
  darwin: "macOS",
  freebsd: "FreeBSD",
  win32: "Windows",
};

/**
 * Describe a code ("ECONNRESET", "EAI_AGAIN", "ERR_SSL_WRONG_VERSION_NUMBER") or
 * an errno on a platform (104 or -104 on linux, 54 on darwin, 10054 or -4077 on
 * win32). Undefined when neither the errno tables nor the verdict table know it.
 */
export function describeCode(
  codeOrErrno: string | number,
  options: DescribeCodeOptions = {},
): CodeDescription | undefined {
  const platform = options.platform ?? toPlatform();
  const code = resolve(codeOrErrno, platform);
  if (code === undefined) return undefined;
  if (code === "UNKNOWN") return describeUnknown();
  const rule = ruleForCode(code) ?? ruleOfReported(code);
  const message = errnoMessage(code);
  if (rule === undefined && message === undefined) return undefined;
  const numbers = errnosForCode(code) ?? {};
  return {
    code,
    message: message ?? rule?.meaning ?? code,
    kind: rule?.kind ?? "other",
    connection: rule?.connection ?? false,
    delivered: rule?.connectPhase === true ? "no" : "maybe",
    detail: rule?.detail ?? "",
    meaning: rule?.meaning ?? message ?? code,
    advice: adviceFor(rule),
    numbers,
    notes: notesFor(code, numbers),
  };
}

/** The code a number or a string stands for on `platform`. */
function resolve(input: string | number, platform: Platform): string | undefined {
  if (typeof input === "number") return input === UV_UNKNOWN ? "UNKNOWN" : codeForErrno(input, platform);
  if (typeof input !== "string") return undefined;
  const s = input.trim();
  if (/^-?\d+$/.test(s)) return resolve(Number(s), platform);
  // Node's own text for an errno libuv cannot name: "Unknown system error -102"
  const unnamed = /^Unknown system error (-?\d+)$/.exec(s);
  if (unnamed?.[1] !== undefined) return resolve(Number(unnamed[1]), platform);
  if (s === "UNKNOWN" || isUnnamedNodeCode(s)) return "UNKNOWN";
  if (ruleForCode(s) !== undefined || errnoMessage(s) !== undefined) return s;
  const upper = s.toUpperCase();
  if (ruleForCode(upper) !== undefined || errnoMessage(upper) !== undefined) return upper;
  return undefined;
}

/** EAI_NONAME has no row of its own: Node reports it as ENOTFOUND, so it gets ENOTFOUND's verdict. */
function ruleOfReported(code: string): CodeRule | undefined {
  const as = nodeReportsAs(code);
  return as === undefined ? undefined : ruleForCode(as);
}

function notesFor(code: string, numbers: ErrnoNumbers): string[] {
  const notes: string[] = [];
  for (const p of ["linux", "darwin", "freebsd"] as const) {
    const n = numbers[p];
    if (n === undefined || n.nodeCode === code) continue;
    notes.push(
      isUnnamedNodeCode(n.nodeCode)
        ? `${PLATFORM_NAMES[p]}: libuv has no name for errno ${n.errno}, so Node reports code "${n.nodeCode}" (net, streams) or "UNKNOWN" (fs) with errno ${n.node}`
        : `${PLATFORM_NAMES[p]}: errno ${n.errno} is also ${n.nodeCode}, the name Node reports`,
    );
  }
  const w = numbers.win32;
  if (w?.wsa !== undefined && w.nodeCode !== code) {
    notes.push(
      w.nodeCode === "UNKNOWN"
        ? `Windows: libuv does not translate WSA ${w.wsa}, so Node reports code "UNKNOWN" with errno ${UV_UNKNOWN}`
        : `Windows: libuv translates WSA ${w.wsa} to ${w.nodeCode}, so Node reports code "${w.nodeCode}" with errno ${w.node}`,
    );
  }
  const as = nodeReportsAs(code);
  if (as !== undefined) notes.push(`Node reports it as code "${as}" with errno ${numbers.libuv ?? "?"}`);
  return notes;
}

function describeUnknown(): CodeDescription {
  const hidden = WIN32_REPORTED_AS_UNKNOWN.filter((c) => ruleForCode(c)?.connection === true);
  return {
    code: "UNKNOWN",
    message: "unknown error",
    kind: "other",
    connection: false,
    delivered: "maybe",
    detail: "",
    meaning: "libuv could not name the OS error",
    advice: `look at the syscall and the platform: on Windows a socket error reported as UNKNOWN (${UV_UNKNOWN}) may be ${hidden.join(", ")}, which are connection errors`,
    numbers: { libuv: UV_UNKNOWN },
    notes: [
      `Windows: Node reports WSA errors libuv does not translate as code "UNKNOWN" errno ${UV_UNKNOWN}, among them ${WIN32_REPORTED_AS_UNKNOWN.join(", ")}`,
      `Unix: Node keeps the number (errno -n) and says "Unknown system error -n" (net) or "UNKNOWN" (fs); describe the number instead`,
    ],
  };
}
