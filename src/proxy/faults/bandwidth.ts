/**
 * bandwidth: at most `bytesPerSecond` pass. A chunk is cut into pieces of about
 * 1/20 s of traffic, and each piece is held for its transmission time before it
 * is passed on (as a slow link would), so N bytes take at least N / rate seconds.
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

export interface BandwidthFault extends FaultBase {
  readonly kind: "bandwidth";
  /** The limit, in bytes per second (> 0). */
  readonly bytesPerSecond: number;
}

export type NormalizedBandwidthFault = Required<BandwidthFault>;

export function normalizeBandwidth(raw: Raw): NormalizedBandwidthFault {
  checkKeys(raw, "bandwidth", [...BASE_KEYS, "bytesPerSecond"]);
  return {
    kind: "bandwidth",
    ...readBase(raw),
    bytesPerSecond: readNumber(raw, "bytesPerSecond", { min: 0, exclusiveMin: true }),
  };
}

const MAX_PIECE_BYTES = 64 * 1024;

export function bandwidthStage(spec: () => NormalizedBandwidthFault, ctx: StageContext): Stage {
  /** When the simulated wire is free again (clock ms). */
  let busyUntil = 0;
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
        const rate = spec().bytesPerSecond;
        const pieceBytes = Math.min(MAX_PIECE_BYTES, Math.max(1, Math.floor(rate / 20)), item.data.length - offset);
        const start = Math.max(ctx.clock.now(), busyUntil);
        busyUntil = start + (pieceBytes * 1000) / rate;
        while (ctx.clock.now() < busyUntil && ctx.active() && !ctx.closed()) await ctx.sleepUntil(busyUntil);
        await next({ ...item, data: item.data.subarray(offset, offset + pieceBytes) });
        offset += pieceBytes;
      }
    },
  };
}
