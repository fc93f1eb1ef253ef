/**
 * The fault proxy: accepts TCP connections on `listen`, connects each to
 * `upstream`, and moves bytes both ways through the faults that are on.
 * It knows no protocol. Faults can be added, changed and removed at any time.
 */

import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { debuglog } from "node:util";
import { systemClock, type Clock } from "../errors/clock.js";
import { OutlastError, invalidOption } from "../errors/outlast-error.js";
import { isAdmissionFault, type Fault } from "./faults/catalog.js";
import type { Flow } from "./faults/fault.js";
import { HeldConnections } from "./faults/hold.js";
import { refuseSocket } from "./faults/refuse.js";
import {
  FaultRegistry,
  type FaultChanges,
  type FaultEntry,
  type FaultInfo,
  type RegistryChange,
} from "./fault-registry.js";
import { Link, type ConnectionInfo, type Endpoint, type LinkHost } from "./link.js";
import { checkHost, checkPort, checkSeed, type ProxyAddress, type ProxyOptions } from "./proxy-options.js";
import { CHANGE_EVENT, type FaultHandle, type ProxyEvents, type ProxyStats } from "./proxy-events.js";
import { randomSeed } from "./random.js";

const debug = debuglog("outlast");

/** Published once per fault applied to a connection: `{ faultId, kind, connectionId, flow? }`. */
export const faultAppliedChannel = channel("outlast:proxy:faultApplied");

export class FaultProxy extends EventEmitter<ProxyEvents> {
  /** The seed in use (given or drawn): print it so a run can be replayed. */
  readonly seed: number;
  readonly #clock: Clock;
  readonly #listenHost: string;
  readonly #listenPort: number;
  readonly #upstream: ProxyAddress;
  readonly #registry: FaultRegistry;
  readonly #links = new Map<number, Link>();
  readonly #held = new HeldConnections();
  readonly #pending = new Map<number, { client: Socket; upstream: Socket }>();
  readonly #host: LinkHost;
  readonly #counts = { accepted: 0, refused: 0, upstreamFailed: 0 };
  readonly #bytes = { upstream: 0, downstream: 0 };
  #server: Server | undefined;
  #address: ProxyAddress | undefined;
  #listening: Promise<ProxyAddress> | undefined;
  #closed: Promise<void> | undefined;
  #destroyed = false;
  #nextConnection = 0;

