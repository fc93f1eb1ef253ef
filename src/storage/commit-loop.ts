/**
 * The one group-commit loop of the durable log, shared by the client's outbox
 * (outbox/log/group-commit.ts) and the server's state (server/file-dedup-state.ts).
 *
 * One step runs at a time; each step is one durable write (one write and ONE
 * fdatasync for everything its owner queued meanwhile). While a step is on
 * disk, new work queues; when it is done the next step takes all of it at
 * once. A loop woken from idle may first wait one event-loop turn
 * (`gatherTurn`) so every call of that turn joins the first batch.
 *
 * The owner says what a step is (`step`), whether work is left (`hasWork`),
 * and what a step that threw means (`crashed`: the loop stops until kicked
 * again). `stopped` is called each time the loop goes idle.
 */

import { setImmediate as turn } from "node:timers/promises";

export interface CommitSteps {
  /** Is anything left to write (or to wait for)? */
  hasWork(): boolean;
  /** One durable step; false stops the loop until the next kick (a failure the owner already handled). */
  step(): Promise<boolean>;
  /** Work queued while the last step ran: the next step starts without waiting a turn. */
  queued(): boolean;
  /** A step threw (a bug, or an fs layer throwing where it should not). */
  crashed(err: unknown): void;
  /** The loop went idle. */
  stopped(): void;
}

export class CommitLoop {
  #running = false;
  #idleWaiters: (() => void)[] = [];

  constructor(
    readonly steps: CommitSteps,
    /** Wait one event-loop turn when woken from idle, to gather that turn's calls into the first batch. */
    readonly gatherTurn: boolean,
  ) {}

  get running(): boolean {
    return this.#running;
  }

  /** Starts the loop when it is idle. */
  kick(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#run();
  }

  /** Resolves when the loop is idle (at once when it is). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async #run(): Promise<void> {
    const s = this.steps;
    try {
      for (let woken = true; ; woken = false) {
        // Woken from idle: maybe wait a turn so every call of this turn joins the batch. Busy: what queued
        // while the last step was on disk goes at once (one event-loop hop less per commit).
        if ((woken && this.gatherTurn) || (!woken && !s.queued())) await turn();
        if (!s.hasWork()) break;
        if (!(await s.step())) break;
      }
    } catch (err) {
      s.crashed(err);
    }
    this.#running = false;
    s.stopped();
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}
