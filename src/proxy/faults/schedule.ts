/**
 * schedule: turns another fault on and off over time.
 * - "periodic": on ("down") for `downMs` every `everyMs`: up for everyMs - downMs,
 *   then down for downMs, and again. downMs 0 fires an instant fault (reset,
 *   close) once per period: `{ kind: "reset" }` every 5 s is
 *   `{ kind: "schedule", everyMs: 5000, downMs: 0, fault: { kind: "reset" } }`.
 * - "random": flaps, each up window drawn uniformly in [meanUpMs / 2, 3 meanUpMs / 2]
 *   and each down window in [meanDownMs / 2, 3 meanDownMs / 2], from the proxy's seed.
 * Time comes from the proxy's clock, so a ManualClock drives it in tests.
 */

import type { Clock, Timer } from "../../errors/clock.js";
import { invalidOption } from "../../errors/outlast-error.js";
import type { Random } from "../random.js";
import type { NormalizedScheduledFault, ScheduledFault } from "./catalog.js";
import { checkKeys, readNumber, type Raw } from "./fault.js";

export type ScheduleMode = "periodic" | "random";

export interface ScheduleFault {
  readonly kind: "schedule";
  /** The fault switched on in the down windows (any kind but schedule). */
  readonly fault: ScheduledFault;
  /** Default "periodic". */
  readonly mode?: ScheduleMode;
  /** periodic: the period, in ms (> 0). */
  readonly everyMs?: number;
  /** periodic: how long the fault is on in each period, in ms (0 <= downMs <= everyMs). */
  readonly downMs?: number;
  /** random: mean up (fault off) window, in ms (> 0). */
  readonly meanUpMs?: number;
  /** random: mean down (fault on) window, in ms (>= 0). */
  readonly meanDownMs?: number;
}

export type NormalizedScheduleFault =
  | {
      readonly kind: "schedule";
      readonly mode: "periodic";
      readonly fault: NormalizedScheduledFault;
      readonly everyMs: number;
      readonly downMs: number;
    }
  | {
      readonly kind: "schedule";
      readonly mode: "random";
      readonly fault: NormalizedScheduledFault;
      readonly meanUpMs: number;
      readonly meanDownMs: number;
    };

export function normalizeSchedule(
  raw: Raw,
  normalizeInner: (raw: unknown) => NormalizedScheduledFault,
): NormalizedScheduleFault {
  const mode = raw["mode"] ?? "periodic";
  if (mode !== "periodic" && mode !== "random")
    invalidOption("mode", `must be "periodic" or "random", not ${JSON.stringify(mode)}`);
  if (raw["fault"] === undefined) invalidOption("fault", "is required: the fault to switch on and off");
  const fault = normalizeInner(raw["fault"]);
  if (mode === "periodic") {
    checkKeys(raw, "periodic schedule", ["fault", "mode", "everyMs", "downMs"]);
    const everyMs = readNumber(raw, "everyMs", { min: 0, exclusiveMin: true });
    const downMs = readNumber(raw, "downMs", { min: 0, max: everyMs });
    return { kind: "schedule", mode, fault, everyMs, downMs };
  }
  checkKeys(raw, "random schedule", ["fault", "mode", "meanUpMs", "meanDownMs"]);
  return {
    kind: "schedule",
    mode,
    fault,
    meanUpMs: readNumber(raw, "meanUpMs", { min: 0, exclusiveMin: true }),
    meanDownMs: readNumber(raw, "meanDownMs", { min: 0 }),
  };
}

/**
 * Runs a schedule: calls `setDown(true)` at the start of each down window and
 * `setDown(false)` at its end. Returns a function that stops it (no more calls).
 */
export function startSchedule(
  spec: NormalizedScheduleFault,
  clock: Clock,
  random: Random,
  setDown: (down: boolean) => void,
): () => void {
  let timer: Timer | undefined;
  let stopped = false;
  const upMs = (): number => (spec.mode === "periodic" ? spec.everyMs - spec.downMs : spec.meanUpMs * (0.5 + random()));
  const downMs = (): number => (spec.mode === "periodic" ? spec.downMs : spec.meanDownMs * (0.5 + random()));

  const goDown = (): void => {
    if (stopped) return;
    setDown(true);
    if (stopped) return;
    const ms = downMs();
    if (ms <= 0) goUp();
    else timer = clock.setTimeout(goUp, ms);
  };
  const goUp = (): void => {
    if (stopped) return;
    setDown(false);
    if (stopped) return;
    timer = clock.setTimeout(goDown, Math.max(1, upMs()));
  };
  timer = clock.setTimeout(goDown, Math.max(1, upMs()));
  return () => {
    stopped = true;
    if (timer !== undefined) clock.clearTimeout(timer);
  };
}