  constructor(options: ProxyOptions) {
    super();
    if (typeof options !== "object" || options === null) invalidOption("options", "must be an object");
    if (typeof options.upstream !== "object" || options.upstream === null)
      invalidOption("upstream", "is required: { host, port }");
    this.#upstream = {
      host: checkHost("upstream.host", options.upstream.host),
      port: checkPort("upstream.port", options.upstream.port, false),
    };
    this.#listenHost = checkHost("listen.host", options.listen?.host ?? "127.0.0.1");
    this.#listenPort = checkPort("listen.port", options.listen?.port ?? 0, true);
    this.seed = checkSeed(options.seed) ?? randomSeed();
    this.#clock = options.clock ?? systemClock;
    this.#registry = new FaultRegistry(this.#clock, this.seed, (entry, change) => this.#faultsChanged(entry, change));
    this.#host = {
      clock: this.#clock,
      seed: this.seed,
      activeFaults: () => this.#registry.active(),
      isCurrent: (entry) => this.#registry.has(entry),
      faultApplied: (entry, link, flow) => this.#applied(entry, link.id, flow),
      forwarded: (_link, flow, n) => {
        this.#bytes[flow] += n;
      },
    };
    for (const fault of options.faults ?? []) this.addFault(fault);
  }

  /** Starts listening; resolves to the address (with the real port when 0 was asked). Calling it again returns the same address. */
  listen(): Promise<ProxyAddress> {
    if (this.#closed !== undefined)
      return Promise.reject(new OutlastError("OUTLAST_CLOSED", "this proxy was closed; create another"));
    this.#listening ??= new Promise<ProxyAddress>((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
        this.#onConnection(socket),
      );
      this.#server = server;
      server.once("error", reject);
      server.listen({ host: this.#listenHost, port: this.#listenPort }, () => {
        server.off("error", reject);
        if (this.#closed !== undefined) {
          // close() or destroy() came while listen() was starting
          server.close();
          reject(new OutlastError("OUTLAST_CLOSED", "this proxy was closed while it was starting"));
          return;
        }
        server.on("error", (err) => debug("proxy: server error %s", err.message));
        const a = server.address() as AddressInfo;
        this.#address = { host: a.address, port: a.port };
        debug(
          "proxy: listening on %s:%d -> %s:%d (seed %d)",
          a.address,
          a.port,
          this.#upstream.host,
          this.#upstream.port,
          this.seed,
        );
        resolve(this.#address);
      });
    });
    return this.#listening;
  }

  /** The address listened on, once listen() resolved. */
  address(): ProxyAddress | undefined {
    return this.#address;
  }

  /**
   * Stops accepting, stops schedules, and ends every connection with FIN on
   * both sides (bytes the proxy still holds are dropped); peers that do not
   * close within 2 s are destroyed. Resolves when every socket closed. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  /** Destroys every socket at once and stops. Idempotent; resolves when the listener closed. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    const closing = this.close();
    for (const link of this.#links.values()) link.destroy();
    await closing;
  }

  addFault(fault: Fault): FaultHandle {
    const entry = this.#registry.add(fault);
    return {
      id: entry.id,
      kind: entry.spec.kind,
      info: () => this.#registry.info(entry),
      update: (changes) => this.updateFault(entry.id, changes),
      remove: () => this.removeFault(entry.id),
    };
  }

  /** Changes a fault (a JSON merge patch of its fields: `null` restores a default). Throws OUTLAST_INVALID_OPTION for an unknown id or a bad value. */
  updateFault(id: string, changes: FaultChanges): FaultInfo {
    return this.#registry.info(this.#registry.update(id, changes));
  }

  /** Removes a fault; false when there is none with that id. */
  removeFault(id: string): boolean {
    return this.#registry.remove(id);
  }

  faults(): FaultInfo[] {
    return this.#registry.list().map((e) => this.#registry.info(e));
  }

  connections(): ConnectionInfo[] {
    return [...this.#links.values()].map((l) => l.info());
  }

  stats(): ProxyStats {
    return {
      connections: {
        accepted: this.#counts.accepted,
        open: this.#links.size,
        held: this.#held.size,
        refused: this.#counts.refused,
        upstreamFailed: this.#counts.upstreamFailed,
      },
      bytes: { ...this.#bytes },
      faults: this.#registry.appliedByKind(),
    };
  }

  async #shutdown(): Promise<void> {
    this.#registry.close();
    const server = this.#server;
    const serverClosed =
      server === undefined || !server.listening
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    this.#held.destroyAll();
    for (const { client, upstream } of this.#pending.values()) {
      client.destroy();
      upstream.destroy();
    }
    this.#pending.clear();
    const linksClosed = [...this.#links.values()].map(
      (link) =>
        new Promise<void>((resolve) => {
          if (link.state === "closed") return resolve();
          link.once("closed", () => resolve());
          if (this.#destroyed) link.destroy();
          else link.close();
        }),
    );
    await Promise.all([serverClosed, ...linksClosed]);
  }

  #faultsChanged(entry: FaultEntry, change: RegistryChange): void {
    for (const link of this.#links.values()) link.faultsChanged();
    if (change === "removed" || change === "deactivated" || change === "updated")
      this.#held.release(
        (entry) => this.#registry.has(entry),
        (id, socket) => this.#connect(id, socket),
      );
    if (this.listenerCount(CHANGE_EVENT[change]) > 0) this.emit(CHANGE_EVENT[change], this.#registry.info(entry));
  }

  #applied(entry: FaultEntry, connectionId: number, flow: Flow | undefined): void {
    this.#registry.recordApplied(entry);
    const kind = entry.effective.kind;
    debug(
      "proxy: fault %s (%s) applied to connection %d%s",
      entry.id,
      kind,
      connectionId,
      flow === undefined ? "" : ` ${flow}`,
    );
    if (faultAppliedChannel.hasSubscribers) {
      faultAppliedChannel.publish({ faultId: entry.id, kind, connectionId, ...(flow === undefined ? {} : { flow }) });
    }
    if (this.listenerCount("faultApplied") > 0) {
      this.emit("faultApplied", {
        fault: this.#registry.info(entry),
        connectionId,
        ...(flow === undefined ? {} : { flow }),
      });
    }
  }

  #onConnection(socket: Socket): void {
    if (this.#closed !== undefined) {
      socket.destroy();
      return;
    }
    const id = ++this.#nextConnection;
    this.#counts.accepted++;
    socket.setNoDelay(true);
    socket.on("error", (err) => debug("proxy: connection %d client error %s", id, err.message));
    const client: Endpoint = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    const entry = this.#admission(id);
    if (entry?.effective.kind === "refuse") {
      this.#counts.refused++;
      this.#applied(entry, id, undefined);
      refuseSocket(socket);
      this.emit("connectionRefused", { id, client, faultId: entry.id });
      return;
    }
    if (entry?.effective.kind === "hold") {
      this.#held.hold(id, socket, entry);
      this.#applied(entry, id, undefined);
      this.emit("connectionHeld", { id, client, faultId: entry.id });
      return;
    }
    this.#connect(id, socket);
  }

  /** The refuse or hold fault that takes a new connection, if any (first in order whose probability draw hits). */
  #admission(id: number): FaultEntry | undefined {
    for (const entry of this.#registry.active()) {
      if (isAdmissionFault(entry.effective) && entry.appliesTo(this.seed, id)) return entry;
    }
    return undefined;
  }

  #connect(id: number, client: Socket): void {
    const upstream = connect({ host: this.#upstream.host, port: this.#upstream.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.#pending.set(id, { client, upstream });
    const onClientClose = (): void => {
      upstream.destroy();
    };
    const onError = (error: Error): void => {
      this.#pending.delete(id);
      client.off("close", onClientClose);
      this.#counts.upstreamFailed++;
      debug("proxy: connection %d upstream connect failed: %s", id, error.message);
      if (!client.destroyed) client.resetAndDestroy();
      this.emit("upstreamFailed", { id, error });
    };
    client.once("close", onClientClose);
    upstream.once("error", onError);
    upstream.once("connect", () => {
      this.#pending.delete(id);
      client.off("close", onClientClose);
      upstream.off("error", onError);
      if (this.#closed !== undefined || client.destroyed) {
        upstream.destroy();
        client.destroy();
        return;
      }
      const link = new Link(id, client, upstream, this.#host);
      this.#links.set(id, link);
      link.once("closed", () => {
        this.#links.delete(id);
        debug("proxy: connection %d closed (%d up, %d down)", id, link.bytes.upstream, link.bytes.downstream);
        this.emit("connectionClosed", link.info());
      });
      link.start();
      debug("proxy: connection %d open", id);
      this.emit("connectionOpened", link.info());
    });
  }
}

/** Creates a fault proxy; call listen() to start it. Throws OUTLAST_INVALID_OPTION for bad options or faults. */
export function createProxy(options: ProxyOptions): FaultProxy {
  return new FaultProxy(options);
}
