/**
 * The list of fault kinds: the `Fault` union, validation of a fault given as a
 * plain object (from code or from the control endpoint's JSON), and which kinds
 * act on the byte stream, on open links, or on new connections.
 */

import { invalidOption } from "../../errors/outlast-error.js";
import { bandwidthStage, normalizeBandwidth, type BandwidthFault, type NormalizedBandwidthFault } from "./bandwidth.js";
import { blackholeStage, normalizeBlackhole, type BlackholeFault, type NormalizedBlackholeFault } from "./blackhole.js";
import { normalizeClose, type CloseFault, type NormalizedCloseFault } from "./close.js";
import type { Raw, Stage, StageContext } from "./fault.js";
import { normalizeHold, type HoldFault, type NormalizedHoldFault } from "./hold.js";
import { latencyStage, normalizeLatency, type LatencyFault, type NormalizedLatencyFault } from "./latency.js";
import {
  limitDataStage,
  normalizeLimitData,
  type LimitDataFault,
  type NormalizedLimitDataFault,
} from "./limit-data.js";
import { normalizeRefuse, type NormalizedRefuseFault, type RefuseFault } from "./refuse.js";
import { normalizeReset, type NormalizedResetFault, type ResetFault } from "./reset.js";
import { normalizeSchedule, type NormalizedScheduleFault, type ScheduleFault } from "./schedule.js";
import { normalizeSlicer, slicerStage, type NormalizedSlicerFault, type SlicerFault } from "./slicer.js";

/** Every fault but schedule: what a schedule can switch on and off. */
export type ScheduledFault =
  | LatencyFault
  | BandwidthFault
  | BlackholeFault
  | ResetFault
  | CloseFault
  | SlicerFault
  | LimitDataFault
  | RefuseFault
  | HoldFault;

/** A fault to add to a proxy. */
export type Fault = ScheduledFault | ScheduleFault;
export type FaultKind = Fault["kind"];

export type NormalizedScheduledFault =
  | NormalizedLatencyFault
  | NormalizedBandwidthFault
  | NormalizedBlackholeFault
  | NormalizedResetFault
  | NormalizedCloseFault
  | NormalizedSlicerFault
  | NormalizedLimitDataFault
  | NormalizedRefuseFault
  | NormalizedHoldFault;

/** A fault with every default filled in, as `faults()` reports it. */
export type NormalizedFault = NormalizedScheduledFault | NormalizedScheduleFault;

export const FAULT_KINDS: readonly FaultKind[] = [
  "latency",
  "bandwidth",
  "blackhole",
  "reset",
  "close",
  "slicer",
  "limit-data",
  "refuse",
  "hold",
  "schedule",
];

export type StreamFault =
  | NormalizedLatencyFault
  | NormalizedBandwidthFault
  | NormalizedBlackholeFault
  | NormalizedSlicerFault
  | NormalizedLimitDataFault;
export type LinkFault = NormalizedResetFault | NormalizedCloseFault;
export type AdmissionFault = NormalizedRefuseFault | NormalizedHoldFault;

export function isStreamFault(f: NormalizedScheduledFault): f is StreamFault {
  return (
    f.kind === "latency" ||
    f.kind === "bandwidth" ||
    f.kind === "blackhole" ||
    f.kind === "slicer" ||
    f.kind === "limit-data"
  );
}
export function isLinkFault(f: NormalizedScheduledFault): f is LinkFault {
  return f.kind === "reset" || f.kind === "close";
}
export function isAdmissionFault(f: NormalizedScheduledFault): f is AdmissionFault {
  return f.kind === "refuse" || f.kind === "hold";
}

function asRaw(input: unknown, what: string): Raw {
  if (typeof input !== "object" || input === null || Array.isArray(input)) invalidOption(what, "must be an object");
  return input as Raw;
}

function normalizeScheduled(input: unknown): NormalizedScheduledFault {
  const raw = asRaw(input, "fault");
  const kind = raw["kind"];
  switch (kind) {
    case "latency":
      return normalizeLatency(raw);
    case "bandwidth":
      return normalizeBandwidth(raw);
    case "blackhole":
      return normalizeBlackhole(raw);
    case "reset":
      return normalizeReset(raw);
    case "close":
      return normalizeClose(raw);
    case "slicer":
      return normalizeSlicer(raw);
    case "limit-data":
      return normalizeLimitData(raw);
    case "refuse":
      return normalizeRefuse(raw);
    case "hold":
      return normalizeHold(raw);
    case "schedule":
      return invalidOption("fault.kind", "a schedule cannot switch another schedule");
    default:
      return invalidOption("kind", `must be one of ${FAULT_KINDS.join(", ")}, not ${JSON.stringify(kind)}`);
  }
}

/** Validates a fault (throws OUTLAST_INVALID_OPTION naming the field) and fills in its defaults. */
export function normalizeFault(input: unknown): NormalizedFault {
  const raw = asRaw(input, "fault");
  if (raw["kind"] === "schedule") return normalizeSchedule(raw, normalizeScheduled);
  return normalizeScheduled(raw);
}

/** The stage of a stream fault on one flow of one link; `spec` returns the current settings. */
export function createStage(spec: () => StreamFault, ctx: StageContext): Stage {
  const kind = spec().kind;
  switch (kind) {
    case "latency":
      return latencyStage(spec as () => NormalizedLatencyFault, ctx);
    case "bandwidth":
      return bandwidthStage(spec as () => NormalizedBandwidthFault, ctx);
    case "blackhole":
      return blackholeStage(spec as () => NormalizedBlackholeFault, ctx);
    case "slicer":
      return slicerStage(spec as () => NormalizedSlicerFault, ctx);
    case "limit-data":
      return limitDataStage(spec as () => NormalizedLimitDataFault, ctx);
    default: {
      const never: never = kind;
      throw new Error(`not a stream fault: ${String(never)}`);
    }
  }
}
