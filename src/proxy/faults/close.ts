/**
 * close: FIN on the flows `direction` names: "downstream" ends the server ->
 * client flow (the client sees the end, as if the server shut down writing),
 * "upstream" ends the client -> server flow, "both" closes the connection.
 * Bytes of a finished flow that arrive later are dropped. Timing as for reset:
 * `afterMs` after the later of the connection's start and the fault's start.
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

export interface CloseFault extends FaultBase {
  readonly kind: "close";
  /** Wait this long (ms) after the connection opened or the fault started, whichever is later. Default 0. */
  readonly afterMs?: number;
}

export type NormalizedCloseFault = Required<CloseFault>;

export function normalizeClose(raw: Raw): NormalizedCloseFault {
  checkKeys(raw, "close", [...BASE_KEYS, "afterMs"]);
  return { kind: "close", ...readBase(raw), afterMs: readNumber(raw, "afterMs", { min: 0 }, 0) };
}

export function performClose(spec: NormalizedCloseFault, link: LinkControl): void {
  if (actsOn(spec.direction, "upstream")) link.finish("upstream");
  if (actsOn(spec.direction, "downstream")) link.finish("downstream");
}
