/**
 * Conventions every `outlast` command shares: options from flags, `OUTLAST_*`
 * environment variables and a `--config` file (a flag wins over its variable,
 * a variable over the file: ./config-file.ts), value parsers (durations, sizes,
 * HOST:PORT, choices) whose errors name where the value came from, exit codes,
 * and failures reported as one line on stderr (a stack trace only with --debug).
 */

import { inspect, parseArgs } from "node:util";
import { checkArgs } from "./args.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./command.js";
import { fileSource, readConfigFile } from "./config-file.js";

/** Documented exit codes of every command. */
export const EXIT_CODES = {
  ok: EXIT_OK,
  /** The command ran and failed (port in use, state locked, unreadable file, ...). */
  failure: EXIT_FAILURE,
  /** The command line or an OUTLAST_* variable is wrong. */
  usage: EXIT_USAGE,
  /** Stopped at once by a second SIGINT (128 + 2). */
  interrupted: 130,
} as const;

export const EXIT_INTERRUPTED = EXIT_CODES.interrupted;

export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** Read from this environment variable when the flag is absent; default `OUTLAST_<NAME>`; `false`: flag only. */
  readonly env?: string | false;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Options every command takes. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h", env: false },
  debug: { type: "boolean" },
  /** A JSON or TOML file of options keyed by flag name (./config-file.ts). */
  config: { type: "string" },
} as const satisfies OptionSpecs;

type ValueOf<S extends OptionSpec> = S["type"] extends "boolean" ? boolean : string | undefined;
export type OptionValues<S extends OptionSpecs> = { -readonly [K in keyof S]: ValueOf<S[K]> };

export interface ReadOptionsResult<S extends OptionSpecs> {
  readonly values: OptionValues<S & typeof COMMON_OPTIONS>;
  readonly positionals: string[];
  /** Where an option's value came from, for error messages: `--idle-timeout`, `OUTLAST_IDLE_TIMEOUT` or `key "idle-timeout" in FILE`. */
  readonly source: (name: keyof S & string) => string;
}

