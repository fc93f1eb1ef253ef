/**
 * hold: new connections are accepted but not connected upstream and not read:
 * the client's connect succeeds, then nothing answers (a server stuck before
 * its handshake; a load balancer with no backend). When the fault goes (removed,
 * or its schedule ends the window), held connections go on: they are connected
 * upstream and what the client sent meanwhile is forwarded.
 * Connections already open are not touched.
 */

import { checkKeys, readNumber, type Raw } from "./fault.js";

export interface HoldFault {
  readonly kind: "hold";
  /** Chance in [0, 1] that a new connection is held. Default 1. */
  readonly probability?: number;
}

export type NormalizedHoldFault = Required<HoldFault>;

export function normalizeHold(raw: Raw): NormalizedHoldFault {
  checkKeys(raw, "hold", ["probability"]);
  return { kind: "hold", probability: readNumber(raw, "probability", { min: 0, max: 1 }, 1) };
}
