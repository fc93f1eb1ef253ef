/**
 * libuv's own error numbers, the same on every platform (include/uv/errno.h:
 * UV__EOF, UV__UNKNOWN, UV__ECHARSET, UV__EAI_*), and the codes libuv can name.
 *
 * Node takes `err.errno` from libuv and `err.code` from libuv's name for it.
 * A code libuv cannot name (ENETRESET, EINPROGRESS, ...) still keeps its
 * number on Unix (-errno), but its name is lost: net and stream errors say
 * `code: "Unknown system error -102"`, fs-style errors say `code: "UNKNOWN"`.
 * On Windows such an OS error is translated to UV_UNKNOWN (-4094) and its
 * number is lost too.
 */

import { getSystemErrorMap } from "node:util";

/** libuv's "unknown error": Node's `code: "UNKNOWN"`, `errno: -4094`. */
export const UV_UNKNOWN = -4094;
/** libuv's end of file. */
export const UV_EOF = -4095;

/** libuv codes whose number is the same on Linux, macOS, FreeBSD and Windows. */
export const LIBUV_COMMON: readonly (readonly [code: string, uv: number])[] = [
  ["EOF", UV_EOF],
  ["UNKNOWN", UV_UNKNOWN],
  ["ECHARSET", -4080],
  ["EAI_ADDRFAMILY", -3000],
  ["EAI_AGAIN", -3001],
  ["EAI_BADFLAGS", -3002],
  ["EAI_CANCELED", -3003],
  ["EAI_FAIL", -3004],
  ["EAI_FAMILY", -3005],
  ["EAI_MEMORY", -3006],
  ["EAI_NODATA", -3007],
  ["EAI_NONAME", -3008],
  ["EAI_OVERFLOW", -3009],
  ["EAI_SERVICE", -3010],
  ["EAI_SOCKTYPE", -3011],
  ["EAI_BADHINTS", -3013],
  ["EAI_PROTOCOL", -3014],
];

/**
 * Codes Node reports under another name. Node's DNSException turns getaddrinfo's
 * EAI_NODATA and EAI_NONAME into `code: "ENOTFOUND"` (the errno stays -3007/-3008).
 */
export const NODE_REPORTS_AS: Readonly<Record<string, string>> = {
  EAI_NODATA: "ENOTFOUND",
  EAI_NONAME: "ENOTFOUND",
};

/**
 * The codes the running Node's libuv names (UV_ERRNO_MAP, read through
 * util.getSystemErrorMap()). Any other errno reaches JavaScript without a name.
 * libuv 1.46 (Node 20) names neither ENETRESET nor EINPROGRESS nor ENOEXEC.
 */
export const LIBUV_NAMED: ReadonlySet<string> = new Set([...getSystemErrorMap().values()].map(([name]) => name));

/** True for the code Node gives an errno that libuv could not name: "UNKNOWN" or "Unknown system error -102". */
export function isUnnamedNodeCode(code: unknown): boolean {
  return typeof code === "string" && (code === "UNKNOWN" || /^Unknown system error -?\d+$/.test(code));
}
