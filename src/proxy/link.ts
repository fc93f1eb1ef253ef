/**
 * One proxied connection: the client's socket, the upstream socket, and a pipe
 * for each flow ("upstream": client -> server, "downstream": server -> client).
 * It gives the stream faults their stages and context, applies reset and close
 * faults, and ends when both sockets have closed.
 */

import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { debuglog } from "node:util";
import type { Clock, Timer } from "../errors/clock.js";
import { createStage, isLinkFault, isStreamFault } from "./faults/catalog.js";
import { performClose } from "./faults/close.js";
import { actsOn, type Flow, type LinkControl, type Stage, type StageContext } from "./faults/fault.js";
import { performReset } from "./faults/reset.js";
import type { FaultEntry } from "./fault-registry.js";
import { Pipe } from "./pipe.js";
import { createRandom, deriveSeed } from "./random.js";

const debug = debuglog("outlast");

/** After FIN both ways, how long the peers get to close before the sockets are destroyed. */
const CLOSE_GRACE_MS = 2000;

/** What a link needs from its proxy. */
export interface LinkHost {
  readonly clock: Clock;
  readonly seed: number;
  /** Faults that are on now, in order. */
  activeFaults(): readonly FaultEntry[];
  /** True while `entry` is still one of the proxy's faults. */
  isCurrent(entry: FaultEntry): boolean;
  /** Called once per activation of a fault on a link (and flow, for stream faults). */
  faultApplied(entry: FaultEntry, link: Link, flow: Flow | undefined): void;
  forwarded(link: Link, flow: Flow, n: number): void;
}

export type LinkState = "open" | "closing" | "closed";

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** A connection as `connections()` reports it. */
export interface ConnectionInfo {
  readonly id: number;
  readonly client: Endpoint;
  readonly upstream: Endpoint;
  readonly state: LinkState;
  /** Bytes forwarded in each flow. */
  readonly bytes: { readonly upstream: number; readonly downstream: number };
  /** When the connection to upstream opened, on the proxy's clock (ms). */
  readonly openedAtMs: number;
}

interface StageSlot {
  readonly stage: Stage;
  readonly key: string;
}

export class Link extends EventEmitter<{ closed: [] }> {
  readonly id: number;
  readonly client: Socket;
  readonly upstream: Socket;
  readonly openedAtMs: number;
  readonly bytes = { upstream: 0, downstream: 0 };
  readonly #host: LinkHost;
  readonly #pipes: Record<Flow, Pipe>;
  readonly #stages = new Map<string, StageSlot>();
  readonly #rolls = new Map<string, boolean>();
  readonly #applied = new Set<string>();
  readonly #actionsDone = new Set<string>();
  readonly #timers = new Set<Timer>();
  readonly #waiters = new Set<() => void>();
  readonly #clientInfo: Endpoint;
  readonly #upstreamInfo: Endpoint;
  #state: LinkState = "open";
  #graceTimer: Timer | undefined;
  #openSockets = 2;

