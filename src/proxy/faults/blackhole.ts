/**
 * blackhole: nothing passes, and the sockets stay open: the half-open link.
 * Bytes, FIN and RST are held (not dropped) while the fault is on, as a TCP
 * connection across a dead route holds them (the sender's kernel would
 * retransmit them). The proxy stops reading once its buffer is full, so the
 * sender feels backpressure. When the fault goes, what was held flows, in order.
 * A close on one side is not passed on either: the other side never learns.
 */

import { BASE_KEYS, checkKeys, readBase, type FaultBase, type Raw, type Stage, type StageContext } from "./fault.js";

export interface BlackholeFault extends FaultBase {
  readonly kind: "blackhole";
}

export type NormalizedBlackholeFault = Required<BlackholeFault>;

export function normalizeBlackhole(raw: Raw): NormalizedBlackholeFault {
  checkKeys(raw, "blackhole", BASE_KEYS);
  return { kind: "blackhole", ...readBase(raw) };
}

export function blackholeStage(_spec: () => NormalizedBlackholeFault, ctx: StageContext): Stage {
  return {
    async process(item, next) {
      if (ctx.active() && !ctx.closed()) ctx.applied();
      while (ctx.active() && !ctx.closed()) await ctx.changed();
      await next(item);
    },
  };
}
