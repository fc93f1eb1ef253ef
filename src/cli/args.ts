/**
 * The command line checked in the CLI's own voice before node:util's parseArgs
 * sees it, so every command says "unknown option --bogus" or "--messages needs
 * a value" the same way (parseArgs' own messages, "Unknown option '--bogus'" and
 * "argument is ambiguous", speak another voice and differ between Node versions).
 */

import { UsageError } from "./command.js";

export interface ArgSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

/** A negative number: a value (`--fault-rate -1`, `explain -104`), never an option. */
const NEGATIVE_NUMBER = /^-\d+(?:\.\d+)?$/;

/**
 * Checks `args` against `specs` and returns them ready for parseArgs: a string
 * option followed by a negative number gets it as its value (`--messages -5`
 * becomes `--messages=-5`, so the value's own check names the flag). Throws a
 * UsageError naming the flag as the user typed it.
 */
export function checkArgs(
  args: readonly string[],
  specs: Readonly<Record<string, ArgSpec>>,
  allowPositionals: boolean,
): string[] {
  const shorts = new Map(
    Object.entries(specs).flatMap(([name, s]) => (s.short === undefined ? [] : [[s.short, name] as const])),
  );
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const isOption = arg.startsWith("-") && arg !== "-" && !NEGATIVE_NUMBER.test(arg);
    if (!isOption) {
      if (!allowPositionals) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
      out.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const eq = arg.indexOf("=");
    const typed = long && eq !== -1 ? arg.slice(0, eq) : arg;
    const name = long ? typed.slice(2) : shorts.get(arg.slice(1));
    const spec = name === undefined || !Object.hasOwn(specs, name) ? undefined : specs[name];
    if (name === undefined || spec === undefined) throw new UsageError(`unknown option ${typed}`);
    if (spec.type === "boolean") {
      if (long && eq !== -1) throw new UsageError(`${typed} takes no value`);
      out.push(arg);
      continue;
    }
    if (long && eq !== -1) {
      out.push(arg);
      continue;
    }
    const value = args[i + 1];
    if (value === undefined) throw new UsageError(`${typed} needs a value`);
    if (value.startsWith("-") && value !== "-" && !NEGATIVE_NUMBER.test(value))
      throw new UsageError(
        `${typed} needs a value, but the next argument is the option ${value} (a value that starts with "-" goes as --${name}=VALUE)`,
      );
    out.push(`--${name}=${value}`);
    i++;
  }
  return out;
}

/** The "Usage:" block of a command's help (its first lines, up to the first blank line). */
export function usageOf(help: string): string {
  const end = help.indexOf("\n\n");
  return `${end === -1 ? help : help.slice(0, end)}\n`;
}
