/**
 * A gateway as a child process (`outlast serve --forward ... --stream ...` on a fixed
 * port), so a test can SIGKILL it mid-stream and start it again on the same port.
 */

import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** The environment without the test's own OUTLAST_* variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OUTLAST_")) env[k] = v;
  return env;
}

/** `outlast serve --listen 127.0.0.1:0 ...args` run to its end (a start that must fail): its exit status and stderr. */
export function serveUntilExit(args: readonly string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [bin, "serve", "--listen", "127.0.0.1:0", ...args], {
    env: cleanEnv(),
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

export class GatewayProcess {
  #child: ChildProcess | undefined;
  stderr = "";

  constructor(
    readonly port: number,
    readonly args: readonly string[],
    /** OUTLAST_* (or other) variables for the gateway; the test's own OUTLAST_* are never passed on. */
    readonly extraEnv: Readonly<Record<string, string>> = {},
  ) {}

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts it and resolves once it listens (rejects with its stderr when it exits first). */
  async start(): Promise<void> {
    const env = { ...cleanEnv(), ...this.extraEnv };
    const child = spawn(process.execPath, [bin, "serve", "--listen", `127.0.0.1:${this.port}`, ...this.args], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      child.stderr?.setEncoding("utf8").on("data", (s: string) => {
        this.stderr = (this.stderr + s).slice(-20_000);
        if (this.stderr.includes(`listening on tcp://127.0.0.1:${this.port}`)) resolve();
      });
      child.once("exit", (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        reject(new Error(`gateway on ${this.port} exited (${code ?? signal}):\n${this.stderr.slice(-3000)}`));
      });
    });
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await exited;
  }
}
