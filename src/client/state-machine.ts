/**
 * The client's connection states. Each state carries its own data; the legal
 * moves are a table, and a move outside it is a bug (it throws).
 */

import type { Classification } from "../errors/classification.js";
import type { Timer } from "../errors/clock.js";
import type { Link } from "./transport/transport.js";

export type StateName = "connecting" | "open" | "waiting" | "closing" | "closed";

export type State =
  /**
   * A socket is being connected / handshaken (`connection` is undefined while the outbox opens).
   * `attempt` counts failures since the link was last healthy.
   */
  | { readonly name: "connecting"; readonly attempt: number; readonly connection: Link | undefined }
  /** WELCOME received; messages flow. */
  | { readonly name: "open"; readonly attempt: number; readonly connection: Link; readonly sinceMs: number }
  /** Backing off before the next attempt. */
  | {
      readonly name: "waiting";
      readonly attempt: number;
      readonly untilMs: number;
      readonly timer: Timer;
      readonly classification: Classification | undefined;
    }
  /** close(): GOODBYE sent (when there was a link), socket ending. */
  | { readonly name: "closing"; readonly connection: Link | undefined }
  | { readonly name: "closed"; readonly error: Error | undefined };

/** Legal moves. */
export const NEXT: Readonly<Record<StateName, readonly StateName[]>> = {
  connecting: ["open", "waiting", "closing", "closed"],
  open: ["waiting", "closing", "closed"],
  waiting: ["connecting", "closing", "closed"],
  closing: ["closed"],
  closed: [],
};

export function isLegalMove(from: StateName, to: StateName): boolean {
  return NEXT[from].includes(to);
}

export class StateMachine {
  #state: State;

  constructor(initial: State) {
    this.#state = initial;
  }

  get state(): State {
    return this.#state;
  }

  /** Moves to `next` and returns the state left; throws on an illegal move (a bug). */
  move(next: State): State {
    const from = this.#state;
    if (!isLegalMove(from.name, next.name)) {
      throw new Error(`outlast client bug: illegal state move ${from.name} -> ${next.name}`);
    }
    this.#state = next;
    return from;
  }

  /** Replaces the current state's data without a move (same name); throws otherwise. */
  update(next: State): void {
    if (next.name !== this.#state.name)
      throw new Error(`outlast client bug: update ${this.#state.name} with ${next.name}`);
    this.#state = next;
  }
}

/** The connection a state holds, if any (exhaustive: a new state must say). */
export function connectionOf(state: State): Link | undefined {
  switch (state.name) {
    case "connecting":
    case "open":
    case "closing":
      return state.connection;
    case "waiting":
    case "closed":
      return undefined;
    default: {
      const never: never = state;
      throw new Error(`unknown state ${JSON.stringify(never)}`);
    }
  }
}
