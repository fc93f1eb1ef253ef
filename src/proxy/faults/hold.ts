/**
 * hold: new connections are accepted but not connected upstream and not read:
 * the client's connect succeeds, then nothing answers (a server stuck before
 * its handshake; a load balancer with no backend). When the fault goes (removed,
 * or its schedule ends the window), held connections go on: they are connected
 * upstream and what the client sent meanwhile is forwarded.
 * Connections already open are not touched.
 */

import type { Socket } from "node:net";
import { debuglog } from "node:util";
import type { FaultEntry } from "../fault-registry.js";
import { checkKeys, readNumber, type Raw } from "./fault.js";

const debug = debuglog("outlast");

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

/** The connections a hold fault keeps waiting, each with the fault that holds it. */
export class HeldConnections {
  readonly #held = new Map<number, { readonly socket: Socket; readonly entry: FaultEntry }>();

  /** Connections held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Keeps `socket` waiting: not connected upstream, not read (what it sends waits in the kernel). */
  hold(id: number, socket: Socket, entry: FaultEntry): void {
    this.#held.set(id, { socket, entry });
  }

  /**
   * Lets go of each connection whose hold fault is gone (removed, `isCurrent`
   * false), off (its schedule window ended) or changed into another kind; each
   * goes on through `connect`, which forwards what the client sent meanwhile.
   */
  release(isCurrent: (entry: FaultEntry) => boolean, connect: (id: number, socket: Socket) => void): void {
    for (const [id, { socket, entry }] of this.#held) {
      if (isCurrent(entry) && entry.active && entry.effective.kind === "hold") continue;
      this.#held.delete(id);
      if (socket.destroyed) continue;
      debug("proxy: connection %d released from hold", id);
      connect(id, socket);
    }
  }

  /** Drops every held connection (the proxy is closing). */
  destroyAll(): void {
    for (const { socket } of this.#held.values()) socket.destroy();
    this.#held.clear();
  }
}
