/** The benches' child processes report over IPC: wait for the first message `pick` accepts. */
import type { ChildProcess } from "node:child_process";

export function next<T>(child: ChildProcess, pick: (msg: unknown) => T | undefined, timeoutMs = 300_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fleet bench: timed out")), timeoutMs);
    const on = (msg: unknown): void => {
      const v = pick(msg);
      if (v === undefined) return;
      clearTimeout(timer);
      child.off("message", on);
      resolve(v);
    };
    child.on("message", on);
  });
}
