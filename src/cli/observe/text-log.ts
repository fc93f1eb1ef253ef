/**
 * `--log-format json` for a command that writes human lines (`outlast send: ...`,
 * `outlast proxy: ...`): each line becomes one log line, its `msg` the text
 * without the prefix, its level and fields chosen by `describe`. A stack trace
 * (--debug) joins the line before it as `stack`. Used by send and proxy, whose
 * lines are their interface; serve logs through a Log directly.
 */

import { Writable } from "node:stream";
import type { CommandIo } from "../command.js";
import type { Log, LogFields, LogLevel } from "./log.js";

export interface LineMeaning {
  readonly level: LogLevel;
  readonly fields?: LogFields;
}

export type Describe = (msg: string) => LineMeaning;

/** Failures and refusals are errors; "still stored", "dropped", "again" are warnings; the rest is info. */
export const describeByWords: Describe = (msg) => {
  if (
    /^(cannot|internal error|unexpected)|: (cannot|failed)|failed to|is locked|stopped reading at an input error|did not open/i.test(
      msg,
    )
  )
    return { level: "error" };
  if (/still stored|dropped|again: stopping at once|still retrying|does not speak|link lost/i.test(msg))
    return { level: "warn" };
  return { level: "info" };
};

export interface TextLog {
  /** For `io.err`. */
  readonly io: CommandIo;
  /** For a LiveRegion (never a TTY: plain progress lines, no escapes). */
  readonly stream: Writable & { isTTY: false };
}

export function textLog(log: Log, command: string, io: CommandIo, describe: Describe = describeByWords): TextLog {
  const prefix = `outlast ${command}: `;
  const write = (text: string): void => {
    const lines = text.split("\n").filter((l) => l !== "");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const msg = line.startsWith(prefix) ? line.slice(prefix.length) : line;
      const stack: string[] = [];
      while (i + 1 < lines.length && !(lines[i + 1] as string).startsWith(prefix)) stack.push(lines[++i] as string);
      const meaning = describe(msg);
      const fields = stack.length === 0 ? meaning.fields : { ...meaning.fields, stack: stack.join("\n") };
      log[meaning.level](msg, fields);
    }
  };
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        write(String(chunk));
        callback();
      },
    }),
    { isTTY: false as const },
  );
  return { io: { out: io.out, err: write }, stream };
}
