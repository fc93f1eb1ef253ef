/**
 * A library's OUTLAST_INVALID_OPTION in a CLI user's words: the option it names
 * (`clientId`, `averageSizeBytes`) becomes the flag that set it (`--client-id`,
 * `--slicer`), so the message never asks for something the user cannot type.
 */

import type { OutlastError } from "../errors/outlast-error.js";
import { UsageError } from "./command.js";

/** `invalid option clientId: clientId is empty` -> UsageError("--client-id is empty"), when `flags` maps clientId. */
export function invalidOptionUsage(
  err: OutlastError<"OUTLAST_INVALID_OPTION">,
  flags: Readonly<Record<string, string>>,
): UsageError {
  const option = err.details.option;
  const flag = Object.hasOwn(flags, option) ? flags[option] : undefined;
  const prefix = `invalid option ${option}: `;
  if (flag === undefined || !err.message.startsWith(prefix)) return new UsageError(err.message, { cause: err });
  const rest = err.message.slice(prefix.length);
  const named = new RegExp(`\\b${option.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "g");
  return new UsageError(named.test(rest) ? rest.replace(named, flag) : `${flag} ${rest}`, { cause: err });
}
