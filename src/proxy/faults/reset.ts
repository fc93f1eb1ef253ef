/**
 * reset: RST (socket.resetAndDestroy()) to the sides `direction` names:
 * "upstream" the server, "downstream" the client, "both" both. A side not named
 * gets FIN, so the link always ends. Acts on every connection open while the
 * fault is on, `afterMs` after the later of the connection's start and the
 * fault's start (0: at once, and new connections are reset as soon as they open).
 */

import {
  BASE_KEYS,
  actsOn,
  checkKeys,
  readBase,
  readNumber,
  type FaultBase,
  type LinkControl,
  type Raw,
} from "./fault.js";

export interface ResetFault extends FaultBase {
  readonly kind: "reset";
  /** Wait this long (ms) after the connection opened or the fault started, whichever is later. Default 0. */
  readonly afterMs?: number;
}

export type NormalizedResetFault = Required<ResetFault>;

export function normalizeReset(raw: Raw): NormalizedResetFault {
  checkKeys(raw, "reset", [...BASE_KEYS, "afterMs"]);
  return { kind: "reset", ...readBase(raw), afterMs: readNumber(raw, "afterMs", { min: 0 }, 0) };
}

export function performReset(spec: NormalizedResetFault, link: LinkControl): void {
  // FIN first, so a FIN'd side is not cut by the RST's teardown of its partner.
  if (!actsOn(spec.direction, "upstream")) link.finish("upstream");
  if (!actsOn(spec.direction, "downstream")) link.finish("downstream");
  if (actsOn(spec.direction, "upstream")) link.reset("upstream");
  if (actsOn(spec.direction, "downstream")) link.reset("downstream");
}
