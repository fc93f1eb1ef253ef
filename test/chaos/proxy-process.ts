/**
 * The fault proxy in its own process: `outlast proxy` (the CLI) with its HTTP
 * control endpoint, driven with fetch. Out of the orchestrator's process so the
 * proxy has its own event loop and a proxy that does not stop (see the known bug
 * in chaos.test.ts) is killed by pid instead of keeping the test process alive.
 */

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ScheduledFault } from "../../src/proxy/index.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface ProxyProcess {
  readonly port: number;
  readonly pid: number | undefined;
  addFault(fault: ScheduledFault): Promise<string>;
  removeFault(id: string): Promise<void>;
  /** How many times each kind acted on a connection (GET /stats). */
  applied(): Promise<Record<string, number>>;
  /** SIGTERM (every connection gets FIN); SIGKILL after `graceMs`. Resolves false when it had to be killed. */
  stop(graceMs: number): Promise<boolean>;
}

export async function startProxyProcess(options: {
  readonly listen: string;
  readonly upstream: string;
  readonly seed: number;
  readonly extraArgs?: readonly string[];
  readonly wrapper?: readonly string[];
}): Promise<ProxyProcess> {
  const args = [
    "proxy",
    "--listen",
    options.listen,
    "--upstream",
    options.upstream,
    "--seed",
    String(options.seed),
    "--control",
    "127.0.0.1:0",
    ...(options.extraArgs ?? []),
  ];
  const argv = [...(options.wrapper ?? []), process.execPath, CLI, ...args];
  const child = spawn(argv[0] ?? process.execPath, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let stderr = "";
  const { port, control } = await new Promise<{ port: number; control: string }>((resolve, reject) => {
    let port: number | undefined;
    const timer = setTimeout(
      () => reject(new Error(`outlast proxy did not start within ${START_TIMEOUT_MS} ms: ${stderr}`)),
      START_TIMEOUT_MS,
    );
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderr = `${stderr}${line}\n`.slice(-20_000);
      const listening = /listening on tcp:\/\/[^ ]*:(\d+) /.exec(line);
      if (listening?.[1] !== undefined) port = Number(listening[1]);
      const controlLine = /control on (http:\/\/\S+)/.exec(line);
      if (controlLine?.[1] !== undefined && port !== undefined) {
        clearTimeout(timer);
        resolve({ port, control: controlLine[1] });
      }
    });
    void exited.then(() => reject(new Error(`outlast proxy exited: ${stderr}`)));
  });

  const request = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${control}${path}`, {
      method,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`proxy control ${method} ${path}: ${res.status} ${text}`);
    return text === "" ? undefined : JSON.parse(text);
  };

  return {
    port,
    pid: child.pid,
    addFault: async (fault) => ((await request("POST", "/faults", fault)) as { id: string }).id,
    removeFault: async (id) => {
      await request("DELETE", `/faults/${id}`);
    },
    applied: async () => {
      const stats = (await request("GET", "/stats")) as { faults: Record<string, number> };
      return Object.fromEntries(Object.entries(stats.faults).filter(([, n]) => n > 0));
    },
    stop: async (graceMs) => {
      if (child.exitCode !== null || child.signalCode !== null) return true;
      child.kill("SIGTERM");
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, graceMs);
      await exited;
      clearTimeout(timer);
      return !killed;
    },
  };
}
