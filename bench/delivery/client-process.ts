/**
 * Orchestrator side of a client child (client-child.ts): fork it, send it a
 * request, await its answer (with a timeout), kill it if it misbehaves.
 */

import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { FromClientChild, ToClientChild } from "./client-child.js";
import { withTimeout } from "./measure.js";

export class ClientProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<unknown>;
  readonly #inbox: FromClientChild[] = [];
  #waiter: ((msg: FromClientChild) => void) | undefined;
  #exitInfo: string | undefined;

  constructor(execArgv: readonly string[]) {
    this.#child = fork(fileURLToPath(new URL("./client-child.js", import.meta.url)), [], {
      execArgv: [...execArgv],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (msg: FromClientChild) => {
      const w = this.#waiter;
      this.#waiter = undefined;
      if (w !== undefined) w(msg);
      else this.#inbox.push(msg);
    });
    this.#exited = once(this.#child, "exit").then(([code, signal]) => {
      this.#exitInfo = `code ${String(code)}, signal ${String(signal)}`;
    });
  }

  /** Sends `msg` and returns the child's answer; throws the child's error, or when it exits or takes longer than `timeoutMs`. */
  async request(msg: ToClientChild, timeoutMs: number, what: string): Promise<FromClientChild> {
    if (this.#exitInfo !== undefined) throw new Error(`client child already exited (${this.#exitInfo})`);
    this.#child.send(msg);
    const answer = await withTimeout(
      Promise.race([
        this.#next(),
        this.#exited.then(() => {
          throw new Error(`client child exited without answering (${String(this.#exitInfo)})`);
        }),
      ]),
      timeoutMs,
      what,
    ).catch((err: unknown) => {
      this.kill();
      throw err;
    });
    if (answer.type === "failed") throw new Error(answer.error);
    return answer;
  }

  #next(): Promise<FromClientChild> {
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  /** Waits for the child to exit (it exits after "end" or "failed"); kills it after 10 s. */
  async exited(): Promise<void> {
    await withTimeout(this.#exited, 10_000, "client child exit").catch(() => this.kill());
  }
}
