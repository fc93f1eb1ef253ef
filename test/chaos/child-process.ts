/**
 * Parent side of the chaos fixtures: spawns a Node child (optionally through a
 * wrapper such as `ip netns exec NS`), hands each stdout line to a callback,
 * waits for a line with a timeout, SIGKILLs it, and waits for its exit.
 */

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";

export interface LineChild {
  readonly pid: number | undefined;
  /** Resolves with the first line (from now on, or already seen if `pastToo`) that `match` accepts. */
  waitFor(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string>;
  writeLine(line: string): void;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Sends a signal and waits for the exit (SIGKILL after `graceMs`). */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function spawnLineChild(
  script: string,
  config: unknown,
  onLine: (line: string) => void,
  wrapper: readonly string[] = [],
): LineChild {
  const argv = [...wrapper, process.execPath, script, JSON.stringify(config)];
  const child: ChildProcessWithoutNullStreams = spawn(argv[0] ?? process.execPath, argv.slice(1), {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  child.stdin.on("error", () => undefined);
  const watchers = new Set<(line: string) => void>();
  createInterface({ input: child.stdout }).on("line", (line) => {
    onLine(line);
    for (const w of [...watchers]) w(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  let gone = false;
  void exited.then(() => (gone = true));

  return {
    pid: child.pid,
    exited,
    stderr: () => stderr,
    writeLine: (line) => {
      if (!gone) child.stdin.write(`${line}\n`);
    },
    waitFor: (match, timeoutMs, what) =>
      new Promise<string>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          watchers.delete(watch);
        };
        const watch = (line: string): void => {
          if (!match(line)) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${what}: nothing within ${timeoutMs} ms; child stderr: ${stderr.trim().slice(-2000)}`));
        }, timeoutMs);
        watchers.add(watch);
        void exited.then(({ code, signal }) => {
          if (!watchers.has(watch)) return;
          done();
          reject(
            new Error(`${what}: the child exited (${code ?? signal}) first; stderr: ${stderr.trim().slice(-2000)}`),
          );
        });
      }),
    kill: async () => {
      if (!gone) child.kill("SIGKILL");
      await exited;
    },
    stop: async (signal, graceMs) => {
      if (gone) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