/** `idle-timeout` -> `OUTLAST_IDLE_TIMEOUT`. */
export function envName(option: string): string {
  return `OUTLAST_${option.toUpperCase().replace(/-/g, "_")}`;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Parses `args` strictly (unknown flags are usage errors, in the CLI's voice: ./args.ts), then fills every
 * option not given as a flag from its environment variable, then from the `--config` file
 * (`OUTLAST_CONFIG`). An empty variable counts as unset. Throws UsageError.
 */
export function readOptions<S extends OptionSpecs>(
  args: readonly string[],
  specs: S,
  { env = process.env, allowPositionals = false }: { env?: NodeJS.ProcessEnv; allowPositionals?: boolean } = {},
): ReadOptionsResult<S> {
  const all: OptionSpecs = { ...COMMON_OPTIONS, ...specs };
  const parseSpec: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, spec] of Object.entries(all)) {
    parseSpec[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  const parsed = parseArgs({
    args: checkArgs(args, all, allowPositionals),
    options: parseSpec,
    strict: true,
    allowPositionals,
  });
  const values: Record<string, string | boolean | undefined> = {};
  const sources = new Map<string, string>();
  const configFile =
    (parsed.values as Record<string, string | boolean | undefined>)["config"] ?? (env["OUTLAST_CONFIG"] || undefined);
  const fromFile =
    typeof configFile === "string" ? readConfigFile(configFile, all) : new Map<string, string | boolean>();
  for (const [name, spec] of Object.entries(all)) {
    const given = (parsed.values as Record<string, string | boolean | undefined>)[name];
    if (given !== undefined) {
      values[name] = given;
      sources.set(name, `--${name}`);
      continue;
    }
    const variable = spec.env === false ? undefined : (spec.env ?? envName(name));
    const raw = variable === undefined ? undefined : env[variable];
    if (variable !== undefined && raw !== undefined && raw !== "") {
      sources.set(name, variable);
      if (spec.type === "string") values[name] = raw;
      else if (TRUE.has(raw.toLowerCase())) values[name] = true;
      else if (FALSE.has(raw.toLowerCase())) values[name] = false;
      else throw new UsageError(`${variable} must be 1 or 0 (true/false), not ${JSON.stringify(raw)}`);
    } else if (fromFile.has(name) && typeof configFile === "string") {
      values[name] = fromFile.get(name);
      sources.set(name, fileSource(name, configFile));
    } else {
      values[name] = spec.type === "boolean" ? false : undefined;
      sources.set(name, `--${name}`);
    }
  }
  return {
    values: values as OptionValues<S & typeof COMMON_OPTIONS>,
    positionals: parsed.positionals,
    source: (name) => sources.get(name) ?? `--${name}`,
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * "250ms", "5s", "1.5s", "2m", "1h" -> milliseconds (a bare number is milliseconds).
 * `where` names the flag or variable in the error. Throws UsageError.
 */
export function parseDurationMs(text: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  const unit = DURATION_UNITS[(m?.[2] ?? "ms").toLowerCase()];
  const ms = m?.[1] === undefined || unit === undefined ? NaN : Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new UsageError(`${where} must be a positive duration like 250ms, 5s, 2m or 1h, not ${JSON.stringify(text)}`);
  return ms;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * "4096", "64KiB", "1MiB", "1MB" -> bytes. KiB/MiB/GiB (and K/M/G) are powers of
 * 1024, kB/MB/GB powers of 1000; a bare number is bytes. Throws UsageError.
 */
export function parseSizeBytes(text: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)?\s*$/i.exec(text);
  const unit = SIZE_UNITS[(m?.[2] ?? "b").toLowerCase()];
  const bytes = m?.[1] === undefined || unit === undefined ? NaN : Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0)
    throw new UsageError(
      `${where} must be a whole number of bytes like 4096, 64KiB or 1MiB, not ${JSON.stringify(text)}`,
    );
  return bytes;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * "HOST:PORT", "[IPv6]:PORT", or a bare "PORT" (on `defaultHost`). There is no
 * ":PORT" shorthand: every interface is spelled 0.0.0.0 or [::]. Throws UsageError.
 */
export function parseHostPort(text: string, where: string, defaultHost = "127.0.0.1"): HostPort {
  const t = text.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:[\]]+):(\d+)$/.exec(t) ?? /^()(\d+)$/.exec(t);
  const host = m?.[1] === "" ? defaultHost : m?.[1];
  const port = Number(m?.[2]);
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(
      `${where} must be HOST:PORT (127.0.0.1:7070, [::1]:7070, 0.0.0.0:7070 for every interface), not ${JSON.stringify(text)}`,
    );
  return { host, port };
}

/** Formats a bound address as a URL-ish authority: `127.0.0.1:7070`, `[::1]:7070`. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `text` if it is one of `choices`; else a UsageError listing them. */
export function parseChoice<const C extends string>(text: string, choices: readonly C[], where: string): C {
  if ((choices as readonly string[]).includes(text)) return text as C;
  throw new UsageError(`${where} must be one of ${choices.join(", ")}, not ${JSON.stringify(text)}`);
}

/** The first line of an error's message (one line on stderr). */
export function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0]?.trim() || (err instanceof Error ? err.name : "failed");
}

/**
 * What to print for a failure: one line `outlast <command>: <message>`; with
 * `debug`, the stack trace and every `cause` after it.
 */
export function formatFailure(command: string, err: unknown, debug: boolean): string {
  const head = `outlast ${command}: ${oneLine(err)}\n`;
  if (!debug) return head;
  const parts: string[] = [head];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(
        `${depth === 0 ? "" : "caused by: "}${e.stack ?? `${e.name}: ${e.message}`}${typeof code === "string" || typeof code === "number" ? ` [code ${code}]` : ""}\n`,
      );
      e = e.cause;
    } else {
      parts.push(`${depth === 0 ? "" : "caused by: "}${inspect(e)}\n`);
      e = undefined;
    }
  }
  return parts.join("");
}

/**
 * For a long-running command: an exception nobody caught (a bug) is reported like
 * any failure (one line, the stack with --debug) and the process exits 1 instead
 * of printing Node's default dump. Returns a function that removes the handlers.
 */
export function reportUncaught(command: string, debug: boolean): () => void {
  const onError = (err: unknown): void => {
    if (debug) process.stderr.write(formatFailure(command, err, true));
    else
      process.stderr.write(
        `outlast ${command}: internal error (a bug, please report it; --debug shows the stack trace): ${oneLine(err)}\n`,
      );
    process.exit(EXIT_FAILURE);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return () => {
    process.off("uncaughtException", onError);
    process.off("unhandledRejection", onError);
  };
}
