/**
 * `--log-format json`: pino writing synchronously to stderr (fd 2), one JSON
 * object per line: `{"level":"info","time":"2026-...Z","pid":1,"hostname":"h",
 * "command":"serve","msg":"...", ...fields}`. Levels are labels, not pino's
 * numbers, so `jq 'select(.level=="warn")'` reads naturally. Loaded only when
 * JSON logs are asked for (the human format needs no dependency).
 */

import { hostname } from "node:os";
import pino from "pino";
import type { Log, LogFields, LogLevel } from "./log.js";

export function jsonLog(command: string, level: LogLevel): Log {
  const logger = pino(
    {
      level,
      base: { pid: process.pid, hostname: hostname(), command },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous: a line is on stderr before the process can exit (SIGTERM, a failure).
    pino.destination({ dest: 2, sync: true }),
  );
  const at =
    (l: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (fields === undefined) logger[l](msg);
      else logger[l](withoutUndefined(fields), msg);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), flush: () => logger.flush() };
}

function withoutUndefined(fields: LogFields): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}
