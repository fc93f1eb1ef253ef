/**
 * How `outlast serve` stops, as one server or as a pool: the first SIGINT/SIGTERM resolves
 * `stopped` for a graceful stop (a drain), as does a failure the command reports with
 * `stop()`; a second signal says so and tears down at once (`now`), and the process exits
 * with 128 + the signal's number (stop-signals.ts).
 */

import type { Log } from "../observe/log.js";
import { onStopSignals } from "../stop-signals.js";

export interface SignalStop {
  readonly kind: "signal";
  readonly signal: NodeJS.Signals;
}

export class ServeStop<S> {
  /** True once the command is stopping (a first signal; the command sets it for its other reasons). */
  stopping = false;
  /** The first reason to stop. */
  readonly stopped: Promise<S | SignalStop>;
  #resolve: (stop: S | SignalStop) => void = () => {};
  readonly #removeSignals: () => void;

  /** `now`: a second signal's teardown (the process exits when it returns, or when its promise settles). */
  constructor(log: Log, now: () => void | Promise<unknown>) {
    this.stopped = new Promise((resolve) => (this.#resolve = resolve));
    this.#removeSignals = onStopSignals({
      first: (signal) => {
        this.stopping = true;
        this.#resolve({ kind: "signal", signal });
      },
      again: (signal) => {
        log.warn(`${signal} again: stopping at once; unacknowledged messages will be resent by their clients`, {
          event: "serve.stop",
          signal,
        });
        log.flush();
        return now();
      },
      stopping: () => this.stopping,
    });
  }

  /** Another reason to stop (the output or the server failed); the first reason wins. */
  stop(stop: S): void {
    this.#resolve(stop);
  }

  removeSignals(): void {
    this.#removeSignals();
  }
}
