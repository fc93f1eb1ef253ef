/** One `outlast <command>`: its help and its run function. */
export interface Command {
  /** One line for `outlast --help`. */
  readonly summary: string;
  /** The full help text for `outlast <command> --help`. */
  readonly help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: readonly string[], io: CommandIo): Promise<number> | number;
}

export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** A usage error: main prints its message as one line and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
