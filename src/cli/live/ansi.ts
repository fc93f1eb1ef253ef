/**
 * The few ANSI escape sequences the live view uses, and helpers to measure and
 * cut text that may contain them. Nothing here writes: callers decide whether
 * the stream is a terminal.
 */

const ESC = "\x1b[";

export const ansi = {
  hideCursor: `${ESC}?25l`,
  showCursor: `${ESC}?25h`,
  /** Clears the whole current line. */
  clearLine: `${ESC}2K`,
  /** Moves the cursor up `n` lines, to column 1. */
  up: (n: number): string => (n > 0 ? `${ESC}${n}F` : "\r"),
} as const;

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** `text` without escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(SGR, "");
}

/** Printed width of `text` (escape sequences count 0; one column per code point). */
export function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

/** Cuts `text` to at most `width` visible columns, keeping escape sequences whole; a cut line ends with "…". */
export function truncate(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  const keep = Math.max(0, width - 1); // room for the ellipsis that says the line was cut
  for (let i = 0; i < text.length && used < keep;) {
    SGR.lastIndex = i;
    const m = SGR.exec(text);
    if (m !== null && m.index === i) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    const cp = text.codePointAt(i) ?? 0;
    const ch = String.fromCodePoint(cp);
    out += ch;
    i += ch.length;
    used++;
  }
  return `${out}${ESC}0m…`;
}

export type Color = "green" | "red" | "yellow" | "cyan" | "dim" | "bold";

const CODES: Readonly<Record<Color, [number, number]>> = {
  green: [32, 39],
  red: [31, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

/** A painter: colors text when enabled, passes it through otherwise. */
export type Paint = (color: Color, text: string) => string;

export function painter(enabled: boolean): Paint {
  if (!enabled) return (_color, text) => text;
  return (color, text) => `${ESC}${CODES[color][0]}m${text}${ESC}${CODES[color][1]}m`;
}

/** Colors on a terminal unless NO_COLOR is set (https://no-color.org) or TERM is dumb. */
export function colorsWanted(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!isTTY) return false;
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false;
  return env["TERM"] !== "dumb";
}
