/**
 * What every contender of the delivery benchmark provides. A contender module
 * (plain-tcp.ts, mqtt.ts, outlast.ts) exports `contender: Contender`.
 *
 * The server side runs in its own process (a Node child for plain-tcp and
 * outlast, Mosquitto for mqtt), so the client's CPU time and RSS, measured in
 * the client child process, are the client's alone.
 */

/** A running server process the orchestrator can measure and stop. */
export interface RunningServer {
  readonly port: number;
  /** Operating-system pid of the server process (for its CPU time). */
  readonly pid: number;
  /** Version string to print in the report (e.g. "mosquitto 2.0.11"). */
  readonly version: string;
  stop(): Promise<void>;
}

/** One connected client of a contender, driven by the client child process. */
export interface BenchClient {
  /**
   * Sends `count` messages of `payload`, keeping at most `window` unacknowledged
   * ones outstanding (topping the window up as acknowledgements arrive). Resolves
   * with the number of acknowledged messages once all `count` are acknowledged.
   */
  pipelined(payload: Buffer, count: number, window: number): Promise<number>;
  /** Sends one message and resolves when it is acknowledged. */
  roundTrip(payload: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface ServerStartOptions {
  /** Extra node flags for a Node server child (e.g. --cpu-prof). */
  readonly execArgv: readonly string[];
}

export interface Contender {
  /** Name in the report and on the command line. */
  readonly name: string;
  /** One-line description for the report. */
  readonly description: string;
  /** Version of the client library, for the report. */
  clientVersion(): string;
  /** Starts the server process (called in the orchestrator). */
  startServer(options: ServerStartOptions): Promise<RunningServer>;
  /** Connects a client (called in the client child); resolves once messages can flow. */
  openClient(port: number, clientId: string): Promise<BenchClient>;
}

export const CONTENDER_NAMES = ["plain-tcp", "outlast", "mqtt"] as const;
export type ContenderName = (typeof CONTENDER_NAMES)[number];

/** Loads a contender module lazily, so a contender that fails to load does not stop the others. */
export async function loadContender(name: ContenderName): Promise<Contender> {
  switch (name) {
    case "plain-tcp":
      return (await import("./plain-tcp.js")).contender;
    case "outlast":
      return (await import("./outlast.js")).contender;
    case "mqtt":
      return (await import("./mqtt.js")).contender;
    default: {
      const never: never = name;
      throw new Error(`unknown contender ${String(never)}`);
    }
  }
}

export function isContenderName(s: string): s is ContenderName {
  return (CONTENDER_NAMES as readonly string[]).includes(s);
}
