/**
 * Runs a Node server of the benchmark (plain-tcp or outlast) in a child
 * process: `forkNodeServer` (orchestrator side) forks server-child.js, which
 * calls the contender's `serve()` and reports the port over IPC.
 */

import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "./contender.js";
import { withTimeout } from "./measure.js";

export type NodeServerName = "plain-tcp" | "outlast";

/** Message from server-child to the orchestrator. */
export type ServerChildMessage =
  { readonly type: "listening"; readonly port: number } | { readonly type: "failed"; readonly error: string };

export async function forkNodeServer(
  name: NodeServerName,
  version: string,
  execArgv: readonly string[],
): Promise<RunningServer> {
  const child = fork(fileURLToPath(new URL("./server-child.js", import.meta.url)), [name], {
    execArgv: [...execArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  const [msg] = (await withTimeout(
    Promise.race([
      once(child, "message"),
      exited.then(([code, signal]) => {
        throw new Error(`${name} server exited before listening (code ${String(code)}, signal ${String(signal)})`);
      }),
    ]),
    15_000,
    `${name} server start`,
  )) as [ServerChildMessage];
  if (msg.type !== "listening") {
    child.kill("SIGKILL");
    throw new Error(`${name} server failed to start: ${msg.error}`);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} server has no pid`);
  return {
    port: msg.port,
    pid,
    version,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGTERM: the child closes its server and exits, which writes a --cpu-prof profile.
      child.kill("SIGTERM");
      await withTimeout(exited, 15_000, `${name} server stop`).catch(() => {
        child.kill("SIGKILL");
      });
    },
  };
}
