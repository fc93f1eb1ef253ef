/**
 * refuse: new connections are accepted and at once reset (RST), never
 * connected upstream: the client sees ECONNRESET right after connecting, as
 * from a server that is up but failing. (The listening socket stays open: a
 * real ECONNREFUSED needs the port closed; stop the proxy for that.)
 * Connections already open are not touched.
 */

import type { Socket } from "node:net";
import { checkKeys, readNumber, type Raw } from "./fault.js";

export interface RefuseFault {
  readonly kind: "refuse";
  /** Chance in [0, 1] that a new connection is refused. Default 1. */
  readonly probability?: number;
}

export type NormalizedRefuseFault = Required<RefuseFault>;

export function normalizeRefuse(raw: Raw): NormalizedRefuseFault {
  checkKeys(raw, "refuse", ["probability"]);
  return { kind: "refuse", probability: readNumber(raw, "probability", { min: 0, max: 1 }, 1) };
}

export function refuseSocket(socket: Socket): void {
  socket.resetAndDestroy();
}