  constructor(id: number, client: Socket, upstream: Socket, host: LinkHost) {
    super();
    this.id = id;
    this.client = client;
    this.upstream = upstream;
    this.#host = host;
    this.openedAtMs = host.clock.now();
    this.#clientInfo = { address: client.remoteAddress ?? "", port: client.remotePort ?? 0 };
    this.#upstreamInfo = { address: upstream.remoteAddress ?? "", port: upstream.remotePort ?? 0 };
    const owner = {
      clock: host.clock,
      stagesFor: (flow: Flow) => this.#stagesFor(flow),
      forwarded: (flow: Flow, n: number) => {
        this.bytes[flow] += n;
        host.forwarded(this, flow, n);
      },
      failed: (err: unknown) => {
        debug(
          "proxy: connection %d destroyed after a fault failed: %s",
          id,
          err instanceof Error ? err.stack : String(err),
        );
        this.destroy();
      },
    };
    this.#pipes = {
      upstream: new Pipe("upstream", client, upstream, owner),
      downstream: new Pipe("downstream", upstream, client, owner),
    };
  }

  get state(): LinkState {
    return this.#state;
  }

  info(): ConnectionInfo {
    return {
      id: this.id,
      client: this.#clientInfo,
      upstream: this.#upstreamInfo,
      state: this.#state,
      bytes: { ...this.bytes },
      openedAtMs: this.openedAtMs,
    };
  }

  start(): void {
    for (const socket of [this.client, this.upstream]) {
      socket.once("close", () => {
        if (--this.#openSockets === 0) this.#closed();
      });
    }
    this.#pipes.upstream.start();
    this.#pipes.downstream.start();
    this.faultsChanged();
  }

  /** Stops reading both sockets (data waits in the kernel; the peers feel backpressure). */
  pause(): void {
    this.#pipes.upstream.pause();
    this.#pipes.downstream.pause();
  }

  resume(): void {
    this.#pipes.upstream.resume();
    this.#pipes.downstream.resume();
  }

  /** Ends both sides with FIN (after what was already written); destroys them if the peers have not closed after a grace period. */
  close(): void {
    if (this.#state !== "open") return;
    this.#pipes.upstream.finish();
    this.#pipes.downstream.finish();
    this.#afterFinish();
  }

  /** Destroys both sockets at once. */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  /** The faults changed (added, updated, removed, switched by a schedule): wake waiting stages, apply reset and close faults. */
  faultsChanged(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
    if (this.#state === "open") this.#applyLinkFaults();
  }

  #closed(): void {
    this.#state = "closed";
    this.#pipes.upstream.stop();
    this.#pipes.downstream.stop();
    for (const t of this.#timers) this.#host.clock.clearTimeout(t);
    this.#timers.clear();
    if (this.#graceTimer !== undefined) this.#host.clock.clearTimeout(this.#graceTimer);
    this.faultsChanged();
    this.emit("closed");
  }

  #afterFinish(): void {
    if (!this.#pipes.upstream.done || !this.#pipes.downstream.done || this.#state !== "open") return;
    this.#state = "closing";
    this.#graceTimer = this.#host.clock.setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
  }

  /** The fault's roll for this connection, drawn once per rollKey (it is asked for every chunk). */
  #enabled(entry: FaultEntry): boolean {
    const key = entry.rollKey;
    let on = this.#rolls.get(key);
    if (on === undefined) {
      on = entry.appliesTo(this.#host.seed, this.id);
      this.#rolls.set(key, on);
    }
    return on;
  }

  #isOn(entry: FaultEntry): boolean {
    return this.#host.isCurrent(entry) && entry.active && this.#enabled(entry);
  }

  #markApplied(entry: FaultEntry, flow: Flow | undefined): void {
    const key = `${entry.rollKey}:${flow ?? "link"}`;
    if (this.#applied.has(key)) return;
    this.#applied.add(key);
    this.#host.faultApplied(entry, this, flow);
  }

  #stagesFor(flow: Flow): Stage[] {
    const stages: Stage[] = [];
    for (const entry of this.#host.activeFaults()) {
      const f = entry.effective;
      if (!isStreamFault(f) || !actsOn(f.direction, flow) || !this.#enabled(entry)) continue;
      const key = `${entry.id}:${entry.revision}:${flow}`;
      let slot = this.#stages.get(key);
      if (slot === undefined) {
        slot = {
          key,
          stage: createStage(() => (isStreamFault(entry.effective) ? entry.effective : f), this.#context(entry, flow)),
        };
        this.#stages.set(key, slot);
      }
      stages.push(slot.stage);
    }
    return stages;
  }

  #context(entry: FaultEntry, flow: Flow): StageContext {
    const clock = this.#host.clock;
    const random = createRandom(
      deriveSeed(this.#host.seed, entry.number, entry.revision, this.id, flow === "upstream" ? 1 : 2),
    );
    return {
      clock,
      flow,
      random,
      active: () => this.#isOn(entry),
      closed: () => this.#state === "closed",
      sleepUntil: (atMs) =>
        new Promise<void>((resolve) => {
          if (this.#state === "closed") return resolve();
          const wake = (): void => {
            clock.clearTimeout(timer);
            this.#timers.delete(timer);
            this.#waiters.delete(wake);
            resolve();
          };
          const timer = clock.setTimeout(wake, Math.max(0, atMs - clock.now()));
          this.#timers.add(timer);
          this.#waiters.add(wake);
        }),
      changed: () =>
        new Promise<void>((resolve) => {
          if (this.#state === "closed") resolve();
          else this.#waiters.add(resolve);
        }),
      closeLink: () => this.close(),
      applied: () => this.#markApplied(entry, flow),
    };
  }

  readonly #control: LinkControl = {
    reset: (flow) => {
      this.#pipes[flow].reset();
      this.#afterFinish();
    },
    finish: (flow) => {
      this.#pipes[flow].finish();
      this.#afterFinish();
    },
  };

  #applyLinkFaults(): void {
    for (const entry of this.#host.activeFaults()) {
      const f = entry.effective;
      if (!isLinkFault(f) || !this.#enabled(entry)) continue;
      const key = entry.rollKey;
      if (this.#actionsDone.has(key)) continue;
      this.#actionsDone.add(key);
      const run = (): void => {
        if (this.#state === "closed" || !this.#isOn(entry) || entry.rollKey !== key) return;
        this.#markApplied(entry, undefined);
        if (f.kind === "reset") performReset(f, this.#control);
        else performClose(f, this.#control);
      };
      if (f.afterMs <= 0) {
        run();
      } else {
        const timer = this.#host.clock.setTimeout(() => {
          this.#timers.delete(timer);
          run();
        }, f.afterMs);
        this.#timers.add(timer);
      }
    }
  }
}
