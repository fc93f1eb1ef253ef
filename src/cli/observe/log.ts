/**
 * The CLI's logger: one call per event, two formats. `human` (the default) writes
 * the message as one line `outlast <command>: <msg>`; `json` writes one JSON object
 * per line in pino's format (json-log.ts), with the event's fields (clientId,
 * remoteAddress, code, ...). Levels: debug < info < warn < error.
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["human", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Structured context of one line (JSON format); human lines carry it inside `msg`. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Log {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Writes what is buffered (before process.exit). */
  flush(): void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export function levelEnabled(level: LogLevel, threshold: LogLevel): boolean {
  return RANK[level] >= RANK[threshold];
}

/** `outlast <command>: <msg>` lines through `write` (stderr), fields dropped. */
export function humanLog(command: string, threshold: LogLevel, write: (text: string) => void): Log {
  const at =
    (level: LogLevel) =>
    (msg: string): void => {
      if (levelEnabled(level, threshold)) write(`outlast ${command}: ${msg}\n`);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), flush: () => {} };
}

export interface LogOptions {
  readonly command: string;
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Human lines go here (stderr in the CLI, a collector in tests). */
  readonly write: (text: string) => void;
}

/** The logger for `format`; the JSON one loads pino (only then). */
export async function createLog(options: LogOptions): Promise<Log> {
  if (options.format === "human") return humanLog(options.command, options.level, options.write);
  const { jsonLog } = await import("./json-log.js");
  return jsonLog(options.command, options.level);
}
