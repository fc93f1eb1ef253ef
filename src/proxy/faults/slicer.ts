/**
 * slicer: every chunk is cut into small pieces (averageSizeBytes ±
 * sizeVariationBytes, uniform) written one by one with `delayMs` between them,
 * so the reader sees many small reads: frame decoders must cope with a frame
 * split anywhere.
 */

import {
  BASE_KEYS,
  checkKeys,
  readBase,
  readNumber,
  type FaultBase,
  type Raw,
  type Stage,
  type StageContext,
} from "./fault.js";
import { invalidOption } from "../../errors/outlast-error.js";

export interface SlicerFault extends FaultBase {
  readonly kind: "slicer";
  /** Mean piece size in bytes (>= 1). Default 16. */
  readonly averageSizeBytes?: number;
  /** Each piece is averageSizeBytes + a uniform draw in [-sizeVariationBytes, +sizeVariationBytes]. Default 0. */
  readonly sizeVariationBytes?: number;
  /** Pause between pieces, in ms. Default 1. */
  readonly delayMs?: number;
}

export type NormalizedSlicerFault = Required<SlicerFault>;

export function normalizeSlicer(raw: Raw): NormalizedSlicerFault {
  checkKeys(raw, "slicer", [...BASE_KEYS, "averageSizeBytes", "sizeVariationBytes", "delayMs"]);
  const averageSizeBytes = readNumber(raw, "averageSizeBytes", { min: 1, integer: true }, 16);
  const sizeVariationBytes = readNumber(raw, "sizeVariationBytes", { min: 0, integer: true }, 0);
  if (sizeVariationBytes >= averageSizeBytes) {
    invalidOption(
      "sizeVariationBytes",
      `must be below averageSizeBytes (${averageSizeBytes}), not ${sizeVariationBytes}`,
    );
  }
  return {
    kind: "slicer",
    ...readBase(raw),
    averageSizeBytes,
    sizeVariationBytes,
    delayMs: readNumber(raw, "delayMs", { min: 0 }, 1),
  };
}

export function slicerStage(spec: () => NormalizedSlicerFault, ctx: StageContext): Stage {
  return {
    async process(item, next) {
      if (item.type !== "data") {
        await next(item);
        return;
      }
      ctx.applied();
      let offset = 0;
      while (offset < item.data.length) {
        if (!ctx.active() || ctx.closed()) {
          await next({ ...item, data: item.data.subarray(offset) });
          return;
        }
        const { averageSizeBytes, sizeVariationBytes, delayMs } = spec();
        const size = Math.max(1, averageSizeBytes + Math.round((ctx.random() * 2 - 1) * sizeVariationBytes));
        await next({ ...item, data: item.data.subarray(offset, offset + size) });
        offset += size;
        if (offset < item.data.length && delayMs > 0) await ctx.sleepUntil(ctx.clock.now() + delayMs);
      }
    },
  };
}
