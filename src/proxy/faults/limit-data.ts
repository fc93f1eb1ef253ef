/**
 * limit-data: after `bytes` bytes have passed in a flow, the link is closed
 * with FIN on both sides. Exactly `bytes` bytes get through (a chunk that
 * crosses the limit is cut), then both peers see the end.
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

export interface LimitDataFault extends FaultBase {
  readonly kind: "limit-data";
  /** Bytes allowed through in each flow the fault acts on, counted from when it first applies (>= 0). */
  readonly bytes: number;
}

export type NormalizedLimitDataFault = Required<LimitDataFault>;

export function normalizeLimitData(raw: Raw): NormalizedLimitDataFault {
  checkKeys(raw, "limit-data", [...BASE_KEYS, "bytes"]);
  return { kind: "limit-data", ...readBase(raw), bytes: readNumber(raw, "bytes", { min: 0, integer: true }) };
}

export function limitDataStage(spec: () => NormalizedLimitDataFault, ctx: StageContext): Stage {
  let passed = 0;
  let done = false;
  return {
    async process(item, next) {
      if (done) return; // the link is closing: nothing more goes through
      if (!ctx.active()) {
        await next(item);
        return;
      }
      const limit = spec().bytes;
      if (item.type === "data") {
        const room = Math.max(0, limit - passed);
        const take = Math.min(room, item.data.length);
        if (take > 0) {
          passed += take;
          await next(take === item.data.length ? item : { ...item, data: item.data.subarray(0, take) });
        }
      }
      if (passed >= limit || item.type !== "data") {
        if (passed >= limit) {
          done = true;
          ctx.applied();
          ctx.closeLink(`limit-data: ${limit} bytes passed`);
          return;
        }
        await next(item);
      }
    },
  };
}
