/** What a fault proxy reports: its stats, the handle of an added fault, and its events. */

import type { FaultKind } from "./faults/catalog.js";
import type { Flow } from "./faults/fault.js";
import type { FaultChanges, FaultInfo, RegistryChange } from "./fault-registry.js";
import type { ConnectionInfo, Endpoint } from "./link.js";

export interface ProxyStats {
  readonly connections: {
    /** Connections accepted (including refused and held ones). */
    readonly accepted: number;
    /** Connections open to upstream now. */
    readonly open: number;
    /** Connections held by a hold fault now. */
    readonly held: number;
    /** Connections refused by a refuse fault. */
    readonly refused: number;
    /** Connections whose upstream connect failed (the client got RST). */
    readonly upstreamFailed: number;
  };
  /** Bytes forwarded: "upstream" client -> server, "downstream" server -> client. */
  readonly bytes: { readonly upstream: number; readonly downstream: number };
  /** How many times each kind of fault acted on a connection ("schedule": down windows begun). */
  readonly faults: Readonly<Record<FaultKind, number>>;
}

/** A fault added to a proxy. */
export interface FaultHandle {
  readonly id: string;
  readonly kind: FaultKind;
  info(): FaultInfo;
  update(changes: FaultChanges): FaultInfo;
  /** False when it was already removed. */
  remove(): boolean;
}

export interface FaultAppliedEvent {
  readonly fault: FaultInfo;
  readonly connectionId: number;
  /** The flow, for faults that act on bytes. */
  readonly flow?: Flow;
}

export interface ProxyEvents {
  connectionOpened: [ConnectionInfo];
  connectionClosed: [ConnectionInfo];
  connectionRefused: [{ readonly id: number; readonly client: Endpoint; readonly faultId: string }];
  connectionHeld: [{ readonly id: number; readonly client: Endpoint; readonly faultId: string }];
  upstreamFailed: [{ readonly id: number; readonly error: Error }];
  faultAdded: [FaultInfo];
  faultUpdated: [FaultInfo];
  faultRemoved: [FaultInfo];
  faultActivated: [FaultInfo];
  faultDeactivated: [FaultInfo];
  faultApplied: [FaultAppliedEvent];
}

export const CHANGE_EVENT: Readonly<
  Record<RegistryChange, "faultAdded" | "faultUpdated" | "faultRemoved" | "faultActivated" | "faultDeactivated">
> = {
  added: "faultAdded",
  updated: "faultUpdated",
  removed: "faultRemoved",
  activated: "faultActivated",
  deactivated: "faultDeactivated",
};
