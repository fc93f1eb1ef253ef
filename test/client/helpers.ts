/** Test helpers for the client: waiting on events with a deadline, a child-process server. (Faults on the wire: outlast/proxy's FaultProxy.) */

import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import type { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { within } from "../helpers/wait.js";

export { within };

/** Resolves with the first `event` whose argument satisfies `pred`; rejects after `timeoutMs`. */
export function waitFor<T = unknown>(
  emitter: EventEmitter,
  event: string,
  pred: (arg: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onEvent = (arg: T): void => {
      if (!pred(arg)) return;
      cleanup();
      resolve(arg);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${event}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
    };
    emitter.on(event, onEvent);
  });
}

/** A server in a child process (so it can be SIGKILLed). Reports every handler call. */
export class ChildServer {
  readonly handled: number[] = [];
  /** Seqs handed to the handler again with `redelivery: true` (the server crashed between handler and record). */
  readonly redelivered: number[] = [];
  port = 0;
  #child: ChildProcess | undefined;
  #onHandled: (() => void) | undefined;

  async start(port: number, stateDir: string | undefined): Promise<number> {
    const script = fileURLToPath(new URL("./fixtures/server-child.js", import.meta.url));
    const child = fork(script, [String(port), stateDir ?? ""], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.#child = child;
    child.on("message", (m: { type: string; seq?: number; redelivery?: boolean }) => {
      if (m.type === "handled" && m.seq !== undefined) {
        this.handled.push(m.seq);
        if (m.redelivery === true) this.redelivered.push(m.seq);
        this.#onHandled?.();
      }
    });
    const listening = await within(
      new Promise<{ port: number }>((resolve, reject) => {
        child.on("message", (m: { type: string; port?: number }) => {
          if (m.type === "listening") resolve({ port: m.port ?? 0 });
        });
        child.once("exit", (code) => reject(new Error(`server child exited with ${code}`)));
      }),
      10_000,
      "server child start",
    );
    this.port = listening.port;
    return this.port;
  }

  /** Resolves once the handler has been called `n` times in total. */
  async waitHandled(n: number, timeoutMs = 20_000): Promise<void> {
    if (this.handled.length >= n) return;
    await within(
      new Promise<void>((resolve) => {
        this.#onHandled = () => {
          if (this.handled.length >= n) resolve();
        };
      }),
      timeoutMs,
      `waiting for ${n} handled messages (have ${this.handled.length})`,
    );
  }

  /**
   * Resolves once `n` distinct seqs have been handled. The record arrives over IPC, one message
   * per handler call, while one cumulative ACK settles many sends at once: after the sends resolve,
   * the last IPC messages may still be on their way. A message really lost times out here.
   */
  async waitDistinctHandled(n: number, timeoutMs = 10_000): Promise<void> {
    const distinct = (): number => new Set(this.handled).size;
    if (distinct() >= n) return;
    await within(
      new Promise<void>((resolve) => {
        this.#onHandled = () => {
          if (distinct() >= n) resolve();
        };
      }),
      timeoutMs,
      `waiting for ${n} distinct handled seqs (have ${distinct()})`,
    ).catch(() => undefined); // the assertion that follows names what is missing
  }

  /** Resolves once `done()` holds, checked after each handler record; rejects after `timeoutMs`. */
  async waitUntil(done: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (done()) return;
    await within(
      new Promise<void>((resolve) => {
        this.#onHandled = () => {
          if (done()) resolve();
        };
      }),
      timeoutMs,
      `waiting until ${what} (handled ${this.handled.length})`,
    );
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }
}
