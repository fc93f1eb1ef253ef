/**
 * What every fault shares: the direction it acts on, its probability, the
 * items that flow through a link, the stage interface that stream faults
 * implement, and the validation helpers their normalize functions use.
 */

import type { Clock } from "../../errors/clock.js";
import { invalidOption } from "../../errors/outlast-error.js";

/** Which flow a fault acts on: "upstream" is client -> server, "downstream" is server -> client. */
export type Direction = "upstream" | "downstream" | "both";
/** One flow of a link. */
export type Flow = "upstream" | "downstream";

export const DIRECTIONS: readonly Direction[] = ["upstream", "downstream", "both"];

/** Fields every fault that acts on connections accepts. */
export interface FaultBase {
  /** Default "both". */
  readonly direction?: Direction;
  /** Chance in [0, 1] that the fault applies to a given connection (drawn from the proxy's seed). Default 1. */
  readonly probability?: number;
}

/** What flows through one direction of a link: bytes, then FIN ("end") or RST ("reset"). */
export type Item =
  | { readonly type: "data"; readonly data: Buffer; readonly at: number }
  | { readonly type: "end"; readonly at: number }
  | { readonly type: "reset"; readonly at: number };

/** Passes an item to the next stage (or the destination socket); resolves when it was taken. */
export type Next = (item: Item) => Promise<void>;

/** What a stream fault sees of the link it acts on. */
export interface StageContext {
  readonly clock: Clock;
  readonly flow: Flow;
  /** Seeded random in [0, 1) for this fault on this connection and flow. */
  random(): number;
  /** True while the fault is on: not removed, not in a schedule's up window. */
  active(): boolean;
  /** True once the link is closing or closed: stop waiting. */
  closed(): boolean;
  /** Resolves at `atMs` on the clock, or earlier when the faults change or the link closes. */
  sleepUntil(atMs: number): Promise<void>;
  /** Resolves at the next fault change or when the link closes. */
  changed(): Promise<void>;
  /** Ends the whole link with FIN to both sides (after what was already written). */
  closeLink(reason: string): void;
  /** Counts the fault as applied to this connection (once per activation; later calls are no-ops). */
  applied(): void;
}

/** A stream fault's work on one flow of one link. */
export interface Stage {
  process(item: Item, next: Next): Promise<void>;
}

/** What a reset or close fault does to an open link. */
export interface LinkControl {
  /** RST on the socket `flow` writes to ("upstream": the server's, "downstream": the client's). */
  reset(flow: Flow): void;
  /** FIN on the socket `flow` writes to, after what was already written; later bytes of that flow are dropped. */
  finish(flow: Flow): void;
}

/** True when a fault with this direction acts on `flow`. */
export function actsOn(direction: Direction, flow: Flow): boolean {
  return direction === "both" || direction === flow;
}

// ---- validation helpers for the normalize functions (input may come from JSON) ----

export type Raw = Readonly<Record<string, unknown>>;

export function checkKeys(raw: Raw, kind: string, allowed: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (key !== "kind" && !allowed.includes(key)) {
      invalidOption(key, `a ${kind} fault takes ${["kind", ...allowed].join(", ")}; "${key}" is not one of them`);
    }
  }
}

export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** Must be > min instead of >= min. */
  readonly exclusiveMin?: boolean;
}

export function readNumber(raw: Raw, key: string, rule: NumberRule, fallback?: number): number {
  const value = raw[key] ?? fallback;
  if (value === undefined) invalidOption(key, "is required");
  if (typeof value !== "number" || !Number.isFinite(value))
    invalidOption(key, `must be a finite number, not ${JSON.stringify(value)}`);
  if (rule.integer === true && !Number.isInteger(value)) invalidOption(key, `must be an integer, not ${value}`);
  if (rule.min !== undefined && (rule.exclusiveMin === true ? value <= rule.min : value < rule.min)) {
    invalidOption(key, `must be ${rule.exclusiveMin === true ? ">" : ">="} ${rule.min}, not ${value}`);
  }
  if (rule.max !== undefined && value > rule.max) invalidOption(key, `must be <= ${rule.max}, not ${value}`);
  return value;
}

export function readBase(raw: Raw): { direction: Direction; probability: number } {
  const direction = raw["direction"] ?? "both";
  if (typeof direction !== "string" || !(DIRECTIONS as readonly string[]).includes(direction)) {
    invalidOption("direction", `must be "upstream", "downstream" or "both", not ${JSON.stringify(direction)}`);
  }
  const probability = readNumber(raw, "probability", { min: 0, max: 1 }, 1);
  return { direction: direction as Direction, probability };
}

/** The base keys every connection fault accepts. */
export const BASE_KEYS: readonly string[] = ["direction", "probability"];
