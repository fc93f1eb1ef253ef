/**
 * SIGINT and SIGTERM for a long-running command, handled the same way by every
 * command: the first asks for a graceful stop, a second stops at once and exits
 * with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
 */

import { constants } from "node:os";

export interface StopSignalHandlers {
  /** The first signal: stop gracefully (drain, close, report). */
  readonly first: (signal: NodeJS.Signals) => void;
  /** A second signal: tear down at once; the process exits when this returns (or its promise settles). */
  readonly again: (signal: NodeJS.Signals) => void | Promise<unknown>;
  /** True when the command is already stopping for another reason: the next signal counts as a second one. */
  readonly stopping?: () => boolean;
}

/** 128 + the signal's number: the exit code of a process stopped by `signal`. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** Installs the handlers; returns a function that removes them. */
export function onStopSignals(handlers: StopSignalHandlers): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received++ === 0 && handlers.stopping?.() !== true) {
      handlers.first(signal);
      return;
    }
    const exit = (): never => process.exit(signalExitCode(signal));
    const done = handlers.again(signal);
    if (done instanceof Promise) void done.finally(exit);
    else exit();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
