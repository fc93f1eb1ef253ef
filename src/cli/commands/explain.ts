/**
 * `outlast explain <code|errno>...`: what a code or errno means on each
 * platform, the verdict classify gives it, and what a client should do.
 */

import { parseArgs } from "node:util";
import type { Platform } from "../../errors/classification.js";
import { describeCode, type CodeDescription } from "../../errors/describe-code.js";
import { PLATFORMS, toPlatform, type ErrnoNumbers } from "../../errors/errno-tables.js";
import { checkArgs } from "../args.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command } from "../command.js";

const HELP = `Usage: outlast explain <code|errno>... [--platform linux|darwin|win32|freebsd] [--json]

Explains error codes and errno numbers: the canonical code, its message, its
numbers on Linux, macOS, FreeBSD and Windows (raw errno, Node's negative errno,
Winsock number), the verdict outlast's classify gives it, and what a client
should do.

  <code|errno>   a code (ECONNRESET, EAI_AGAIN, ERR_SSL_WRONG_VERSION_NUMBER)
                 or a number: a raw errno (104), Node's errno (-104), on
                 Windows a Winsock (10054), libuv (-4077) or Win32 (64) number
  --platform P   read numbers as platform P (default: this machine's)
  --json         print a JSON array, one object per argument
  -h, --help     show this help

Examples:
  outlast explain 54 --platform darwin
  outlast explain ECONNRESET EPIPE 113
  outlast explain -4077 --platform win32 --json

Exit codes: 0 every argument explained, 1 some code or number is unknown,
2 usage error.
`;

/** A leading "-" followed by digits is a negative errno, not an option. */
const NEGATIVE = /^-\d+$/;
const MARK = "\u0000";

function isPlatform(s: string): s is Platform {
  return (PLATFORMS as readonly string[]).includes(s);
}

const PLATFORM_LABEL: Readonly<Record<Platform, string>> = {
  linux: "Linux",
  darwin: "macOS",
  freebsd: "FreeBSD",
  win32: "Windows",
};

function formatNumbers(code: string, n: ErrnoNumbers): string {
  const parts: string[] = [];
  for (const p of ["linux", "darwin", "freebsd"] as const) {
    const u = n[p];
    if (u !== undefined) parts.push(`${PLATFORM_LABEL[p]} ${u.errno} (node ${u.node})`);
  }
  const w = n.win32;
  if (w !== undefined) {
    const wsa = w.wsa === undefined ? "" : ` WSA ${w.wsa}`;
    const as = w.nodeCode === code ? "" : `${w.nodeCode} `;
    const sys = w.win32Errors === undefined ? "" : `, Win32 ${w.win32Errors.join("/")}`;
    parts.push(`Windows${wsa} (node ${as}${w.node}${sys})`);
  }
  if (n.libuv !== undefined) parts.push(`libuv ${n.libuv} on every platform`);
  return parts.length === 0 ? "none (not an errno)" : parts.join(", ");
}

function formatText(input: string, platform: Platform, d: CodeDescription): string {
  const asRead = /^-?\d+$/.test(input) ? ` (${input} on ${platform})` : "";
  const lines = [
    `${d.code}${asRead}: ${d.message}`,
    `  verdict:   ${d.connection ? "connection error" : "not a connection error"}, kind ${d.kind}${d.detail === "" ? "" : ` (${d.detail})`}, delivered ${d.delivered}`,
    // Said once: the meaning line only when it adds to the message on the first line.
    ...(d.meaning.toLowerCase() === d.message.toLowerCase() ? [] : [`  meaning:   ${d.meaning}`]),
    `  numbers:   ${formatNumbers(d.code, d.numbers)}`,
    `  do:        ${d.advice}`,
    ...d.notes.map((n) => `  note:      ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}

export const explain: Command = {
  summary: "what an error code or errno means on each platform, and what a client should do",
  help: HELP,
  run(args, io) {
    const options = {
      platform: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    } as const;
    const checked = checkArgs(args, options, true);
    const parsed = parseArgs({
      args: checked.map((a) => (NEGATIVE.test(a) ? MARK + a : a)),
      allowPositionals: true,
      strict: true,
      options,
    });
    const { values } = parsed;
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const inputs = parsed.positionals.map((p) => (p.startsWith(MARK) ? p.slice(MARK.length) : p));
    if (inputs.length === 0) throw new UsageError("give at least one code or errno");
    const platformArg = values.platform;
    if (platformArg !== undefined && !isPlatform(platformArg)) {
      throw new UsageError(`--platform must be one of ${PLATFORMS.join(", ")}, not "${platformArg}"`);
    }
    const platform = platformArg ?? toPlatform();

    let unknown = 0;
    const results = inputs.map((input) => {
      const d = describeCode(input, { platform });
      if (d === undefined) unknown++;
      return { input, d };
    });
    if (values.json) {
      const json = results.map(({ input, d }) =>
        d === undefined ? { input, platform, error: "unknown code or errno" } : { input, platform, ...d },
      );
      io.out(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      io.out(results.flatMap(({ input, d }) => (d === undefined ? [] : [formatText(input, platform, d)])).join("\n"));
    }
    for (const { input, d } of results) {
      if (d === undefined) io.err(`outlast explain: unknown code or errno "${input}" (platform ${platform})\n`);
    }
    return unknown === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
