/**
 * Errno numbers on each platform, both ways: a number (raw OS errno, Node's
 * negative errno, a Windows Winsock or Win32 number) to its canonical code,
 * and a code to its numbers. The data lives in ./errno/, one file per platform.
 */

import type { Platform } from "./classification.js";
import { DARWIN_ERRNO } from "./errno/darwin.js";
import { FREEBSD_ERRNO } from "./errno/freebsd.js";
import { LIBUV_COMMON, LIBUV_NAMED, NODE_REPORTS_AS, UV_UNKNOWN } from "./errno/libuv.js";
import { LINUX_ERRNO } from "./errno/linux.js";
import { ERRNO_MESSAGES } from "./errno/messages.js";
import { WIN32_ERRNO, WIN32_SYSTEM_ERRORS } from "./errno/win32.js";

export { UV_EOF, UV_UNKNOWN, isUnnamedNodeCode } from "./errno/libuv.js";

export const PLATFORMS: readonly Platform[] = ["linux", "darwin", "win32", "freebsd"];

/** A code's numbers on Linux, macOS or FreeBSD. */
export interface UnixNumbers {
  /** The OS errno (positive). */
  readonly errno: number;
  /** What Node puts in `err.errno`: -errno. */
  readonly node: number;
  /** What Node puts in `err.code`: the code, or "Unknown system error -n" when libuv cannot name it. */
  readonly nodeCode: string;
}

/** A code's numbers on Windows. */
export interface Win32Numbers {
  /** The Winsock number (WSAE*), when there is one. */
  readonly wsa?: number;
  /** What Node puts in `err.errno` when this error happens: libuv's number, or -4094 (UNKNOWN). */
  readonly node: number;
  /** What Node puts in `err.code` when this error happens: the code, another code (ESHUTDOWN -> EPIPE) or "UNKNOWN". */
  readonly nodeCode: string;
  /** libuv's own number for the code, when it has one (even if Node never reports it). */
  readonly uv?: number;
  /** Win32 ERROR_* numbers libuv translates to this code. */
  readonly win32Errors?: readonly number[];
}

export interface ErrnoNumbers {
  readonly linux?: UnixNumbers;
  readonly darwin?: UnixNumbers;
  readonly freebsd?: UnixNumbers;
  readonly win32?: Win32Numbers;
  /** libuv's own number, the same on every platform (EAI_*, EOF, ECHARSET): Node's `err.errno`. */
  readonly libuv?: number;
}

type UnixPlatform = "linux" | "darwin" | "freebsd";

/** number -> code, first row wins (so an alias never hides the name libuv gives). */
function reverse(rows: readonly (readonly [string, number])[]): ReadonlyMap<number, string> {
  const m = new Map<number, string>();
  for (const [code, n] of rows) if (!m.has(n)) m.set(n, code);
  return m;
}

const UNIX_BY_NUMBER: Readonly<Record<UnixPlatform, ReadonlyMap<number, string>>> = {
  linux: reverse(LINUX_ERRNO),
  darwin: reverse(DARWIN_ERRNO),
  freebsd: reverse(FREEBSD_ERRNO),
};
const UNIX_BY_CODE: Readonly<Record<UnixPlatform, ReadonlyMap<string, number>>> = {
  linux: new Map(LINUX_ERRNO),
  darwin: new Map(DARWIN_ERRNO),
  freebsd: new Map(FREEBSD_ERRNO),
};
/** libuv's EAI_*, EOF, UNKNOWN, ECHARSET: the same number everywhere. */
const COMMON_BY_NUMBER = reverse(LIBUV_COMMON);
const COMMON_BY_CODE = new Map(LIBUV_COMMON);

const WIN32_BY_CODE = new Map(WIN32_ERRNO.map((r) => [r.code, r]));
const WIN32_BY_UV = new Map(WIN32_ERRNO.flatMap((r) => (r.uv === undefined ? [] : [[r.uv, r.code] as const])));
const WIN32_BY_WSA = new Map(WIN32_ERRNO.flatMap((r) => (r.wsa === undefined ? [] : [[r.wsa, r.code] as const])));
const WIN32_BY_SYSTEM = new Map(WIN32_SYSTEM_ERRORS.map(([n, , code]) => [n, code]));

/** Codes whose Windows (Winsock) error Node reports as `code: "UNKNOWN"`, `errno: -4094`. */
export const WIN32_REPORTED_AS_UNKNOWN: readonly string[] = WIN32_ERRNO.filter(
  (r) => r.wsaReportedAs === "UNKNOWN",
).map((r) => r.code);

/** Every code with a number on some platform, each once, Linux order first. */
export const ERRNO_CODES: readonly string[] = [
  ...new Set([
    ...LINUX_ERRNO.map(([c]) => c),
    ...DARWIN_ERRNO.map(([c]) => c),
    ...FREEBSD_ERRNO.map(([c]) => c),
    ...WIN32_ERRNO.map((r) => r.code),
    ...LIBUV_COMMON.map(([c]) => c),
  ]),
];
const ERRNO_CODE_SET: ReadonlySet<string> = new Set(ERRNO_CODES);

