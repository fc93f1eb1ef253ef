/**
 * The real `outlast` binary as a child process, for the send/demo/outbox/live
 * view tests: collected output, waits on output or exit with their own
 * timeouts (never sleeps), and cleanup.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

// compiled to <outDir>/test/cli/: the binary is <outDir>/src/cli/main.js
export const bin = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
export const WAIT_MS = 20_000;

/** The environment without any OUTLAST_* variable of the person running the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OUTLAST_")) env[k] = v;
  return { ...env, ...extra };
}

export function tempDir(t: TestContext, prefix = "outlast-cli-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class Child {
  stdout = "";
  stderr = "";
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding("utf8").on("data", (s: string) => (this.stdout += s));
    child.stderr?.setEncoding("utf8").on("data", (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve((this.exit = { code, signal }))));
  }

  /** Resolves with the first value `check` returns after output or exit; rejects after `timeoutMs`. */
  until<T>(what: string, check: () => T | undefined, timeoutMs = WAIT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.child.stdout?.off("data", wake);
        this.child.stderr?.off("data", wake);
        this.child.off("exit", wake);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const wake = (): void => {
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        }
      };
      this.child.stdout?.on("data", wake);
      this.child.stderr?.on("data", wake);
      this.child.on("exit", wake);
      wake();
    });
  }

  /** Waits for a stderr line matching `re`; rejects when the process exits first. */
  stderrLine(re: RegExp, timeoutMs = WAIT_MS): Promise<RegExpExecArray> {
    return this.until(
      `stderr ${String(re)}`,
      () => {
        const m = this.stderr
          .split("\n")
          .map((l) => re.exec(l))
          .find((x) => x !== null);
        if (m !== undefined) return m;
        if (this.exit !== undefined)
          throw new Error(`exited (${JSON.stringify(this.exit)}) before ${String(re)}; stderr:\n${this.stderr}`);
        return undefined;
      },
      timeoutMs,
    );
  }

  /** Waits for the exit (with a timeout). */
  waitExit(timeoutMs = WAIT_MS): Promise<Exit> {
    return this.until("exit", () => this.exit, timeoutMs);
  }
}

/** Starts `outlast ...args`; killed with SIGKILL at the end of the test if still running. */
export function start(
  t: TestContext,
  args: readonly string[],
  options: SpawnOptions & { envExtra?: Record<string, string> } = {},
): Child {
  const { envExtra, ...spawnOptions } = options;
  const child = spawn(process.execPath, [bin, ...args], {
    env: cleanEnv(envExtra),
    stdio: ["pipe", "pipe", "pipe"],
    ...spawnOptions,
  });
  const c = new Child(child);
  t.after(() => {
    if (c.exit === undefined) child.kill("SIGKILL");
  });
  return c;
}

/** Runs `outlast ...args` to its end, with `input` on stdin. */
export async function run(
  t: TestContext,
  args: readonly string[],
  input = "",
  envExtra: Record<string, string> = {},
  timeoutMs = WAIT_MS,
): Promise<Child & { exit: Exit }> {
  const c = start(t, args, { envExtra });
  c.child.stdin?.end(input);
  await c.waitExit(timeoutMs);
  return c as Child & { exit: Exit };
}

/** Starts `outlast serve` on a free port; resolves with it and its port. */
export async function startServe(
  t: TestContext,
  args: readonly string[] = [],
): Promise<{ serve: Child; port: number }> {
  const serve = start(t, ["serve", "--listen", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const m = await serve.stderrLine(/^outlast serve: listening on tcp:\/\/127\.0\.0\.1:(\d+)$/);
  return { serve, port: Number(m[1]) };
}

/** Every complete JSON line on `text`. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

// eslint-disable-next-line no-control-regex
export const ESCAPE = /\x1b\[/;
