/**
 * `--config FILE`: options from a JSON or TOML file (TOML when the name ends in
 * .toml). The keys are the command's flag names, so every flag has a key and a
 * flag added to a command's option table is a key at once:
 *
 *   listen = "0.0.0.0:7070"        # --listen
 *   state = "/var/lib/outlast"     # --state
 *   "idle-timeout" = "30s"         # --idle-timeout
 *   "require-client-cert" = true   # --require-client-cert
 *
 * A string option takes a string (or a number, read as its decimal text); a
 * boolean option takes true or false. Unknown keys, other types and nested
 * tables are usage errors naming the key and the file. Read synchronously:
 * options are read before anything else runs.
 */

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as SmolToml from "smol-toml";
import { UsageError } from "./command.js";

export interface ConfigFileSpec {
  readonly type: "string" | "boolean";
}

/** Options a file cannot set: they are about this command line only. */
const NOT_IN_FILE = new Set(["help", "config"]);

/** How a value from the file is named in messages: `key "idle-timeout" in ./outlast.toml`. */
export function fileSource(key: string, file: string): string {
  return `key ${JSON.stringify(key)} in ${file}`;
}

function parseText(text: string, file: string): unknown {
  if (/\.toml$/i.test(file)) {
    // smol-toml ships a CommonJS build: loaded synchronously, and only for a .toml file.
    const require = createRequire(import.meta.url);
    const { parse } = require("smol-toml") as typeof SmolToml;
    try {
      return parse(text);
    } catch (err) {
      throw new UsageError(`--config ${file} is not valid TOML: ${firstLine(err)}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`--config ${file} is not valid JSON (name it .toml for TOML): ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

/** The closest key by edit distance, when it is close enough to be a typo. */
function closest(key: string, keys: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of keys) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * Reads `file` and checks every key against `specs`. Returns the values as the
 * flags would give them (strings and booleans). Throws UsageError naming the key.
 */
export function readConfigFile(
  file: string,
  specs: Readonly<Record<string, ConfigFileSpec>>,
): Map<string, string | boolean> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new UsageError(
      code === "ENOENT" ? `--config ${file} does not exist` : `cannot read --config ${file}: ${firstLine(err)}`,
    );
  }
  const data = parseText(text, file);
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new UsageError(`--config ${file} must hold one object of options ({"listen": "127.0.0.1:7070", ...})`);
  const keys = Object.keys(specs).filter((k) => !NOT_IN_FILE.has(k));
  const out = new Map<string, string | boolean>();
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const spec = NOT_IN_FILE.has(key) || !Object.hasOwn(specs, key) ? undefined : specs[key];
    const where = fileSource(key, file);
    if (spec === undefined) {
      const hint = closest(key, keys);
      throw new UsageError(
        `unknown ${where}${hint === undefined ? "" : ` (did you mean ${JSON.stringify(hint)}?)`}; the keys are the flag names: ${keys.join(", ")}`,
      );
    }
    if (spec.type === "boolean") {
      if (typeof value !== "boolean") throw new UsageError(`${where} must be true or false, not ${describe(value)}`);
      out.set(key, value);
    } else if (typeof value === "string") out.set(key, value);
    else if (typeof value === "number" && Number.isFinite(value)) out.set(key, String(value));
    else throw new UsageError(`${where} must be a string, not ${describe(value)}`);
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a table/object";
  return `${typeof value} ${JSON.stringify(value)}`;
}
