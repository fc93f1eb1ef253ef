/** Starts test/server/fixtures/crash-server in a child process (killed after the test); resolves with its port. */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";

/** `mode`: "record" calls onMessage, "batch" calls onMessages; each call is appended to `callsFile`. */
export async function startCrashServer(
  t: TestContext,
  mode: "record" | "batch",
  dir: string,
  callsFile: string,
  round: number,
): Promise<{ child: ChildProcess; port: number }> {
  const fixture = join(import.meta.dirname, "fixtures", "crash-server.js");
  const child = spawn(process.execPath, [fixture, dir, mode, callsFile, String(round)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once("line", (line) => resolve(Number(line.split(" ")[1])));
    child.once("exit", (code) => reject(new Error(`crash-server exited early (${code})`)));
  });
  return { child, port };
}
