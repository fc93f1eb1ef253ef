/**
 * latency: every chunk (and the FIN or RST after it) arrives `latencyMs`
 * (± `jitterMs`, uniform) after the proxy read it. Order is kept: a chunk never
 * overtakes the one before it, and delays overlap (the delay is counted from
 * when the chunk was read, as in Toxiproxy), so throughput is not cut.
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

export interface LatencyFault extends FaultBase {
  readonly kind: "latency";
  /** Delay added to every chunk, in ms. */
  readonly latencyMs: number;
  /** Each chunk's delay is latencyMs + a uniform draw in [-jitterMs, +jitterMs] (never below 0). Default 0. */
  readonly jitterMs?: number;
}

export type NormalizedLatencyFault = Required<LatencyFault>;

export function normalizeLatency(raw: Raw): NormalizedLatencyFault {
  checkKeys(raw, "latency", [...BASE_KEYS, "latencyMs", "jitterMs"]);
  return {
    kind: "latency",
    ...readBase(raw),
    latencyMs: readNumber(raw, "latencyMs", { min: 0 }),
    jitterMs: readNumber(raw, "jitterMs", { min: 0 }, 0),
  };
}

export function latencyStage(spec: () => NormalizedLatencyFault, ctx: StageContext): Stage {
  return {
    async process(item, next) {
      // One draw per chunk: the spec may change while it waits, the draw does not.
      const draw = ctx.random() * 2 - 1;
      ctx.applied();
      for (;;) {
        if (!ctx.active() || ctx.closed()) break;
        const { latencyMs, jitterMs } = spec();
        const due = item.at + Math.max(0, latencyMs + draw * jitterMs);
        if (ctx.clock.now() >= due) break;
        await ctx.sleepUntil(due);
      }
      await next(item);
    },
  };
}