/**
 * The canonical code for an errno on a platform, or undefined.
 * - Linux, macOS, FreeBSD: the raw errno (104) or Node's negative one (-104).
 * - Windows: libuv's number (-4077), a Winsock number (10054) or a Win32
 *   ERROR_* number libuv translates (64, ERROR_NETNAME_DELETED).
 * - Everywhere: libuv's own numbers (-3008 EAI_NONAME, -4095 EOF).
 * UV_UNKNOWN (-4094) gives undefined: the OS error was lost (see WIN32_REPORTED_AS_UNKNOWN).
 */
export function codeForErrno(errno: number, platform: Platform): string | undefined {
  if (!Number.isInteger(errno) || errno === 0 || errno === UV_UNKNOWN) return undefined;
  const common = COMMON_BY_NUMBER.get(errno);
  if (common !== undefined) return common;
  if (platform === "win32") {
    if (errno < 0) return WIN32_BY_UV.get(errno);
    return WIN32_BY_WSA.get(errno) ?? WIN32_BY_SYSTEM.get(errno);
  }
  return UNIX_BY_NUMBER[platform].get(Math.abs(errno));
}

/** True when the code has an errno number on some platform (or is one of libuv's own). */
export function isErrnoCode(code: string): boolean {
  return ERRNO_CODE_SET.has(code);
}

/** The strerror-like text for an errno code, or undefined. */
export function errnoMessage(code: string): string | undefined {
  return Object.hasOwn(ERRNO_MESSAGES, code) ? ERRNO_MESSAGES[code] : undefined;
}

/** The code Node puts in `err.code` for this one, when it renames it (EAI_NONAME -> ENOTFOUND). */
export function nodeReportsAs(code: string): string | undefined {
  return Object.hasOwn(NODE_REPORTS_AS, code) ? NODE_REPORTS_AS[code] : undefined;
}

function unixNumbers(code: string, platform: UnixPlatform): UnixNumbers | undefined {
  const errno = UNIX_BY_CODE[platform].get(code);
  if (errno !== undefined) {
    // Node names the number by libuv's name for it (EWOULDBLOCK is reported as EAGAIN).
    const named = UNIX_BY_NUMBER[platform].get(errno) ?? code;
    return { errno, node: -errno, nodeCode: LIBUV_NAMED.has(named) ? named : `Unknown system error -${errno}` };
  }
  return undefined;
}

function win32Numbers(code: string): Win32Numbers | undefined {
  const win32Errors = WIN32_SYSTEM_ERRORS.filter(([, , c]) => c === code).map(([n]) => n);
  const extra = win32Errors.length > 0 ? { win32Errors } : {};
  const common = COMMON_BY_CODE.get(code);
  if (common !== undefined)
    return win32Errors.length > 0 ? { node: common, nodeCode: code, uv: common, win32Errors } : undefined;
  const row = WIN32_BY_CODE.get(code);
  if (row === undefined) return undefined;
  const uvPart = row.uv === undefined ? {} : { uv: row.uv };
  if (row.wsa === undefined) {
    // libuv has a number but no Winsock error leads to it; it still comes from Win32 errors or libuv itself.
    return row.uv === undefined ? undefined : { node: row.uv, nodeCode: code, ...uvPart, ...extra };
  }
  const reportedAs = row.wsaReportedAs ?? code;
  const node = reportedAs === "UNKNOWN" ? UV_UNKNOWN : (WIN32_BY_CODE.get(reportedAs)?.uv ?? UV_UNKNOWN);
  return { wsa: row.wsa, node, nodeCode: reportedAs, ...uvPart, ...extra };
}

/** A code's numbers on every platform that has it; undefined when no platform does. */
export function errnosForCode(code: string): ErrnoNumbers | undefined {
  if (!ERRNO_CODE_SET.has(code)) return undefined;
  const linux = unixNumbers(code, "linux");
  const darwin = unixNumbers(code, "darwin");
  const freebsd = unixNumbers(code, "freebsd");
  const win32 = win32Numbers(code);
  const libuv = COMMON_BY_CODE.get(code);
  return {
    ...(libuv === undefined ? {} : { libuv }),
    ...(linux === undefined ? {} : { linux }),
    ...(darwin === undefined ? {} : { darwin }),
    ...(freebsd === undefined ? {} : { freebsd }),
    ...(win32 === undefined ? {} : { win32 }),
  };
}

/** Node's `process.platform` as one of ours: OpenBSD and NetBSD share FreeBSD's 4.4BSD numbers, other Unixes count as Linux. */
export function toPlatform(p: string = process.platform): Platform {
  if (p === "darwin" || p === "win32" || p === "freebsd") return p;
  return p === "openbsd" || p === "netbsd" ? "freebsd" : "linux";
}
