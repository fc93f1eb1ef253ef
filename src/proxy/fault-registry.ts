/**
 * The faults of one proxy: ids, order, on/off state (schedules switch theirs),
 * changes (JSON merge patch), and the applied counts by kind.
 */

import type { Clock } from "../errors/clock.js";
import { invalidOption } from "../errors/outlast-error.js";
import {
  FAULT_KINDS,
  normalizeFault,
  type Fault,
  type FaultKind,
  type NormalizedFault,
  type NormalizedScheduledFault,
} from "./faults/catalog.js";
import { startSchedule } from "./faults/schedule.js";
import { createRandom, deriveSeed } from "./random.js";

/** A fault as `faults()` reports it. */
export interface FaultInfo {
  readonly id: string;
  /** The fault with every default filled in. */
  readonly fault: NormalizedFault;
  /** True while the fault acts: always for plain faults, in the down windows for a schedule. */
  readonly active: boolean;
  /** How many times it (for a schedule, the fault it switches) acted on a connection. */
  readonly applied: number;
  /** Schedules only: how many down windows began. */
  readonly windows?: number;
}

/** Changes to a fault: a JSON merge patch (RFC 7396) of its fields; `null` removes a field (back to its default). */
export type FaultChanges = Readonly<Record<string, unknown>>;

export type RegistryChange = "added" | "updated" | "removed" | "activated" | "deactivated";

export class FaultEntry {
  readonly id: string;
  readonly number: number;
  spec: NormalizedFault;
  active: boolean;
  /** Counts the times the fault turned on, so per-connection draws are made again each time. */
  activation = 1;
  /** Counts updates, for the same reason. */
  revision = 0;
  applied = 0;
  windows = 0;
  stopSchedule: (() => void) | undefined;

  constructor(id: string, number: number, spec: NormalizedFault) {
    this.id = id;
    this.number = number;
    this.spec = spec;
    this.active = spec.kind !== "schedule";
  }

  /** The fault that acts: the scheduled one for a schedule. */
  get effective(): NormalizedScheduledFault {
    return this.spec.kind === "schedule" ? this.spec.fault : this.spec;
  }

  /** Identifies one activation of one revision: a per-connection probability draw holds for one key. */
  get rollKey(): string {
    return `${this.id}:${this.activation}:${this.revision}`;
  }

  /**
   * Whether this fault acts on connection `connectionId`: its probability,
   * drawn from the proxy's seed once per (activation, revision, connection),
   * so the same seed makes the same choices and an update or a new schedule
   * window draws again. The one place a per-connection roll is made.
   */
  appliesTo(seed: number, connectionId: number): boolean {
    const p = this.effective.probability;
    if (p >= 1) return true;
    if (p <= 0) return false;
    return createRandom(deriveSeed(seed, this.number, this.activation, this.revision, connectionId))() < p;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FaultRegistry {
  readonly #clock: Clock;
  readonly #seed: number;
  readonly #onChange: (entry: FaultEntry, change: RegistryChange) => void;
  readonly #entries = new Map<string, FaultEntry>();
  readonly #appliedByKind = new Map<FaultKind, number>();
  #next = 1;

  constructor(clock: Clock, seed: number, onChange: (entry: FaultEntry, change: RegistryChange) => void) {
    this.#clock = clock;
    this.#seed = seed;
    this.#onChange = onChange;
  }

  add(input: Fault): FaultEntry {
    const spec = normalizeFault(input);
    const number = this.#next++;
    const entry = new FaultEntry(`f${number}`, number, spec);
    this.#entries.set(entry.id, entry);
    this.#onChange(entry, "added");
    this.#startSchedule(entry);
    return entry;
  }

  update(id: string, changes: FaultChanges): FaultEntry {
    const entry = this.get(id);
    if (!isRecord(changes)) invalidOption("changes", "must be an object of the fields to change");
    if (changes["kind"] !== undefined && changes["kind"] !== entry.spec.kind) {
      invalidOption("kind", `a fault's kind cannot change (${entry.spec.kind}); remove it and add another`);
    }
    const spec = normalizeFault(mergePatch(entry.spec, changes));
    entry.stopSchedule?.();
    entry.stopSchedule = undefined;
    entry.spec = spec;
    entry.revision++;
    if (spec.kind === "schedule") entry.active = false;
    this.#onChange(entry, "updated");
    this.#startSchedule(entry);
    return entry;
  }

  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    entry.stopSchedule?.();
    entry.stopSchedule = undefined;
    entry.active = false;
    this.#entries.delete(id);
    this.#onChange(entry, "removed");
    return true;
  }

  get(id: string): FaultEntry {
    const entry = this.#entries.get(id);
    if (entry === undefined) invalidOption("id", `no fault with id ${JSON.stringify(id)}; faults() lists them`);
    return entry;
  }

  has(entry: FaultEntry): boolean {
    return this.#entries.get(entry.id) === entry;
  }

  /** Every fault, in the order added (which is the order they act in). */
  list(): FaultEntry[] {
    return [...this.#entries.values()];
  }

  active(): FaultEntry[] {
    return this.list().filter((e) => e.active);
  }

  info(entry: FaultEntry): FaultInfo {
    const info = { id: entry.id, fault: entry.spec, active: entry.active, applied: entry.applied };
    return entry.spec.kind === "schedule" ? { ...info, windows: entry.windows } : info;
  }

  /** Counts one application of `entry`'s acting fault on a connection. */
  recordApplied(entry: FaultEntry): void {
    entry.applied++;
    this.#count(entry.effective.kind);
  }

  appliedByKind(): Record<FaultKind, number> {
    const out = {} as Record<FaultKind, number>;
    for (const kind of FAULT_KINDS) out[kind] = this.#appliedByKind.get(kind) ?? 0;
    return out;
  }

  /** Stops every schedule's timer. */
  close(): void {
    for (const entry of this.#entries.values()) {
      entry.stopSchedule?.();
      entry.stopSchedule = undefined;
    }
  }

  #count(kind: FaultKind): void {
    this.#appliedByKind.set(kind, (this.#appliedByKind.get(kind) ?? 0) + 1);
  }

  #startSchedule(entry: FaultEntry): void {
    const spec = entry.spec;
    if (spec.kind !== "schedule") return;
    const random = createRandom(deriveSeed(this.#seed, entry.number, entry.revision, 0x5c4ed));
    entry.stopSchedule = startSchedule(spec, this.#clock, random, (down) => {
      if (!this.has(entry) || entry.active === down) return;
      entry.active = down;
      if (down) {
        entry.activation++;
        entry.windows++;
        this.#count("schedule");
      }
      this.#onChange(entry, down ? "activated" : "deactivated");
    });
  }
}
